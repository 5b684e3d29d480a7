// Hypercore: a signed append-only log. Owns one core's storage folder:
//   header   key, key pair, manifest (written once)
//   state    two checksummed slots; the newest valid one is the truth (state-log.ts)
//   tree     Merkle nodes (merkle-tree.ts), data  block bytes at byte offsets
//   bitfield which blocks a sparse reader holds
//   dropped  which blocks a writer gave back to the disk (clear()); made by the first clear
//   checksums CRC-32 and length per block, recorded from bytes checked
//            against the tree: a first read that matches skips hashing (checksums.ts)
// An append writes data and tree nodes first and the state slot last, and
// resolves only after that, so a kill at any moment reopens at the length of
// the last append that resolved. Replication (replication/) asks this class
// for proofs and hands it the proofs peers send; nothing is stored before it
// verifies them. Nothing read back from our own files is returned or served
// before it is checked against the tree either (local-verifier.ts): a damaged
// block emits 'corrupt' (a STORAGE_CORRUPT naming the file and the block) and
// fails with it on a writer; a replica drops it and fetches it again.
// Checksum entries are written after the bytes they describe (an append's
// after its state commit), and cut off before a truncation commits.
//
// clear() drops held blocks and punches their bytes out of the data file, so
// the disk gets the space back (gc of old versions, eviction from a reader's
// cache). The claim goes first, in memory and then synced to disk, and the
// bytes after: a kill at any moment leaves no block claimed that is not held.
// A dropped block is like one never fetched: a read asks peers for it.
// A filesystem frees only whole pages, so a punch also takes the pages it
// shares with neighbours that are no longer held (see pageHoles()).
import { EventEmitter } from 'node:events'
import { type KeyPair, keyPair as makeKeyPair, discoveryKey as makeDiscoveryKey, leafHash } from '../crypto/index.js'
import {
  encode, decode, DecodeError, coreHeader, type CoreHeader,
  manifest as manifestCodec, type Manifest, HYPERCORE_PROTOCOL
} from '../codec/index.js'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import { type Storage, type StorageFile, type StorageOption, toStorage } from './storage.js'
import { MerkleTree, type Proof, type ProofRequest } from './merkle-tree.js'
import { Bitfield } from './bitfield.js'
import { LocalVerifier, Damage, type ClimbContext } from './local-verifier.js'
import { Checksums } from './checksums.js'
import { StateLog } from './state-log.js'
import { Mutex } from './mutex.js'
import { type CoreIdentity, defaultManifest, keyFromManifest, signTree, verifyTree } from './signer.js'
import type { TreeNode } from './tree-node.js'
import * as flat from './flat-tree.js'
import { Replicator } from '../replication/replicator.js'
import type { Extension, ExtensionHandlers } from '../replication/extensions.js'
import { protocolStream, type ProtocolStreamOptions } from '../net/protocol-stream.js'
import type { Duplex } from 'node:stream'
import type { MuxLike } from '../replication/types.js'

export interface HypercoreOptions {
  keyPair?: KeyPair
  manifest?: Manifest
  compat?: boolean
  createIfMissing?: boolean
  requestTimeout?: number // ms before a request to one peer is retried elsewhere
}

export interface GetOptions {
  wait?: boolean
  timeout?: number
  signal?: AbortSignal
}

export interface CoreInfo {
  key: Buffer
  discoveryKey: Buffer
  length: number
  contiguousLength: number
  byteLength: number
  fork: number
  writable: boolean
}

type Waiter = { resolve: (b: Buffer) => void, reject: (e: Error) => void }

export interface ClearResult {
  blocks: number // held blocks dropped
  bytes: number // their bytes
  punched: boolean // false: this filesystem keeps the bytes (no hole punching)
}

// Who wants to know which blocks are read, stored and dropped (a reader's
// cache). Called synchronously on the read path: it must be cheap.
export interface BlockObserver {
  onread (core: Hypercore, from: number, to: number): void
  onstore (core: Hypercore, index: number, bytes: number): void
  ondrop (core: Hypercore, from: number, to: number): void
}

export interface VerifyReport {
  checked: number // held blocks read and hashed
  corrupt: Array<{ index: number, error: HyperfsError }>
}

const VERIFY_YIELD = 256 // blocks a full check reads between turns of the event loop
// the unit in which filesystems allocate (ext4, xfs, btrfs: 4 KiB): a hole
// gives a page back only when it covers all of it
const DISK_PAGE = 4096

export class Hypercore extends EventEmitter {
  readonly storage: Storage
  key: Buffer | null
  discoveryKey: Buffer | null = null
  keyPair: KeyPair | null
  manifest: Manifest | null = null
  closed = false
  replicator: Replicator

  private opts: HypercoreOptions
  private opening: Promise<void> | null = null
  private files: { header: StorageFile, state: StorageFile, tree: StorageFile, data: StorageFile, bitfield: StorageFile, checksums: StorageFile } | null = null
  private sums: Checksums | null = null
  private _tree: MerkleTree | null = null
  private bitfield = new Bitfield()
  // a writer's blocks given back to the disk, and their file (opened by the first clear)
  private dropped: Bitfield | null = null
  private droppedFile: StorageFile | null = null
  // blocks whose bytes clear() is punching out: a block fetched meanwhile waits for it
  private punching: { start: number, end: number, done: Promise<void> } | null = null
  // blocks from peers whose bytes are being written and not yet marked held
  // (index -> writes): a punch over a neighbour's page must not take them
  private storing = new Map<number, number>()
  observer: BlockObserver | null = null
  private verifier: LocalVerifier | null = null
  // the proven start of the block after the last zero-copy read, so a
  // sequential reader does not walk the tree for each read
  private nextRead = { block: -1, offset: 0 }
  private stateLog: StateLog | null = null
  private writers = new Mutex() // append, truncate and upgrades take turns
  private waiters = new Map<number, Set<Waiter>>()
  private _contiguous = 0

  constructor (storage: StorageOption, key?: Buffer | string | null | HypercoreOptions, opts: HypercoreOptions = {}) {
    super()
    if (key && typeof key === 'object' && !Buffer.isBuffer(key)) { opts = key as HypercoreOptions; key = null }
    this.storage = toStorage(storage)
    this.key = typeof key === 'string' ? Buffer.from(key, 'hex') : (key as Buffer | null | undefined) ?? null
    if (this.key && this.key.byteLength !== 32) throw HyperfsError.BAD_ARGUMENT('a core key is 32 bytes')
    if (this.key) this.discoveryKey = makeDiscoveryKey(this.key)
    this.keyPair = opts.keyPair ?? null
    this.opts = opts
    this.replicator = new Replicator(this, { requestTimeout: opts.requestTimeout })
  }

  // ---- state ----

  get tree (): MerkleTree {
    if (!this._tree) throw HyperfsError.SESSION_CLOSED('core is not open')
    return this._tree
  }

  get length (): number { return this._tree ? this._tree.length : 0 }
  get byteLength (): number { return this._tree ? this._tree.byteLength : 0 }
  get fork (): number { return this._tree ? this._tree.fork : 0 }
  get signature (): Buffer | null { return this._tree ? this._tree.signature : null }
  get contiguousLength (): number { return Math.min(this._contiguous, this.length) }
  get writable (): boolean { return this.keyPair !== null && this.keyPair.secretKey !== null && !this.closed }
  get opened (): boolean { return this._tree !== null }
  // blocks read from our files and hashed against the tree since open (a
  // first read that matched its checksum entry is not hashed): for tests
  get localHashes (): number { return this.verifier?.hashes ?? 0 }
  // parent nodes hashed again since open to prove what local reads read: for tests
  get localParentHashes (): number { return this.verifier?.parentHashes ?? 0 }
  get identity (): CoreIdentity { return { key: this.key!, manifest: this.manifest } }

  // ---- open / close ----

  ready (): Promise<void> {
    if (!this.opening) this.opening = this.open()
    return this.opening
  }

  private async open (): Promise<void> {
    const state = await this.storage.open('state', { lock: true })
    try {
      const [header, tree, data, bitfield, checksums] = await Promise.all(
        ['header', 'tree', 'data', 'bitfield', 'checksums'].map((n) => this.storage.open(n)))
      this.files = { header, state, tree, data, bitfield, checksums }
      await this.loadOrCreate()
    } catch (err) {
      await this.closeFiles()
      throw err
    }
  }

  private async loadOrCreate (): Promise<void> {
    const f = this.files!
    const [headerSize, stateSize] = await Promise.all([f.header.size(), f.state.size()])
    let header: CoreHeader | null = null
    if (headerSize > 0) {
      try {
        header = decode(coreHeader, await f.header.read(0, headerSize), true)
      } catch (err) {
        // a header torn while the core was being created: nothing was acknowledged yet
        if (!(err instanceof DecodeError) || stateSize > 0) throw corrupt(f.header, (err as Error).message)
      }
    }

    if (!header) {
      if (this.opts.createIfMissing === false && !this.key) throw HyperfsError.STORAGE_EMPTY(`${f.header.name}: no core here`)
      header = this.createHeader()
      const buf = encode(coreHeader, header)
      await f.header.write(0, buf)
      if (headerSize > buf.byteLength) await f.header.truncate(buf.byteLength)
    }

    if (this.key && !this.key.equals(header.key)) {
      throw HyperfsError.BAD_ARGUMENT(`${f.header.name}: this folder holds core ${header.key.toString('hex')}, not ${this.key.toString('hex')}`)
    }
    this.key = header.key
    this.discoveryKey = makeDiscoveryKey(this.key)
    if (header.manifest) {
      try {
        this.manifest = decode(manifestCodec, header.manifest)
      } catch (err) {
        throw corrupt(f.header, 'bad manifest: ' + (err as Error).message)
      }
      if (!keyFromManifest(this.manifest).equals(this.key)) throw corrupt(f.header, 'manifest does not hash to the key')
    }
    if (header.secretKey) this.keyPair = { publicKey: header.publicKey, secretKey: header.secretKey }
    else if (this.keyPair && !this.keyPair.publicKey.equals(header.publicKey)) this.keyPair = null

    const { log, state: st } = await StateLog.open(f.state)
    this.stateLog = log
    const tree = new MerkleTree(f.tree)
    try {
      await tree.load(st.length, st.fork, st.length > 0 ? st.signature : null)
    } catch (err: any) {
      throw isHyperfsError(err, 'STORAGE_CORRUPT') ? err : corrupt(f.tree, err.message)
    }
    if (tree.byteLength !== st.byteLength) throw corrupt(f.tree, `roots hold ${tree.byteLength} bytes, state says ${st.byteLength}`)
    if (st.length > 0 && !verifyTree(this.identity, st.signature, tree.hash(), st.length, st.fork)) {
      throw corrupt(f.tree, 'the stored signature does not match the tree')
    }

    if (header.secretKey) {
      const dataSize = await f.data.size()
      if (dataSize < st.byteLength) throw corrupt(f.data, `holds ${dataSize} bytes, the core has ${st.byteLength}`)
      this.bitfield.setRange(0, st.length, true)
      await this.loadDropped(st.length)
    } else {
      const size = await f.bitfield.size()
      if (size > 0) this.bitfield = Bitfield.fromBuffer(await f.bitfield.read(0, size))
    }
    this._tree = tree
    this.sums = new Checksums(f.checksums)
    this.verifier = new LocalVerifier(tree, f.data, this.sums, (i) => this.bitfield.get(i))
    this._contiguous = this.bitfield.firstUnset(0)
  }

  // A writer holds every block of its core except those it dropped. Bits at
  // or past the length are left from a truncation that a kill interrupted
  // before it cleared them: they are cleared before any append can reuse them.
  private async loadDropped (length: number): Promise<void> {
    if (this.storage.exists && !(await this.storage.exists('dropped'))) return
    const file = await this.storage.open('dropped')
    this.droppedFile = file
    const size = await file.size()
    const dropped = size > 0 ? Bitfield.fromBuffer(await file.read(0, size)) : new Bitfield()
    let stale = false
    for (const [s, e] of [...dropped.runs(length)]) { dropped.setRange(s, e, false); stale = true }
    if (stale) await this.flushDropped(dropped, file)
    dropped.takeDirty()
    for (const [s, e] of dropped.runs(0, length)) this.bitfield.setRange(s, e, false)
    this.dropped = dropped
  }

  private async flushDropped (dropped: Bitfield, file: StorageFile): Promise<void> {
    const pages = dropped.takeDirty()
    await Promise.all(pages.map((p) => file.write(p.offset, p.data)))
  }

  private createHeader (): CoreHeader {
    const o = this.opts
    if (this.key && !this.keyPair) {
      // a reader: until a peer sends a manifest, assume the compat form
      return { key: this.key, publicKey: this.key, secretKey: null, manifest: o.manifest ? encode(manifestCodec, o.manifest) : null, compat: false }
    }
    const kp = this.keyPair ?? makeKeyPair()
    const compat = o.compat === true || (this.key !== null && this.key.equals(kp.publicKey))
    const m = compat ? null : (o.manifest ?? defaultManifest(kp.publicKey))
    const key = m ? keyFromManifest(m) : kp.publicKey
    if (this.key && !this.key.equals(key)) throw HyperfsError.BAD_ARGUMENT('the key pair does not belong to this key')
    this.keyPair = kp
    return { key, publicKey: kp.publicKey, secretKey: kp.secretKey, manifest: m ? encode(manifestCodec, m) : null, compat }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    try { await this.opening } catch (err) { safetyCatch(err) }
    await this.writers.run(async () => {}).catch(safetyCatch)
    const err = HyperfsError.SESSION_CLOSED('core was closed')
    for (const set of this.waiters.values()) for (const w of set) w.reject(err)
    this.waiters.clear()
    this.replicator.close()
    await this.flushBitfield().catch(safetyCatch)
    if (this.sums) await this.sums.flush().catch(safetyCatch)
    await this.closeFiles()
    this.emit('close')
  }

  private async closeFiles (): Promise<void> {
    const dropped = this.droppedFile
    this.droppedFile = null
    if (dropped) await dropped.close()
    if (!this.files) return
    const f = this.files
    this.files = null
    await Promise.all(Object.values(f).map((x) => x.close()))
  }

  private assertOpen (): void {
    if (this.closed) throw HyperfsError.SESSION_CLOSED('core is closed')
  }

  // ---- writing ----

  async append (blocks: Uint8Array | string | Array<Uint8Array | string>): Promise<{ length: number, byteLength: number }> {
    await this.ready()
    this.assertOpen()
    if (!this.writable) throw HyperfsError.SESSION_NOT_WRITABLE('this core has no secret key here')
    const list = (Array.isArray(blocks) ? blocks : [blocks]).map(toBuffer)
    return this.writers.run(async () => {
      this.assertOpen()
      const tree = this.tree
      if (list.length === 0) return { length: tree.length, byteLength: tree.byteLength }
      const dataWritten = list.length === 1 ? this.files!.data.write(tree.byteLength, list[0]) : this.files!.data.writev(tree.byteLength, list)
      const batch = tree.batch(list)
      batch.signature = signTree(this.identity, this.keyPair!, tree.hash(batch.roots), batch.length, batch.fork)
      await Promise.all([dataWritten, tree.putNodes(batch.nodes, batch.offsets)])
      await this.stateLog!.commit({ fork: batch.fork, length: batch.length, byteLength: batch.byteLength, signature: batch.signature })
      const from = tree.length
      // the bytes just hashed into the tree, now on disk and committed
      this.sums!.recordAll(from, list)
      tree.commit(batch)
      this.verifier!.computed(batch.nodes)
      this.bitfield.setRange(from, batch.length, true)
      this.onblocks(from, batch.length, list)
      this.emit('append')
      this.replicator.onLocalUpdate()
      return { length: batch.length, byteLength: batch.byteLength }
    })
  }

  async truncate (newLength: number, fork?: number): Promise<void> {
    await this.ready()
    this.assertOpen()
    if (!this.writable) throw HyperfsError.SESSION_NOT_WRITABLE('this core has no secret key here')
    return this.writers.run(async () => {
      const tree = this.tree
      if (!Number.isSafeInteger(newLength) || newLength < 0 || newLength > tree.length) throw HyperfsError.BAD_ARGUMENT(`cannot truncate to ${newLength}`)
      const nextFork = fork ?? tree.fork + 1
      const roots = await Promise.all(flat.fullRoots(2 * newLength).map((i) => tree.getNodeOrError(i)))
      const byteLength = roots.reduce((s, r) => s + r.size, 0)
      const signature = signTree(this.identity, this.keyPair!, tree.hash(roots), newLength, nextFork)
      // blocks past the new length will be new blocks: their entries go
      // first, so none survives to vouch for old bytes left where new ones failed to land
      await this.sums!.truncate(newLength)
      await this.sums!.sync()
      await this.stateLog!.commit({ fork: nextFork, length: newLength, byteLength, signature })
      const oldLength = tree.length
      tree.commit({ nodes: [], roots, length: newLength, byteLength, fork: nextFork, signature })
      this.bitfield.setRange(newLength, oldLength, false)
      if (this.dropped && this.droppedFile) {
        // blocks appended past the new length are new blocks, held
        this.dropped.setRange(newLength, oldLength, false)
        await this.flushDropped(this.dropped, this.droppedFile)
      }
      this.verifier!.reset()
      this.nextRead.block = -1
      this._contiguous = Math.min(this._contiguous, newLength)
      await tree.clear(newLength, oldLength)
      await this.files!.data.truncate(byteLength)
      this.emit('truncate', newLength, nextFork)
      this.replicator.onLocalUpdate()
    })
  }

  // ---- reading ----

  has (index: number): boolean {
    return this.bitfield.get(index)
  }

  async get (index: number, opts: GetOptions = {}): Promise<Buffer | null> {
    await this.ready()
    this.assertOpen()
    if (!Number.isSafeInteger(index) || index < 0) throw HyperfsError.BAD_ARGUMENT(`bad block index ${index}`)
    if (this.bitfield.get(index)) {
      const block = await this.readLocal(index)
      if (block) {
        this.observer?.onread(this, index, index + 1)
        return block
      }
    }
    if (opts.wait === false) return null
    return this.waitFor(index, opts)
  }

  // Block `index` from our files, checked against the tree unless it was
  // since open (with `hash`: hashed against it, not only matched with its
  // checksum entry). Damaged: STORAGE_CORRUPT on a writer, null on a
  // replica, which dropped it (see damaged()).
  private async readLocal (index: number, hash = false): Promise<Buffer | null> {
    const f = this.files!
    const v = this.verifier!
    const known = hash ? v.hashed(index) : v.has(index)
    // the nodes of this block's window of the tree in one read of the tree
    // file, not a read per node of its climb (a listing reads blocks out of
    // order, and mostly blocks near each other)
    if (!known) this.tree.readAhead(2 * index, 2 * index)
    const leaf = (known ? this.tree.nodeSync(2 * index) : v.leaf(index)) ?? this.missingLeaf(index)
    if (leaf instanceof Damage) return this.damaged(index, leaf)
    let data: Buffer
    try {
      data = await f.data.read(this.tree.byteOffsetSync(2 * index), leaf.size)
    } catch (err) {
      if (isHyperfsError(err, 'INVALID_OPERATION')) return this.damaged(index, new Damage(f.tree, `block ${index}: ${err.message}`, []))
      if (isHyperfsError(err, 'STORAGE_CORRUPT')) return this.damaged(index, new Damage(f.data, `block ${index}: ${err.message}`, []))
      throw err
    }
    if (!known) {
      const bad = v.check(index, leaf, data, hash)
      if (bad) return this.damaged(index, bad)
    }
    return data
  }

  // a held block whose leaf is gone from the tree file
  private missingLeaf (index: number): Damage {
    const d = this.verifier!.leaf(index)
    return d instanceof Damage ? d : new Damage(this.files!.tree, `the leaf of block ${index} is unreadable`, [])
  }

  private get hasSecretKey (): boolean {
    return this.keyPair !== null && this.keyPair.secretKey !== null
  }

  // Reports a damaged local block. A writer has nowhere to get it again:
  // STORAGE_CORRUPT (EIO through a mount). A replica forgets it (and any tree
  // nodes on its path that can no longer anchor a proof), stops offering it,
  // and returns null: the caller fetches it again from a peer.
  private damaged (index: number, d: Damage): null {
    const err = HyperfsError.STORAGE_CORRUPT(`${d.file.name}: ${d.message}`)
    this.emit('corrupt', err, index)
    if (this.hasSecretKey || this.closed) throw err
    this.bitfield.set(index, false)
    this.verifier!.forget(index)
    if (index < this._contiguous) this._contiguous = index
    this.nextRead.block = -1
    this.scheduleBitfieldFlush()
    this.observer?.ondrop(this, index, index + 1)
    if (d.untrusted.length) this.tree.forget(d.untrusted).catch((e) => this.emit('corrupt', e, index))
    return null
  }

  private waitFor (index: number, opts: GetOptions): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let set = this.waiters.get(index)
      if (!set) { set = new Set(); this.waiters.set(index, set) }
      let timer: NodeJS.Timeout | null = null
      let settled = false
      // every waiter holds one want on the block, and gives it back once
      const done = (): boolean => {
        if (settled) return false
        settled = true
        set!.delete(w)
        this.replicator.unwant(index)
        if (set!.size === 0) this.waiters.delete(index)
        if (timer) clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onabort)
        return true
      }
      const w: Waiter = {
        resolve: (b) => { if (done()) resolve(b) },
        reject: (e) => { if (done()) reject(e) }
      }
      const onabort = () => w.reject(HyperfsError.REQUEST_CANCELLED(`get(${index}) was aborted`))
      if (opts.signal?.aborted) {
        if (set.size === 0) this.waiters.delete(index)
        return reject(HyperfsError.REQUEST_CANCELLED(`get(${index}) was aborted`))
      }
      opts.signal?.addEventListener('abort', onabort, { once: true })
      if (opts.timeout && opts.timeout > 0) {
        // a peer that sent bad data for the block is named, not hidden behind a timeout
        timer = setTimeout(() => w.reject(this.replicator.failure(index) ?? HyperfsError.REQUEST_TIMEOUT(`block ${index} did not arrive within ${opts.timeout} ms`)), opts.timeout)
      }
      set.add(w)
      this.replicator.want(index)
    })
  }

  // Every get() waiting on a peer fails with `err` (replication could not
  // store what arrived).
  rejectWaiters (err: Error): void {
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.reject(err)
  }

  private onblocks (from: number, to: number, values?: Buffer[]): void {
    if (from === this._contiguous) this._contiguous = this.bitfield.firstUnset(from)
    if (this.waiters.size === 0) return
    for (let i = from; i < to; i++) {
      const set = this.waiters.get(i)
      if (!set) continue
      const value = values?.[i - from]
      for (const w of [...set]) {
        if (value) w.resolve(value)
        else {
          this.readLocal(i).then((b) => {
            if (b) w.resolve(b)
            else w.reject(HyperfsError.STORAGE_CORRUPT(`block ${i} arrived damaged on disk`))
          }, w.reject)
        }
      }
    }
  }

  // Copies bytes [byteOffset, byteOffset + length) of the core into `target`
  // when all of blocks [fromBlock, toBlock) that hold them are local, and
  // returns the count; null when any is missing (fetch them with get()).
  // Synchronous, for the zero-copy read: the bytes go from the data file
  // straight into `target`, and each block not checked since open is hashed
  // where it landed; a block cut by the edge of the range is read whole into
  // a scratch buffer once. A damaged block: STORAGE_CORRUPT on a writer; a
  // replica drops it and answers null, so the caller fetches it again.
  readBytesInto (byteOffset: number, target: Uint8Array, targetOffset: number, length: number, fromBlock: number, toBlock: number): number | null {
    if (!this.files || this.closed || fromBlock >= toBlock || toBlock > this.length || !this.hasAll(fromBlock, toBlock)) return null
    if (byteOffset + length > this.byteLength) return null
    const f = this.files
    // their leaves and the parents between them, in one read of the tree file
    this.tree.readAhead(2 * fromBlock, 2 * toBlock - 2)
    const start = this.blockStart(fromBlock)
    if (start instanceof Damage) return this.damaged(fromBlock, start)
    let end = start
    for (let i = fromBlock; i < toBlock; i++) {
      const leaf = this.tree.nodeSync(2 * i)
      if (!leaf) return this.damaged(i, this.missingLeaf(i))
      end += leaf.size
    }
    if (byteOffset < start || byteOffset + length > end) {
      // not in those blocks: a size on the way may be damaged (a check of
      // the blocks shows it), else the caller asked for the wrong blocks
      const bad = this.checkBlocks(fromBlock, toBlock, start, null)
      return bad ? this.damaged(bad.index, bad.damage) : null
    }
    const n = f.data.readInto(byteOffset, target, targetOffset, length)
    if (n < length) return this.damaged(this.blockAt(fromBlock, start, byteOffset + n), new Damage(f.data, `it ends at byte ${byteOffset + n}, inside the core`, []))
    const bad = this.checkBlocks(fromBlock, toBlock, start, { bytes: target.subarray(targetOffset, targetOffset + length), at: byteOffset })
    if (bad) return this.damaged(bad.index, bad.damage)
    this.nextRead.block = toBlock
    this.nextRead.offset = end
    this.observer?.onread(this, fromBlock, toBlock)
    return n
  }

  // Checks blocks [from, to), the first starting at byte `start`, that were
  // not checked since open: where `read` holds a block whole (bytes of the
  // core from `at`), in place; otherwise read whole into a scratch buffer.
  private checkBlocks (from: number, to: number, start: number, read: { bytes: Uint8Array, at: number } | null): { index: number, damage: Damage } | null {
    const v = this.verifier!
    if (v.hasAll(from, to)) return null
    const data = this.files!.data
    // none checked yet (a first read): their leaves proven in one climb
    let none = true
    for (let i = from; i < to && none; i++) none = !v.has(i)
    const run = none ? v.leaves(from, to) : null
    let off = start
    for (let i = from; i < to; i++) {
      const known = v.has(i)
      const leaf = run ? run[i - from] : ((known ? this.tree.nodeSync(2 * i) : v.leaf(i)) ?? this.missingLeaf(i))
      if (leaf instanceof Damage) return { index: i, damage: leaf }
      if (!known) {
        let bytes: Uint8Array
        if (read && off >= read.at && off + leaf.size <= read.at + read.bytes.byteLength) {
          bytes = read.bytes.subarray(off - read.at, off - read.at + leaf.size)
        } else {
          bytes = Buffer.allocUnsafe(leaf.size)
          if (data.readInto(off, bytes, 0, leaf.size) < leaf.size) return { index: i, damage: new Damage(data, `block ${i} is cut short`, []) }
        }
        const bad = v.check(i, leaf, bytes)
        if (bad) return { index: i, damage: bad }
      }
      off += leaf.size
    }
    return null
  }

  // Where block `index` starts in the data file, from nodes proven with it:
  // its path is proven first, and its own bytes are checked after the read.
  private blockStart (index: number): number | Damage {
    if (this.nextRead.block === index) return this.nextRead.offset
    const v = this.verifier!
    if (!v.has(index)) {
      const leaf = v.leaf(index)
      if (leaf instanceof Damage) return leaf
    }
    try {
      return this.tree.byteOffsetSync(2 * index)
    } catch (err) {
      if (!isHyperfsError(err, 'INVALID_OPERATION')) throw err
      return new Damage(this.files!.tree, `block ${index}: ${err.message}`, [])
    }
  }

  // the block at or after `from` (which starts at byte `start`) holding byte `at`
  private blockAt (from: number, start: number, at: number): number {
    let i = from
    for (let off = start; i < this.length - 1; i++) {
      const leaf = this.tree.nodeSync(2 * i)
      if (!leaf || off + leaf.size > at) break
      off += leaf.size
    }
    return i
  }

  // Reads and hashes every block held here, and every tree node on their
  // paths, from the files as they are now (nothing trusted from earlier
  // checks, checksum entries included; a missing or wrong one is rewritten). Damaged blocks are reported as reads report them: a replica drops
  // them, to be fetched again. Returns what it checked and what was damaged.
  async verify (opts: { signal?: AbortSignal } = {}): Promise<VerifyReport> {
    await this.ready()
    this.assertOpen()
    const f = this.files!
    const v = this.verifier!
    const tree = this.tree
    const ctx: ClimbContext = { get: (i) => tree.recordSync(i)?.node ?? null, proven: new Bitfield() }
    const report: VerifyReport = { checked: 0, corrupt: [] }
    const good: number[] = []
    const fail = (index: number, d: Damage): void => {
      try {
        this.damaged(index, d)
      } catch (err) {
        if (!isHyperfsError(err, 'STORAGE_CORRUPT')) throw err
      }
      report.corrupt.push({ index, error: HyperfsError.STORAGE_CORRUPT(`${d.file.name}: ${d.message}`) })
    }
    const runs = [...this.bitfield.runs(0, this.length)]
    for (const [s, e] of runs) {
      let offset = -1 // where block i starts, once the good block before it proved it
      for (let i = s; i < e; i++) {
        if (opts.signal?.aborted) throw HyperfsError.REQUEST_CANCELLED('verify was aborted')
        if (this.closed) throw HyperfsError.SESSION_CLOSED('core was closed')
        if (report.checked % VERIFY_YIELD === VERIFY_YIELD - 1) await new Promise((resolve) => setImmediate(resolve))
        const start = offset
        offset = -1
        if (!this.bitfield.get(i)) continue // dropped meanwhile
        report.checked++
        const leaf = v.leaf(i, ctx)
        if (leaf instanceof Damage) { fail(i, leaf); continue }
        let at: number
        let data: Buffer
        try {
          at = start >= 0 ? start : tree.byteOffsetSync(2 * i, ctx.get)
          data = await f.data.read(at, leaf.size)
        } catch (err) {
          if (!isHyperfsError(err, 'INVALID_OPERATION', 'STORAGE_CORRUPT')) throw err
          fail(i, new Damage(isHyperfsError(err, 'INVALID_OPERATION') ? f.tree : f.data, `block ${i}: ${err.message}`, []))
          continue
        }
        if (data.byteLength !== leaf.size || !leafHash(data).equals(leaf.hash)) {
          fail(i, new Damage(f.data, `block ${i} does not match its hash`, []))
          continue
        }
        good.push(i)
        // a missing or damaged checksum entry is written again
        if (this.bitfield.get(i)) this.sums!.record(i, data)
        offset = at + leaf.size
      }
    }
    v.adopt(ctx.proven, good)
    return report
  }

  async seek (bytes: number, opts: GetOptions = {}): Promise<[number, number]> {
    await this.ready()
    this.assertOpen()
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw HyperfsError.BAD_ARGUMENT(`bad byte offset ${bytes}`)
    const r = await this.tree.seek(bytes)
    if (Array.isArray(r)) return r
    if (this.replicator.peers.length === 0 && opts.wait === false) throw HyperfsError.BLOCK_NOT_AVAILABLE(`the tree nodes for byte ${bytes} are not local`)
    return this.replicator.seek(bytes, opts)
  }

  // [block, offset], or the tree node a peer must tell us about
  localSeek (bytes: number): Promise<[number, number] | { missing: number }> {
    return this.tree.seek(bytes)
  }

  async treeHash (length = this.length): Promise<Buffer> {
    await this.ready()
    if (length === this.length) return this.tree.hash()
    if (length > this.length) throw HyperfsError.BAD_ARGUMENT(`length ${length} is past the end`)
    const roots = await Promise.all(flat.fullRoots(2 * length).map((i) => this.tree.getNodeOrError(i)))
    return this.tree.hash(roots)
  }

  async info (): Promise<CoreInfo> {
    await this.ready()
    return {
      key: this.key!,
      discoveryKey: this.discoveryKey!,
      length: this.length,
      contiguousLength: this.contiguousLength,
      byteLength: this.byteLength,
      fork: this.fork,
      writable: this.writable
    }
  }

  // ---- proofs: what replication is built on ----

  async proof (req: ProofRequest): Promise<Proof> {
    await this.ready()
    this.assertOpen()
    const p = await this.tree.proof(req)
    if (req.manifest && this.manifest) p.manifest = this.manifest
    if (p.block) {
      const index = p.block.index
      if (!this.bitfield.get(index)) throw HyperfsError.BLOCK_NOT_AVAILABLE(`block ${index} is not local`)
      // hashed against the tree (a checksum match is not enough here): a
      // damaged block sent on would get us dropped as a malicious peer, and
      // a replica can fetch it again
      const value = await this.readLocal(index, true).catch((err) => {
        if (!isHyperfsError(err, 'STORAGE_CORRUPT')) throw err
        return null
      })
      if (!value) throw HyperfsError.BLOCK_NOT_AVAILABLE(`block ${index} is damaged here`)
      p.block.value = value
    }
    return p
  }

  // Verifies a proof from a peer and stores what it proves. Nothing unverified
  // is written: hashes are checked up to a stored node or a signed root first.
  async applyProof (proof: Proof): Promise<{ upgraded: boolean, block: number | null }> {
    await this.ready()
    this.assertOpen()
    // A proof below our length changes no roots: many can be applied at once.
    // Upgrades (and manifests) change the tree and take turns.
    if (!proof.upgrade && !proof.manifest) return this.applyVerified(proof)
    return this.writers.run(() => this.applyVerified(proof))
  }

  private async applyVerified (proof: Proof): Promise<{ upgraded: boolean, block: number | null }> {
    this.assertOpen()
    const tree = this.tree
    if (proof.manifest && !this.manifest) await this.adoptManifest(proof.manifest)
    if (proof.fork !== tree.fork) throw HyperfsError.INVALID_PROOF(`proof is for fork ${proof.fork}, we are on ${tree.fork}`)
    const v = await tree.verify(proof)
    const up = v.upgrade
    if (up) {
      if (!verifyTree(this.identity, up.signature, tree.hash(up.roots), up.length, up.fork)) {
        throw HyperfsError.INVALID_SIGNATURE('upgrade signature does not verify')
      }
    }
    const block = proof.block
    const fresh = block !== null && block.value !== null && !this.bitfield.get(block.index)
    const overlay = new Map<number, TreeNode>()
    for (const n of v.nodes) overlay.set(n.index, n)
    const offsets = new Map<number, number>()
    const writes: Promise<void>[] = []
    if (fresh) {
      // below our length the offset walks stored nodes only: synchronously,
      // as a local read does, instead of an await per tree level
      const offset = up ? await tree.byteOffset(2 * block!.index, overlay, up) : tree.byteOffsetSync(2 * block!.index, (i) => overlay.get(i) ?? tree.nodeSync(i))
      offsets.set(2 * block!.index, offset)
      // a hole being punched over this block would land after our write
      while (this.punching && block!.index >= this.punching.start && block!.index < this.punching.end) await this.punching.done
      this.assertOpen()
      this.storing.set(block!.index, (this.storing.get(block!.index) ?? 0) + 1)
      writes.push(this.files!.data.write(offset, block!.value!))
    }
    writes.push(tree.putNodes(v.nodes, offsets))
    try {
      await Promise.all(writes)
    } finally {
      // the bit is set below in this same turn: no punch sees the block unclaimed between
      if (fresh) this.unstore(block!.index)
    }
    if (fresh && !this.bitfield.get(block!.index)) {
      // set after the data is written, so a set bit always has its block on disk
      this.bitfield.set(block!.index, true)
      // and its entry from the bytes the proof just verified
      this.sums!.record(block!.index, block!.value!)
      // a writer fetching back a block it dropped: held again once this reaches the disk
      if (this.dropped) this.dropped.set(block!.index, false)
      this.scheduleBitfieldFlush()
      this.observer?.onstore(this, block!.index, block!.value!.byteLength)
    }
    const oldLength = tree.length
    if (up) {
      await this.stateLog!.commit({ fork: up.fork, length: up.length, byteLength: up.byteLength, signature: up.signature! })
      tree.commit(up)
    }
    if (fresh) this.onblocks(block!.index, block!.index + 1, [block!.value!])
    if (up && up.length > oldLength) this.emit('append')
    return { upgraded: up !== null, block: fresh ? block!.index : null }
  }

  private flushing: Promise<void> | null = null
  private flushQueued = false

  // Bitfield pages are written at most once per turn of the event loop, after
  // the blocks they mark: losing them in a crash only means fetching again.
  private scheduleBitfieldFlush (): void {
    if (this.flushQueued) return
    this.flushQueued = true
    setImmediate(() => { this.flushQueued = false; this.flushBitfield().catch((err) => this.emit('error', err)) })
  }

  private async flushBitfield (): Promise<void> {
    while (this.flushing) await this.flushing
    if (!this.files) return
    const pages = this.bitfield.takeDirty()
    const f = this.files
    const writes = pages.map((p) => f.bitfield.write(p.offset, p.data))
    const dropped = this.dropped && this.droppedFile ? this.flushDropped(this.dropped, this.droppedFile) : null
    if (dropped) writes.push(dropped)
    if (writes.length === 0) return
    this.flushing = Promise.all(writes).then(() => {})
    try { await this.flushing } finally { this.flushing = null }
  }

  // ---- giving space back ----

  // Drops the blocks of [start, end) held here and punches their bytes out
  // of the data file. In this order, so that a kill at any step leaves no
  // block claimed that is not held:
  //   1. in memory: the bitfield (what reads and peers see) and the set of
  //      blocks verified since open forget them; reads from here on go to peers;
  //   2. on disk, synced: the bitfield (a replica) or the dropped list (a
  //      writer, which otherwise holds every block below its length); then
  //      their checksum entries zeroed (a block fetched again brings its
  //      own, recorded after its proof);
  //   3. peers hear a range drop, so none asks us for them;
  //   4. the bytes are punched out (a block fetched meanwhile waits for it),
  //      with the pages they share with neighbours no longer held.
  // Tree nodes stay: every version still proves, lists and seeks.
  async clear (start: number, end: number): Promise<ClearResult> {
    await this.ready()
    this.assertOpen()
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0) throw HyperfsError.BAD_ARGUMENT(`cannot clear [${start}, ${end})`)
    return this.writers.run(async () => {
      this.assertOpen()
      end = Math.min(end, this.length)
      const runs = start < end ? [...this.bitfield.runs(start, end)] : []
      if (runs.length === 0) return { blocks: 0, bytes: 0, punched: true }
      const spans: Array<[number, number] | null> = []
      for (const [s, e] of runs) spans.push(await this.byteSpan(s, e))

      // 1. in memory
      let blocks = 0
      for (const [s, e] of runs) {
        this.bitfield.setRange(s, e, false)
        this.verifier!.forgetRange(s, e)
        blocks += e - s
      }
      if (runs[0][0] < this._contiguous) this._contiguous = runs[0][0]
      this.nextRead.block = -1
      let finish!: () => void
      this.punching = { start: runs[0][0], end: runs[runs.length - 1][1], done: new Promise((resolve) => { finish = resolve }) }
      try {
        // 2. on disk
        const f = this.files!
        if (this.hasSecretKey) {
          if (!this.droppedFile) this.droppedFile = await this.storage.open('dropped')
          if (!this.dropped) this.dropped = new Bitfield()
          for (const [s, e] of runs) this.dropped.setRange(s, e, true)
          await this.flushBitfield()
          await this.droppedFile.sync()
        } else {
          await this.flushBitfield()
          await f.bitfield.sync()
        }
        // No sync of its own: an entry that outlives a crash here still
        // names this block's right bytes (clear() keeps the tree), so at
        // worst it matches bytes that are still there.
        for (const [s, e] of runs) await this.sums!.zero(s, e)
        // 3. peers
        for (const [s, e] of runs) this.replicator.onLocalDrop(s, e)
        for (const [s, e] of runs) this.observer?.ondrop(this, s, e)
        // 4. the bytes
        let bytes = 0
        let punched = true
        for (const span of spans) {
          if (!span) punched = false
          else bytes += span[1] - span[0]
        }
        for (const [from, to] of await this.pageHoles(runs, spans)) {
          if (!(await f.data.punch(from, to - from))) punched = false
        }
        this.emit('clear', start, end)
        return { blocks, bytes, punched }
      } finally {
        this.punching = null
        finish()
      }
    })
  }

  // The byte ranges to punch for cleared runs: each span, grown to the page
  // boundary on either side when that page holds no byte of a block still
  // held or being written by a fetch. Their own bytes free only the pages
  // inside them; a page shared with a neighbour cleared by an earlier call
  // would otherwise stay allocated for good. A fetch of a neighbour waits
  // for the punch (this.punching is widened over them before the last check,
  // in the same turn), and one already writing keeps its page.
  private async pageHoles (runs: Array<[number, number]>, spans: Array<[number, number] | null>): Promise<Array<[number, number]>> {
    const grown: Array<{ hole: [number, number], guard: [number, number] }> = []
    for (let k = 0; k < runs.length; k++) {
      const span = spans[k]
      if (!span) continue
      const [s, e] = runs[k]
      const hole: [number, number] = [span[0], span[1]]
      const guard: [number, number] = [s, e]
      const floor = span[0] - span[0] % DISK_PAGE
      if (floor < span[0]) {
        // the last block before s that is held or arriving ends at or before the page
        let h = this.bitfield.lastSet(s)
        for (const i of this.storing.keys()) if (i < s && i > h) h = i
        const end = h < 0 ? 0 : await this.storedEnd(h)
        if (end !== null && end <= floor) { hole[0] = floor; guard[0] = h + 1 }
      }
      const ceil = span[1] % DISK_PAGE === 0 ? span[1] : span[1] - span[1] % DISK_PAGE + DISK_PAGE
      if (ceil > span[1]) {
        // the first block from e that is held or arriving starts at or after the page end
        // (past the last block nothing is held: a writer appends only after this clear)
        let n = this.bitfield.firstSet(e)
        if (n < 0 || n >= this.length) n = this.length
        for (const i of this.storing.keys()) if (i >= e && i < n) n = i
        const start = n >= this.length ? ceil : await this.storedStart(n)
        if (start !== null && start >= ceil) { hole[1] = ceil; guard[1] = n }
      }
      grown.push({ hole, guard })
    }
    // From here to the punches' start, no await: a fetch into a guarded
    // neighbour either began before (and is seen below) or waits.
    const p = this.punching!
    for (const g of grown) {
      p.start = Math.min(p.start, g.guard[0])
      p.end = Math.max(p.end, g.guard[1])
    }
    const holes: Array<[number, number]> = []
    for (let k = 0; k < grown.length; k++) {
      const { hole, guard } = grown[k]
      const [s, e] = runs[k]
      const span = spans[k]!
      // a neighbour that a fetch stored or began to store meanwhile keeps its page
      if (guard[0] < s && !this.unclaimed(guard[0], s)) hole[0] = span[0]
      if (guard[1] > e && !this.unclaimed(e, guard[1])) hole[1] = span[1]
      const last = holes[holes.length - 1]
      if (last && last[1] >= hole[0]) last[1] = Math.max(last[1], hole[1])
      else holes.push(hole)
    }
    return holes
  }

  // no block of [s, e) is held, nor being written by a fetch
  private unclaimed (s: number, e: number): boolean {
    const i = this.bitfield.firstSet(s)
    if (i >= 0 && i < e) return false
    for (const j of this.storing.keys()) if (j >= s && j < e) return false
    return true
  }

  private unstore (index: number): void {
    const n = this.storing.get(index) ?? 0
    if (n <= 1) this.storing.delete(index)
    else this.storing.set(index, n - 1)
  }

  // where block i's bytes start or end in the data file; null when a tree
  // node on the way is missing (a sparse reader): then the page is left
  private async storedStart (i: number): Promise<number | null> {
    try {
      return await this.tree.byteOffset(2 * i)
    } catch (err) {
      if (!isHyperfsError(err, 'INVALID_OPERATION')) throw err
      return null
    }
  }

  private async storedEnd (i: number): Promise<number | null> {
    const from = await this.storedStart(i)
    const node = from === null ? null : await this.tree.getNode(2 * i)
    return node ? from! + node.size : null
  }

  // Bytes [from, to) of the data file that held blocks [s, e) take, from
  // their tree nodes; null when a node is missing (the bytes are then left).
  private async byteSpan (s: number, e: number): Promise<[number, number] | null> {
    try {
      const from = await this.tree.byteOffset(2 * s)
      const last = await this.tree.getNode(2 * (e - 1))
      if (!last) return null
      const to = (e - 1 === s ? from : await this.tree.byteOffset(2 * (e - 1))) + last.size
      if (to < from || to > this.byteLength) return null
      return [from, to]
    } catch (err) {
      if (!isHyperfsError(err, 'INVALID_OPERATION')) throw err
      return null
    }
  }

  // Bytes of the blocks of [start, end) held here (each counted at its size).
  async heldBytes (start = 0, end = this.length): Promise<number> {
    await this.ready()
    end = Math.min(end, this.length)
    if (start === 0 && end === this.length && this.hasAll(0, end)) return this.byteLength
    let n = 0
    for (const [s, e] of [...this.bitfield.runs(start, end)]) {
      const span = await this.byteSpan(s, e)
      if (span) { n += span[1] - span[0]; continue }
      for (let i = s; i < e; i++) n += (await this.tree.getNode(2 * i))?.size ?? 0
    }
    return n
  }

  // Bytes this core's files take on the disk (holes not counted).
  async diskBytes (): Promise<number> {
    await this.ready()
    if (!this.files) return 0
    const all = [...Object.values(this.files), ...(this.droppedFile ? [this.droppedFile] : [])]
    const sizes = await Promise.all(all.map((f) => f.allocated()))
    return sizes.reduce((a, b) => a + b, 0)
  }

  // maximal runs [start, end) of blocks held here within [from, to)
  heldRuns (from = 0, to = this.length): Array<[number, number]> {
    return [...this.bitfield.runs(from, Math.min(to, this.length))]
  }

  // ---- replication ----

  replicate (isInitiator: boolean | Duplex, opts: ProtocolStreamOptions = {}): Duplex {
    const ps = protocolStream(isInitiator, opts)
    this.replicator.expect(ps.secret)
    ps.secret.once('close', () => this.replicator.settle(ps.secret))
    const mux = ps.mux as unknown as MuxLike
    const attach = async () => {
      await this.ready()
      if (this.closed || ps.secret.destroyed) return
      this.replicator.attach(mux)
    }
    // A remote open can arrive before our handshake promise settles, or before
    // this core is ready: claim it (the mux waits for the handler's promise).
    if (this.discoveryKey) {
      mux.pair({ protocol: HYPERCORE_PROTOCOL, id: this.discoveryKey }, attach)
    } else {
      const previous = mux.handlerFor({ protocol: HYPERCORE_PROTOCOL })
      mux.pair({ protocol: HYPERCORE_PROTOCOL }, async (id) => {
        await this.ready().catch(safetyCatch)
        if (id && this.discoveryKey?.equals(id)) return attach()
        if (previous) await previous(id)
      })
    }
    ps.secret.opened.then((ok) => { if (ok) attach().catch(safetyCatch) }, () => {})
    return ps.outer
  }

  get peers (): number {
    return this.replicator.peers.length
  }

  // A named side channel to this core's peers (replication message 9), as
  // Hypercore 11's registerExtension: messages are encoded with `encoding`
  // (default: compact-encoding buffer) and heard from every peer, connected
  // now or later. See replication/extensions.ts.
  registerExtension<T = Buffer> (name: string, handlers: ExtensionHandlers<T> = {}): Extension<T> {
    return this.replicator.extensions.register(name, handlers)
  }

  // fetches [start, end) from peers; resolves when all of it is local
  async download (range: { start?: number, end?: number, signal?: AbortSignal } = {}): Promise<void> {
    await this.ready()
    const start = range.start ?? 0
    const end = range.end ?? this.length
    if (this.hasAll(start, end)) return
    return this.replicator.download(start, end, range.signal)
  }

  // waits until no connected peer knows a longer version (bounded by `timeout`)
  async update (opts: { timeout?: number } = {}): Promise<boolean> {
    await this.ready()
    const before = this.length
    let timer: NodeJS.Timeout | null = null
    await Promise.race([
      this.replicator.updated(),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, opts.timeout ?? 10_000) })
    ])
    if (timer) clearTimeout(timer)
    return this.length > before
  }

  hasAll (start: number, end: number): boolean {
    return start >= end || this.bitfield.firstUnset(start) >= end
  }

  bitfieldWords (start: number, n: number): Uint32Array {
    return this.bitfield.words(start, n)
  }

  // can we prove an upgrade from `length` to ours? (a sparse reader may lack nodes)
  async upgradeable (length: number): Promise<boolean> {
    if (length >= this.length) return false
    try {
      await this.tree.proof({ fork: this.fork, block: null, hash: null, seek: null, upgrade: { start: length, length: this.length - length } })
      return true
    } catch {
      return false
    }
  }

  // how many nodes from tree index `index` upward we lack (what a request's
  // `nodes` says at most; proof-chain.ts may ask fewer)
  async missingNodes (index: number): Promise<number> {
    const head = 2 * this.length
    if (flat.rightSpan(index) >= head) return 0
    let n = 0
    let ite = index
    while (!flat.contains(ite, head) && !(await this.tree.hasNode(ite))) {
      n++
      ite = flat.parent(ite)
      if (n > 64) break
    }
    return n
  }

  // A reader that knew only the key trusts a manifest once it hashes to the key.
  private async adoptManifest (m: Manifest): Promise<void> {
    let key: Buffer
    try {
      key = keyFromManifest(m)
    } catch (err) {
      throw HyperfsError.INVALID_MANIFEST((err as Error).message)
    }
    if (!key.equals(this.key!)) throw HyperfsError.INVALID_MANIFEST('manifest does not hash to the core key')
    const header: CoreHeader = { key, publicKey: m.signers[0]?.publicKey ?? key, secretKey: null, manifest: encode(manifestCodec, m), compat: false }
    await this.files!.header.write(0, encode(coreHeader, header))
    this.manifest = m
  }

}

function toBuffer (b: Uint8Array | string): Buffer {
  if (typeof b === 'string') return Buffer.from(b)
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)
}

function corrupt (file: StorageFile, msg: string): HyperfsError {
  return HyperfsError.STORAGE_CORRUPT(`${file.name}: ${msg}`)
}
