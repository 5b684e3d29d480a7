// Sizes on the command line: bytes, or a number with a K, M or G suffix
// (binary: K = 1024), optionally followed by "B" or "iB" ("32M", "1.5G",
// "512KiB", "1048576").
import { HyperfsError } from '../errors.js'

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }

export function parseSize (s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*$/i.exec(String(s))
  if (!m) throw HyperfsError.BAD_ARGUMENT(`"${s}" is not a size: expected bytes, or a number with K, M or G (e.g. 32M)`)
  const n = Math.floor(Number(m[1]) * UNITS[m[2].toUpperCase()])
  if (!Number.isSafeInteger(n) || n <= 0) throw HyperfsError.BAD_ARGUMENT(`"${s}" is not a size above zero`)
  return n
}
