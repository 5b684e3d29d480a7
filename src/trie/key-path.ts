// Trie positions of keys. A key is a '/'-separated path; each component is
// hashed (BLAKE2b-256, first 16 bytes) into 32 base-16 digits, so all keys under
// a folder share the digits of the folder's components and differ after them.
//   path(key) = [namespace] ‖ digits(c1) ‖ … ‖ digits(ck) ‖ [KEY_END]
// namespace is 0 for ordinary keys and 1 for the hidden keyspace. Digits run
// 0..15 and KEY_END is 16, so no key's path is a prefix of another's.
// Two sibling names whose 128-bit hashes collide cannot both exist (the later
// one replaces the earlier in the trie, and get() reports the other as absent).
import { hash } from '../crypto/index.js'

export const KEY_END = 16
export const COMPONENT_DIGITS = 32

// The components of a key, or only its first `max` (without splitting the rest).
export function splitKey (key: string, max = Infinity): string[] {
  if (max === Infinity) return key.split('/').filter((c) => c.length > 0)
  const out: string[] = []
  for (let i = 0; i <= key.length && out.length < max;) {
    let j = key.indexOf('/', i)
    if (j === -1) j = key.length
    if (j > i) out.push(key.slice(i, j))
    i = j + 1
  }
  return out
}

export function joinKey (components: string[]): string {
  return components.join('/')
}

function pushDigits (out: number[], component: string): void {
  const h = hash(Buffer.from(component, 'utf8'))
  for (let i = 0; i < COMPONENT_DIGITS / 2; i++) {
    out.push(h[i] >> 4, h[i] & 15)
  }
}

// The digits a key and everything beneath it start with (no KEY_END).
export function prefixPath (components: string[], hidden: boolean): Uint8Array {
  const out: number[] = [hidden ? 1 : 0]
  for (const c of components) pushDigits(out, c)
  return Uint8Array.from(out)
}

export function keyPath (components: string[], hidden: boolean): Uint8Array {
  const p = prefixPath(components, hidden)
  const out = new Uint8Array(p.length + 1)
  out.set(p)
  out[p.length] = KEY_END
  return out
}

// Depth at which a key of `components` components ends (where KEY_END sits).
export function endDepth (components: number): number {
  return 1 + COMPONENT_DIGITS * components
}
