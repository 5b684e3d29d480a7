// Drive keys as users see them: printed as hyper://<z-base-32>, accepted as
// z-base-32 (52 characters) or hex (64), with or without the hyper:// prefix.
// z-base-32 alphabet "ybndrfg8ejkmcpqxot1uwisza345h769", 5 bits per
// character, most significant bit first, no padding (as hypercore-id-encoding).
import { z32 } from '../fuse/z32.js'
import { HyperfsError } from '../errors.js'

const ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769'
const KEY_BYTES = 32

export function parseKey (input: string): Buffer {
  const s = input.trim().replace(/^hyper:\/\//i, '').replace(/\/+$/, '')
  if (/^[0-9a-f]{64}$/i.test(s)) return Buffer.from(s, 'hex')
  if (s.length === 52) {
    const key = z32Decode(s.toLowerCase())
    if (key && key.byteLength === KEY_BYTES) return key
  }
  throw HyperfsError.from('BAD_KEY', `"${input}" is not a drive key: expected hyper://<52 z-base-32 characters> or 64 hex digits`)
}

export function formatKey (key: Buffer | string): string {
  return 'hyper://' + z32(typeof key === 'string' ? Buffer.from(key, 'hex') : key)
}

function z32Decode (s: string): Buffer | null {
  const out: number[] = []
  let acc = 0
  let bits = 0
  for (const ch of s) {
    const v = ALPHABET.indexOf(ch)
    if (v < 0) return null
    acc = (acc << 5) | v
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out.push((acc >>> bits) & 0xff)
    }
    acc &= (1 << bits) - 1
  }
  if (acc !== 0) return null // the leftover bits of a canonical encoding are zero
  return Buffer.from(out)
}
