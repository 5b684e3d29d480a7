// Hyperbee: a B-tree on a Hypercore, block for block compatible with the real
// hyperbee@2 (docs/hyperbee.md). Block 0 is the header; every later block is
// one put or del: its key, its value (none for a del) and the tree nodes that
// operation changed. The tree at version v (= core length) is rooted at
// levels[0] of block v-1, so every version stays readable: checkout(v).
//
// Keys point at blocks, not bytes, so a lookup reads about one node block and
// a few key blocks per level. Over a sparse replica each visited node starts
// fetching its key and child blocks at once (BlockStore.prefetchNode), and the
// `hyperbee` extension (extension.ts) asks a peer for a whole lookup or page
// in one message. Nothing here assumes a block is local.
import type { Hypercore } from '../core/hypercore.js'
import { encode, decode } from '../codec/state.js'
import { beeHeader, BEE_PROTOCOL, type BeeHeader, type BeeMetadata } from '../codec/bee-node.js'
import { HyperfsError } from '../errors.js'
import { Mutex } from '../core/mutex.js'
import { NodeCache } from '../trie/node-cache.js'
import { BlockStore, isDeletion, type BeeBlock, type ReadOptions } from './block-store.js'
import { RangeCursor, StepCursor, MAX_TREE_DEPTH, type BeeEntry, type RangeOptions } from './range.js'
import { Transaction } from './tree-writer.js'
import { BeeExtension, type ExtensionRegistrar } from './extension.js'

export type { BeeEntry } from './range.js'
export type { ReadOptions } from './block-store.js'

// How many history blocks a history walk keeps fetching ahead of the one it reads.
const HISTORY_PREFETCH = 64

export type BeeKey = Uint8Array | string

export interface BeeRange {
  gt?: BeeKey
  gte?: BeeKey
  lt?: BeeKey
  lte?: BeeKey
  reverse?: boolean
  limit?: number
}

export interface HistoryOptions extends ReadOptions {
  gt?: number
  gte?: number
  lt?: number
  lte?: number
  reverse?: boolean
  limit?: number
}

export interface HistoryEntry extends BeeEntry {
  type: 'put' | 'del'
}

export interface DiffEntry {
  left: BeeEntry | null // in this bee's version; null: not there (removed)
  right: BeeEntry | null // in the other version; null: not there (added)
}

export interface HyperbeeOptions {
  metadata?: Partial<BeeMetadata> | null // written into the header when the first write creates it
  version?: number | null // a read-only checkout at this version
  timeout?: number // default wait for a block that is not local
  cache?: NodeCache<BeeBlock>
  lock?: Mutex
  // the `hyperbee` extension: a registrar shaped like hypercore's registerExtension
  // (or an extension a checkout shares with its bee); without one, reads fetch block by block
  extension?: ExtensionRegistrar | BeeExtension | null
}

export class Hyperbee {
  readonly core: Hypercore
  readonly store: BlockStore
  private snapshot: number | null
  private cache: NodeCache<BeeBlock>
  private lock: Mutex
  private metadata: BeeMetadata | null
  private timeout: number | undefined
  readonly extension: BeeExtension | null

  constructor (core: Hypercore, opts: HyperbeeOptions = {}) {
    this.core = core
    this.cache = opts.cache ?? new NodeCache()
    this.store = new BlockStore(core, { cache: this.cache, timeout: opts.timeout })
    this.snapshot = opts.version ?? null
    this.lock = opts.lock ?? new Mutex()
    this.metadata = opts.metadata ? { contentFeed: toBuf(opts.metadata.contentFeed), userData: toBuf(opts.metadata.userData) } : null
    this.timeout = opts.timeout
    const ext = opts.extension ?? null
    this.extension = ext === null || ext instanceof BeeExtension ? ext : new BeeExtension(this, ext)
  }

  get version (): number {
    return Math.max(1, this.snapshot ?? this.core.length)
  }

  get writable (): boolean {
    return this.snapshot === null && this.core.writable
  }

  ready (): Promise<void> {
    return this.core.ready()
  }

  // A read-only view at `version` (0 reads as 1, the empty tree), sharing the block cache.
  checkout (version: number): Hyperbee {
    if (!Number.isSafeInteger(version) || version < 0) throw HyperfsError.BAD_ARGUMENT(`bad version ${version}`)
    return new Hyperbee(this.core, { version: Math.max(1, version), cache: this.cache, lock: this.lock, timeout: this.timeout, extension: this.extension })
  }

  async getHeader (opts: ReadOptions = {}): Promise<BeeHeader> {
    await this.ready()
    const block = await this.core.get(0, { timeout: opts.timeout ?? this.timeout, signal: opts.signal })
    let h: BeeHeader
    try {
      h = decode(beeHeader, block!)
    } catch (err) {
      throw HyperfsError.DECODE_ERROR('bee header: ' + (err as Error).message)
    }
    if (h.protocol !== BEE_PROTOCOL) throw HyperfsError.DECODE_ERROR(`not a hyperbee (protocol "${h.protocol.slice(0, 40)}")`)
    return h
  }

  // ---- reading ----

  async get (key: BeeKey, opts: ReadOptions = {}): Promise<BeeEntry | null> {
    await this.ready()
    const k = toBuf(key)!
    const v = this.version
    const ro = this.readOpts(opts)
    return lookup(this.store, v, k, this.extension ? this.extension.forLookup(v, k, ro) : ro)
  }

  /** @internal for the extension's server side: a lookup at any version, with the caller's options */
  lookupAt (version: number, key: Buffer, opts: ReadOptions): Promise<BeeEntry | null> {
    return lookup(this.store, version, key, opts)
  }

  // Entries in key order (or reverse) within the bounds; gt wins over gte, lt over lte.
  async * range (range: BeeRange = {}, opts: ReadOptions = {}): AsyncGenerator<BeeEntry> {
    await this.ready()
    let cursor: RangeCursor | null = null
    const ro = this.readOpts(opts)
    cursor = new RangeCursor(this.store, this.version, encodeRange(range), this.extension ? this.extension.forWalk(() => cursor, ro) : ro)
    await cursor.open()
    while (true) {
      const e = await cursor.next()
      if (!e) return
      yield e
    }
  }

  async peek (range: BeeRange = {}, opts: ReadOptions = {}): Promise<BeeEntry | null> {
    for await (const e of this.range({ ...range, limit: 1 }, opts)) return e
    return null
  }

  // The blocks from gte (default 1) to lt (default: the version), each as the
  // operation it records. Negative bounds count back from the version.
  async * history (opts: HistoryOptions = {}): AsyncGenerator<HistoryEntry> {
    await this.ready()
    const v = this.version
    const rel = (n: number) => n < 0 ? n + v : n
    let from = opts.gt !== undefined ? rel(opts.gt) + 1 : rel(opts.gte ?? 1)
    let to = opts.lte !== undefined ? rel(opts.lte) + 1 : rel(opts.lt ?? v)
    from = Math.max(1, from)
    to = Math.min(v, to)
    let limit = opts.limit ?? -1
    const ro = this.readOpts(opts)
    const step = opts.reverse === true ? -1 : 1
    let seq = step > 0 ? from : to - 1
    const inRange = (s: number) => s >= from && s < to
    while (inRange(seq) && limit !== 0) {
      for (let k = 1; k <= HISTORY_PREFETCH && inRange(seq + k * step); k++) this.store.prefetch(seq + k * step, ro)
      const b = await this.store.block(seq, ro)
      if (limit > 0) limit--
      yield { type: isDeletion(b) ? 'del' : 'put', seq: b.seq, key: b.key, value: b.value }
      seq += step
    }
  }

  // What differs between this version and `other`, in key order within the
  // range: {left: ours, right: theirs}. Subtrees both versions share (the same
  // block and level) are skipped without being read.
  async * diff (other: number, range: BeeRange = {}, opts: ReadOptions = {}): AsyncGenerator<DiffEntry> {
    await this.ready()
    const r = encodeRange({ ...range, reverse: false })
    const ro = this.readOpts(opts)
    const a = new StepCursor(this.store, this.version, r, ro)
    const b = new StepCursor(this.store, Math.max(1, Math.min(other, this.core.length)), r, ro)
    await Promise.all([a.open(), b.open()])
    const upper = r.lt ?? r.lte ?? null
    const upperIncl = !r.lt
    const beyond = (k: Buffer) => { if (!upper) return false; const c = Buffer.compare(k, upper); return c === 0 ? !upperIncl : c > 0 }
    let limit = range.limit ?? -1
    let last: Buffer | null = null
    while (limit !== 0) {
      const ha = a.head()
      const hb = b.head()
      if (!ha && !hb) return
      if (ha && hb && ha.isKey === hb.isKey && ha.seq === hb.seq && ha.offset === hb.offset) {
        a.skip(); b.skip()
        continue
      }
      if (ha && !ha.isKey && (!hb || hb.isKey)) { await a.expand(); continue }
      if (hb && !hb.isKey && (!ha || ha.isKey)) { await b.expand(); continue }
      if (ha && hb && !ha.isKey && !hb.isKey) {
        const [ba, bb] = await Promise.all([a.bound(), b.bound()])
        const c = cmpBound(ba, bb)
        if (c === 0) await Promise.all([a.expand(), b.expand()])
        else if (c < 0) await b.expand()
        else await a.expand()
        continue
      }
      // only keys at the heads now
      const [ea, eb] = await Promise.all([ha ? a.peekEntry() : null, hb ? b.peekEntry() : null])
      if (ea && beyond(ea.key)) { a.end(); continue }
      if (eb && beyond(eb.key)) { b.end(); continue }
      const c = ea && eb ? Buffer.compare(ea.key, eb.key) : ea ? -1 : 1
      const left = c <= 0 ? ea : null
      const right = c >= 0 ? eb : null
      if (left) a.skip()
      if (right) b.skip()
      if (!left && !right) continue
      const out: DiffEntry = { left, right }
      const k = (left ?? right)!.key
      if (last && Buffer.compare(k, last) <= 0) throw HyperfsError.INVALID_BEE('keys out of order in a diff')
      last = k
      if (limit > 0) limit--
      yield out
    }
  }

  // ---- writing ----

  async put (key: BeeKey, value: BeeKey | null = null): Promise<number> {
    const b = this.batch()
    await b.put(key, value)
    return b.flush()
  }

  async del (key: BeeKey): Promise<number> {
    const b = this.batch()
    await b.del(key)
    return b.flush()
  }


  // Operations that land in one append. The batch holds the write lock from
  // its first operation until flush() or close().
  batch (): BeeBatch {
    if (this.snapshot !== null) throw HyperfsError.EROFS('a checkout is read-only')
    return new BeeBatch(this)
  }

  /** @internal */
  async beginWrite (): Promise<{ release: () => void, tx: Transaction }> {
    await this.ready()
    if (!this.writable) throw HyperfsError.EROFS('this bee is not writable here')
    const release = await new Promise<() => void>((resolve) => {
      this.lock.run(() => new Promise<void>((done) => resolve(done)))
    })
    try {
      // the header is written by the first operation, as the library does (even a del of nothing)
      if (this.core.length === 0) await this.core.append(encode(beeHeader, { protocol: BEE_PROTOCOL, metadata: this.metadata }))
    } catch (err) {
      release()
      throw err
    }
    return { release, tx: new Transaction(this.store, this.core.length, { timeout: this.timeout }) }
  }

  private readOpts (opts: ReadOptions): ReadOptions {
    return { ...opts, timeout: opts.timeout ?? this.timeout }
  }
}

export class BeeBatch {
  private bee: Hyperbee
  private started: Promise<{ release: () => void, tx: Transaction }> | null = null
  private closed = false
  private failed = false

  constructor (bee: Hyperbee) {
    this.bee = bee
  }

  private async tx (): Promise<Transaction> {
    if (this.closed) throw HyperfsError.INVALID_OPERATION('this batch was flushed or closed')
    if (!this.started) this.started = this.bee.beginWrite()
    return (await this.started).tx
  }

  // An operation that fails (a block that does not arrive, a damaged tree)
  // may have left the tree in memory half changed: the batch is dropped.
  async put (key: BeeKey, value: BeeKey | null = null): Promise<void> {
    const tx = await this.tx()
    try {
      await tx.put(toBuf(key)!, toBuf(value))
    } catch (err) {
      this.failed = true
      await this.close()
      throw err
    }
  }

  async del (key: BeeKey): Promise<void> {
    const tx = await this.tx()
    try {
      await tx.del(toBuf(key)!)
    } catch (err) {
      this.failed = true
      await this.close()
      throw err
    }
  }

  // Appends every operation's block in one append; resolves with the new version.
  async flush (): Promise<number> {
    if (this.failed) throw HyperfsError.INVALID_OPERATION('an operation of this batch failed: nothing was written')
    if (this.closed || !this.started) { this.closed = true; return this.bee.version }
    this.closed = true
    const { release, tx } = await this.started
    try {
      if (tx.length > 0) await this.bee.core.append(tx.blocks())
      return this.bee.version
    } finally {
      release()
    }
  }

  // Drops the operations without writing them (the header, if this batch wrote it, stays).
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.started) (await this.started.catch(() => null))?.release()
  }
}

// A B-tree lookup. Before searching a node it checks the block that stores
// the node: if that block wrote the key, it is the key's newest write.
async function lookup (store: BlockStore, version: number, key: Buffer, opts: ReadOptions): Promise<BeeEntry | null> {
  let node = await store.root(version, opts)
  for (let depth = 0; node; depth++) {
    if (depth >= MAX_TREE_DEPTH) throw HyperfsError.INVALID_BEE(`tree deeper than ${MAX_TREE_DEPTH} levels (a pointer loop?)`)
    store.prefetchNode(node, opts, 0)
    const holder = await store.block(node.seq, opts)
    if (holder.key.equals(key)) return isDeletion(holder) ? null : entry(holder)
    let s = 0
    let e = node.keys.length
    while (s < e) {
      const mid = (s + e) >> 1
      const b = await store.block(node.keys[mid], opts)
      const c = Buffer.compare(key, b.key)
      if (c === 0) return entry(b)
      if (c < 0) e = mid
      else s = mid + 1
    }
    if (node.children.length === 0) return null
    const c = node.children[s]
    node = await store.node(c.seq, c.offset, opts)
  }
  return null
}

function entry (b: BeeBlock): BeeEntry {
  return { seq: b.seq, key: b.key, value: b.value }
}

function cmpBound (a: Buffer | null, b: Buffer | null): number {
  if (!a) return b ? 1 : 0
  if (!b) return -1
  return Buffer.compare(a, b)
}

function toBuf (k: BeeKey | null | undefined): Buffer | null {
  if (k === null || k === undefined) return null
  if (typeof k === 'string') return Buffer.from(k)
  return Buffer.isBuffer(k) ? k : Buffer.from(k.buffer, k.byteOffset, k.byteLength)
}

function encodeRange (r: BeeRange): RangeOptions {
  return { gt: toBuf(r.gt), gte: toBuf(r.gte), lt: toBuf(r.lt), lte: toBuf(r.lte), reverse: r.reverse, limit: r.limit }
}
