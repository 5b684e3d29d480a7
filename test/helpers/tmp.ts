import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import { Rng } from '../codec/generators.js'

// A fresh folder removed when the test ends.
export function tmpDir (t: TestContext, prefix = 'hyperfs-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// Deterministic random numbers in [0, 1), so failures reproduce.
export function prng (seed: number): () => number {
  const r = new Rng(seed)
  return () => r.next()
}

export function randomBuffer (rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0
  return b
}
