// Reads and checks the blocks of a Hyperbee core (docs/hyperbee.md §1-2). A
// block is decoded once and cached by seq (blocks never change once appended,
// so the cache is shared by a bee and its checkouts). Every pointer a block
// holds is checked when its levels are decoded, before any is followed: key
// and child seqs lie in [1, seq] (the
// library only ever points at the same or an earlier block), and a node with
// children has exactly one more child than keys. So a malicious or damaged
// bee cannot make us wait for a block that will never exist, and a lookup
// only ever steps from a block to itself or to an earlier one.
import type { Hypercore } from '../core/hypercore.js'
import { decode } from '../codec/state.js'
import { beeNodeHead, beeIndex, type BeeLevel } from '../codec/bee-node.js'
import { ownCopy } from '../own-copy.js'
import { HyperfsError } from '../errors.js'
import { NodeCache } from '../trie/node-cache.js'

// A block's key and value are decoded at once, its tree levels when first
// walked (most blocks a listing fetches are read for their key only, and
// their levels, an old version of the tree, never are). It keeps its own copy
// of the block's bytes: not a view into the message or read that brought it.
export class BeeBlock {
  readonly seq: number
  readonly key: Buffer
  readonly value: Buffer | null
  private index: Buffer | null
  private decoded: BeeLevel[] | null = null

  constructor (seq: number, key: Buffer, value: Buffer | null, index: Buffer | BeeLevel[]) {
    this.seq = seq
    this.key = key
    this.value = value
    if (Buffer.isBuffer(index)) this.index = index
    else { this.index = null; this.decoded = index }
  }

  get levels (): BeeLevel[] {
    if (this.decoded === null) {
      this.decoded = parseLevels(this.seq, this.index!)
      this.index = null
    }
    return this.decoded
  }
}

// A B-tree node: levels[offset] of block seq.
export interface BeeTreeNode {
  seq: number
  offset: number
  keys: number[]
  children: Array<{ seq: number, offset: number }>
}

export interface ReadOptions {
  timeout?: number
  signal?: AbortSignal
  wait?: boolean // false: local blocks only, BLOCK_NOT_AVAILABLE for the others
  onwait?: (seq: number) => void // told about each block this read has to wait for
  onseq?: (seq: number) => void // told about every block this read touches
}

export class BlockStore {
  readonly core: Hypercore
  private cache: NodeCache<BeeBlock>
  private fetching = new Set<number>()
  private timeout: number | undefined

  constructor (core: Hypercore, opts: { cache?: NodeCache<BeeBlock>, timeout?: number } = {}) {
    this.core = core
    this.cache = opts.cache ?? new NodeCache()
    this.timeout = opts.timeout
  }

  cached (seq: number): BeeBlock | undefined {
    return this.cache.get(seq)
  }

  // Each caller waits with its own timeout and signal; the core shares one
  // request among all the callers waiting for a block.
  async block (seq: number, opts: ReadOptions = {}): Promise<BeeBlock> {
    if (opts.onseq) opts.onseq(seq)
    const hit = this.cache.get(seq)
    if (hit) return hit
    if (seq < 1) throw HyperfsError.INVALID_BEE('a bee pointer refers to the header block')
    if (!this.core.has(seq)) {
      if (opts.wait === false) throw HyperfsError.BLOCK_NOT_AVAILABLE(`bee block ${seq} is not local`)
      if (opts.onwait) opts.onwait(seq)
    }
    const buf = await this.core.get(seq, { timeout: opts.timeout ?? this.timeout, signal: opts.signal })
    const b = this.cache.get(seq) ?? parseBlock(seq, buf!)
    this.cache.set(seq, b)
    return b
  }

  // Starts fetching a block that is not local, without waiting for it; `then`
  // runs once it is here.
  // A local-only read prefetches nothing, and a prefetch reports no waits.
  prefetch (seq: number, opts: ReadOptions = {}, then?: (b: BeeBlock) => void): void {
    if (opts.wait === false || seq < 1 || this.cache.get(seq) || this.fetching.has(seq) || seq >= this.core.length || this.core.has(seq)) return
    this.fetching.add(seq)
    const p = this.block(seq, { timeout: opts.timeout ?? this.timeout, signal: opts.signal })
    p.then((b) => { this.fetching.delete(seq); if (then) then(b) }, () => { this.fetching.delete(seq) })
  }

  // Starts fetching the blocks that a visit of `node` will need: its key
  // blocks, and its child blocks with their key blocks in turn, so that a
  // listing over a sparse replica costs round trips per tree level, not per key.
  prefetchNode (node: BeeTreeNode, opts: ReadOptions = {}, depth = 1): void {
    if (opts.wait === false) return
    for (const k of node.keys) this.prefetch(k, opts)
    if (depth <= 0) return
    for (const c of node.children) {
      this.prefetch(c.seq, opts, (b) => {
        const l = b.levels[c.offset]
        if (l) this.prefetchNode({ seq: c.seq, offset: c.offset, keys: l.keys, children: l.children }, opts, depth - 1)
      })
    }
  }

  async key (seq: number, opts: ReadOptions = {}): Promise<Buffer> {
    return (await this.block(seq, opts)).key
  }

  async node (seq: number, offset: number, opts: ReadOptions = {}): Promise<BeeTreeNode> {
    const b = await this.block(seq, opts)
    const l = b.levels[offset]
    if (!l) throw HyperfsError.INVALID_BEE(`pointer to level ${offset} of block ${seq}, which has ${b.levels.length}`)
    return { seq, offset, keys: l.keys, children: l.children }
  }

  // The root of the tree at `version`, or null for the empty tree.
  async root (version: number, opts: ReadOptions = {}): Promise<BeeTreeNode | null> {
    if (version < 2) return null
    const b = await this.block(version - 1, opts)
    // blocks inside a batch may carry no root (docs/hyperbee.md §2.7)
    if (b.levels.length === 0) throw HyperfsError.INVALID_BEE(`block ${version - 1} holds no tree root: version ${version} is inside a batch`)
    return this.node(version - 1, 0, opts)
  }
}

export function parseBlock (seq: number, buf: Buffer): BeeBlock {
  const own = buf.buffer.byteLength === buf.byteLength ? buf : ownCopy(buf)
  let rec
  try {
    rec = decode(beeNodeHead, own)
  } catch (err) {
    throw HyperfsError.DECODE_ERROR(`bee block ${seq}: ${(err as Error).message}`)
  }
  return new BeeBlock(seq, rec.key, rec.value, rec.index)
}

function parseLevels (seq: number, bytes: Buffer): BeeLevel[] {
  let index
  try {
    index = decode(beeIndex, bytes)
  } catch (err) {
    throw HyperfsError.DECODE_ERROR(`bee block ${seq}: ${(err as Error).message}`)
  }
  for (let i = 0; i < index.length; i++) {
    const l = index[i]
    if (l.children.length !== 0 && l.children.length !== l.keys.length + 1) {
      throw HyperfsError.INVALID_BEE(`block ${seq} level ${i}: ${l.keys.length} keys and ${l.children.length} children`)
    }
    for (const k of l.keys) {
      if (k < 1 || k > seq) throw HyperfsError.INVALID_BEE(`block ${seq} level ${i}: key pointer to block ${k}`)
    }
    for (const c of l.children) {
      if (c.seq < 1 || c.seq > seq) throw HyperfsError.INVALID_BEE(`block ${seq} level ${i}: child pointer to block ${c.seq}`)
    }
  }
  return index
}

// A block with no value whose own seq is in none of its levels deletes its key
// (a put of a null value keeps its seq in the tree).
export function isDeletion (b: BeeBlock): boolean {
  if (b.value !== null) return false
  for (const l of b.levels) if (l.keys.includes(b.seq)) return false
  return true
}
