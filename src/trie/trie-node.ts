// The in-memory form of a trie node: the decoded block plus its key's trie
// path, with the sparse per-depth buckets unpacked for O(1) lookups.
// trie[depth][digit] = block index of the latest node (as of this one) whose
// path equals this node's path before `depth` and has `digit` at `depth`.
//
// A key longer than MAX_KEY_BYTES can only come from a hostile writer: each
// component costs COMPONENT_DIGITS bytes of path, so a block of 'a/a/a/…'
// would unpack to 16 times its size. Such a node keeps only the path of its
// first MAX_KEY_COMPONENTS components (enough to route any valid key past it)
// and is marked `oversize`, so that readers skip it but can still follow its
// pointers to the keys around it.
import { ownCopy } from '../own-copy.js'
import { type TrieNodeRecord, type TrieLevel, TRIE_DIGITS } from '../codec/trie-node.js'
import { keyPath, prefixPath, splitKey } from './key-path.js'

// Bytes of the longest key (a drive path's PATH_MAX) and so the most components
// a valid key can have (one byte each, with a '/' between).
export const MAX_KEY_BYTES = 4096
export const MAX_KEY_COMPONENTS = MAX_KEY_BYTES / 2

export type Bucket = Array<number | undefined>

export interface TrieNode {
  seq: number
  key: string
  hidden: boolean
  value: Buffer | null
  path: Uint8Array
  trie: Array<Bucket | undefined>
  oversize: boolean // key over MAX_KEY_BYTES: path cut short, never a result
}

// About how many bytes of memory a decoded node holds (for the cache's bound).
export function nodeBytes (n: TrieNode): number {
  let buckets = 0
  for (const b of n.trie) if (b) buckets++
  return 200 + 2 * n.key.length + n.path.byteLength + (n.value?.byteLength ?? 0) + buckets * (TRIE_DIGITS * 8 + 32)
}

export function oversizeKey (key: string): boolean {
  return key.length * 3 > MAX_KEY_BYTES && Buffer.byteLength(key) > MAX_KEY_BYTES
}

export function fromRecord (seq: number, r: TrieNodeRecord): TrieNode {
  const oversize = oversizeKey(r.key)
  const path = oversize ? prefixPath(splitKey(r.key, MAX_KEY_COMPONENTS + 1), r.hidden) : keyPath(splitKey(r.key), r.hidden)
  const trie: Array<Bucket | undefined> = []
  for (const l of r.levels) {
    // a level past the node's path is never read (a writer never makes one)
    if (l.depth >= path.length) break
    const b: Bucket = new Array(TRIE_DIGITS)
    let k = 0
    for (let d = 0; d < TRIE_DIGITS; d++) if (l.bitmap & (1 << d)) b[d] = l.seqs[k++]
    trie[l.depth] = b
  }
  // a copy of its own: a view would keep the whole block (and the pool slab
  // it was read into) alive for as long as the node sits in the cache
  const value = r.value === null ? null : ownCopy(r.value)
  return { seq, key: r.key, hidden: r.hidden, value, path, trie, oversize }
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
