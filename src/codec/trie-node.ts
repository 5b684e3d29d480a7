// One trie node = one block of the trie's core (blocks 1..n; block 0 is the header).
//   uint flags (1 hidden, 2 has value) ‖ string key ‖ [buffer value] ‖
//   uint levelCount ‖ levelCount × (uint depthDelta ‖ uint bitmap ‖ popcount(bitmap) × uint seq)
// A level is one trie depth at which the node records other branches: bit v of
// the bitmap says "the latest node whose path matches mine up to this depth and
// then takes digit v is block seq". Digits are 0..16 (16 ends a key), so a
// bitmap has at most 17 bits. Depths are stored as deltas and strictly rise
// (the first delta is the depth itself, later ones are depth - previous - 1).
// A node without a value is a deletion marker (tombstone) for its key.
import { DecodeError } from './decode-error.js'
import { type Codec } from './state.js'
import { uint, string, buffer } from './primitives.js'

export const TRIE_DIGITS = 17
const MAX_BITMAP = (1 << TRIE_DIGITS) - 1
const MAX_DEPTH = 1 << 20

export interface TrieLevel {
  depth: number
  bitmap: number
  seqs: number[] // one per set bit, lowest digit first
}

export interface TrieNodeRecord {
  key: string
  hidden: boolean
  value: Uint8Array | null
  levels: TrieLevel[]
}

function popcount (n: number): number {
  let c = 0
  while (n) { n &= n - 1; c++ }
  return c
}

export const trieNode: Codec<TrieNodeRecord> = {
  preencode (s, n) {
    uint.preencode(s, (n.hidden ? 1 : 0) | (n.value ? 2 : 0))
    string.preencode(s, n.key)
    if (n.value) buffer.preencode(s, n.value)
    uint.preencode(s, n.levels.length)
    let prev = -1
    for (const l of n.levels) {
      uint.preencode(s, l.depth - prev - 1)
      uint.preencode(s, l.bitmap)
      for (const seq of l.seqs) uint.preencode(s, seq)
      prev = l.depth
    }
  },
  encode (s, n) {
    uint.encode(s, (n.hidden ? 1 : 0) | (n.value ? 2 : 0))
    string.encode(s, n.key)
    if (n.value) buffer.encode(s, n.value)
    uint.encode(s, n.levels.length)
    let prev = -1
    for (const l of n.levels) {
      if (l.depth <= prev || l.seqs.length !== popcount(l.bitmap) || l.bitmap === 0) throw new TypeError('malformed trie level')
      uint.encode(s, l.depth - prev - 1)
      uint.encode(s, l.bitmap)
      for (const seq of l.seqs) uint.encode(s, seq)
      prev = l.depth
    }
  },
  decode (s) {
    const flags = uint.decode(s)
    if (flags > 3) throw new DecodeError(`unknown trie node flags ${flags}`)
    const key = string.decode(s)
    const value = flags & 2 ? buffer.decode(s) : null
    const count = uint.decode(s)
    if (count > s.end - s.start) throw new DecodeError('out of bounds')
    const levels: TrieLevel[] = []
    let prev = -1
    for (let i = 0; i < count; i++) {
      const depth = prev + 1 + uint.decode(s)
      if (depth > MAX_DEPTH) throw new DecodeError(`trie depth ${depth} is over the limit`)
      const bitmap = uint.decode(s)
      if (bitmap === 0 || bitmap > MAX_BITMAP) throw new DecodeError(`bad trie bitmap ${bitmap}`)
      const n = popcount(bitmap)
      const seqs = new Array<number>(n)
      for (let j = 0; j < n; j++) seqs[j] = uint.decode(s)
      levels.push({ depth, bitmap, seqs })
      prev = depth
    }
    return { key, hidden: (flags & 1) !== 0, value, levels }
  }
}
