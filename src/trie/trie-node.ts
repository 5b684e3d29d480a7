// The in-memory form of a trie node: the decoded block plus its key's trie
// path, with the sparse per-depth buckets unpacked for O(1) lookups.
// trie[depth][digit] = block index of the latest node (as of this one) whose
// path equals this node's path before `depth` and has `digit` at `depth`.
import { type TrieNodeRecord, type TrieLevel, TRIE_DIGITS } from '../codec/trie-node.js'
import { keyPath, splitKey } from './key-path.js'

export type Bucket = Array<number | undefined>

export interface TrieNode {
  seq: number
  key: string
  hidden: boolean
  value: Buffer | null
  path: Uint8Array
  trie: Array<Bucket | undefined>
}

export function fromRecord (seq: number, r: TrieNodeRecord): TrieNode {
  const trie: Array<Bucket | undefined> = []
  for (const l of r.levels) {
    const b: Bucket = new Array(TRIE_DIGITS)
    let k = 0
    for (let d = 0; d < TRIE_DIGITS; d++) if (l.bitmap & (1 << d)) b[d] = l.seqs[k++]
    trie[l.depth] = b
  }
  // a copy: a view would keep the whole block (and the pool slab it was read
  // into) alive for as long as the node sits in the cache
  const value = r.value === null ? null : Buffer.from(r.value)
  return { seq, key: r.key, hidden: r.hidden, value, path: keyPath(splitKey(r.key), r.hidden), trie }
}

export function toRecord (n: TrieNode): TrieNodeRecord {
  const levels: TrieLevel[] = []
  for (let depth = 0; depth < n.trie.length; depth++) {
    const b = n.trie[depth]
    if (!b) continue
    let bitmap = 0
    const seqs: number[] = []
    for (let d = 0; d < TRIE_DIGITS; d++) {
      if (b[d] === undefined) continue
      bitmap |= 1 << d
      seqs.push(b[d]!)
    }
    if (bitmap) levels.push({ depth, bitmap, seqs })
  }
  return { key: n.key, hidden: n.hidden, value: n.value, levels }
}
