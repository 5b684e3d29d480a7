// Loads the real Holepunch packages (devDependencies, CommonJS) for interop
// tests and benchmarks. Never imported from src/.
import { createRequire } from 'node:module'

const require = createRequire(import.meta.url)

export function oracle<T = any> (name: string): T {
  return require(name)
}
