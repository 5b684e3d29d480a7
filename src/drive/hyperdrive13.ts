// Hyperdrive13: the drive format of hyperdrive@13, the one the live network's
// apps use (docs/hyperdrive13.md). Two cores: the db core holds a Hyperbee
// (src/bee) whose keys are "files\0" ‖ path and whose values are JSON entries
// (drive13-entry.ts); the blobs core holds file bytes as Hyperblobs does, each
// file a run of blocks named by its blob id (absolute block and byte offsets),
// or, once changed in part, a block map listing its blocks (block-map.ts).
// The blobs key comes from the header's contentFeed (compat drives) or is
// derived from the db core's manifest.
//
// Drive13Format is the format (drive-format.ts); routing through symlinks is
// RoutedDrive's. The format has no mount entries, so mount() is refused with
// EOPNOTSUPP and no path is ever routed into another drive.
//
// Folders are implicit in the format; we also keep a marker per folder we
// make or write into (drive13-entry.ts), so an empty folder survives and a
// folder keeps its mode. Where a path is both a file and a folder (a real
// writer can make that), the file wins, consistently in lookups and listings.
//
// The writer may be hostile: an entry that does not decode or whose name a
// drive cannot hold is skipped in listings (with a warning) and is a coded
// error when named; a blob past the end of the blobs core, or whose bytes the
// core does not have, is a DECODE_ERROR, never a wait for blocks that will not
// come. Nothing assumes a block is local.
import type { Hypercore } from '../core/hypercore.js'
import type { KeyPair } from '../crypto/index.js'
import type { Manifest } from '../codec/manifest.js'
import { encode, decode } from '../codec/state.js'
import { DecodeError } from '../codec/decode-error.js'
import { beeHeader, BEE_PROTOCOL } from '../codec/bee-node.js'
import { keyFromManifest } from '../core/signer.js'
import * as flat from '../core/flat-tree.js'
import { Mutex } from '../core/mutex.js'
import { Hyperbee, type BeeEntry } from '../bee/hyperbee.js'
import { coreExtension } from '../bee/extension.js'
import { HyperfsError, isHyperfsError, handled } from '../errors.js'
import { pathString, keyProblem, nameProblem } from './drive-path.js'
import { statEntry, RootStat, isDir, isLink } from './stat-entry.js'
import { ContentWriter } from './content-writer.js'
import { fetchRanges, type BlockRange } from './range-fetch.js'
import { RoutedDrive, type MountOptions } from './routed-drive.js'
import { FormatBase, type FormatState } from './format-base.js'
import type { DriveFormat, FetchFilesOptions } from './drive-format.js'
import {
  FILES_PREFIX, fileKey, markerKey, folderRange, keyPath, blobsManifest, encodeEntry, decodeEntry,
  entryStat, folderStat, withPosix, withMapSize, recordedSize, blockMapBlock, MAX_MAP_BLOCKS, MAX_MAP_ENTRIES, type BlobId, type Drive13Entry, type MapEntry
} from './drive13-entry.js'
import { checkPatch, findExtent } from './extent-map.js'
import { blockParts, patchParts, planMap, entryCount, ZERO, OLD_BYTES, type Part } from './block-map.js'
import {
  type DriveInfo, type FileReader, type Stat, type DirEntry, type ReadOptions, type WriteOptions,
  type DiffEntry, type HistoryEntry, type MountInfo, type FilePatch, S_IFREG, S_IFDIR
} from './types.js'

// Hyperblobs' block size for a put (docs/hyperdrive13.md §5)
export const BLOB_BLOCK_SIZE = 64 * 1024
// blobs blocks a read keeps in flight ahead of the one it returns
const FETCH_AHEAD = 8
// blocks under a page a block map lists before small neighbours are joined
// into one block (block-map.ts)
const SOFT_SMALL_BLOCKS = 32
// bytes written again in a patched file are cut at multiples of this in the
// file (the page size of the databases and of the kernel that write in
// place), in files of at most FINE_MAX_BYTES; bigger files are cut at
// BLOB_BLOCK_SIZE, so that their maps (every version stores its whole map)
// hold about one entry per 64 KiB
const PAGE = 4096
const FINE_MAX_BYTES = 4 * 1024 * 1024
// ms to wait for the header or the blobs core's length when the caller gave no timeout
const DEFAULT_TIMEOUT = 10_000
// bytes a read copies from local blobs at a time
const LOCAL_CHUNK = 1024 * 1024
// levels of a core's tree a descent may take (2^64 blocks is more than a core holds)
const MAX_TREE_DEPTH = 64
// the end of the files\0 keyspace
const FILES_END = Buffer.from('files\x01')

export interface Drive13Cores {
  db: Hypercore
  // Opens the blobs core: by key, with the manifest it must have (null for a
  // compat drive's, named by the header) and, for a writer, the key pair that
  // signs it (the db core's).
  blobs: (key: Buffer, opts: { manifest: Manifest | null, keyPair: KeyPair | null }) => Promise<Hypercore>
}

export interface Hyperdrive13Options extends MountOptions {
  onwarning?: (msg: string) => void // entries skipped as invalid
}

type Op = { type: 'put', key: Buffer, value: Buffer } | { type: 'del', key: Buffer }

// A file's blob as read: plain, or a block map's entries (docs/hyperdrive13.md §5),
// or a block map not read (unread: gc freed it here; see stat()).
interface Blob {
  id: BlobId
  map: MapEntry[] | null
  unread?: true
}

// What a drive and all its checkouts share.
interface DriveState extends FormatState {
  cores: Drive13Cores
  opts: Hyperdrive13Options
  bee: Hyperbee
  blobs: Hypercore | null
  blobLock: Mutex // one file's blocks at a time
}

// A hyperdrive@13 drive: what DriveStore opens for this format.
export class Hyperdrive13 extends RoutedDrive {
  constructor (cores: Drive13Cores, opts: Hyperdrive13Options = {}) {
    super(new Drive13Format(cores, opts), opts)
  }
}

export class Drive13Format extends FormatBase implements DriveFormat {
  readonly format = 'hyperdrive13' as const
  protected s: DriveState
  private bee: Hyperbee
  protected readonly checkedOut: boolean
  // the blob of each Stat this format handed out (a block map's entries are not in a Stat)
  private blobOf = new WeakMap<Stat, Blob>()
  private readonly root = new RootStat()

  constructor (cores: Drive13Cores, opts: Hyperdrive13Options = {}, shared?: { state: DriveState, version: number }) {
    super()
    if (shared) {
      this.s = shared.state
      this.bee = shared.state.bee.checkout(shared.version)
      this.checkedOut = true
      return
    }
    const bee = new Hyperbee(cores.db, { extension: coreExtension(cores.db), timeout: opts.timeout })
    this.s = { cores, opts, bee, blobs: null, loading: null, opening: null, meta: new Mutex(), blobLock: new Mutex(), warnings: 0, closed: false }
    this.bee = bee
    this.checkedOut = false
  }

  get version (): number { return this.bee.version }
  get metadata (): Hypercore { return this.s.cores.db }
  get content (): Hypercore | null { return this.s.blobs }
  // a block map's Stat needs the map, in the blobs core: a writer keeps
  // every version's (gc never frees them); a replica may lack some
  get historyIsLocal (): boolean {
    const db = this.s.cores.db
    const blobs = this.s.blobs
    if (db.contiguousLength !== db.length) return false
    return blobs === null ? db.length <= 1 : blobs.writable || blobs.contiguousLength === blobs.length
  }

  private get timeout (): number { return this.s.opts.timeout ?? DEFAULT_TIMEOUT }

  // A drive we create gets its header at once (hyperdrive writes it with the
  // first entry): a drive's first block is how a store knows its format.
  protected async open (): Promise<void> {
    const db = this.s.cores.db
    await db.ready()
    if (db.length === 0 && db.writable) {
      await db.append(encode(beeHeader, { protocol: BEE_PROTOCOL, metadata: { contentFeed: null, userData: null } }))
    }
    // a writer has its header locally; a replica loads it when first needed
    if (db.length > 0 && db.has(0)) await this.blobsCore()
  }

  // The blobs core: named by the header's contentFeed (a compat drive), or
  // derived from the db core's manifest (every hyperdrive@13 drive).
  private blobsCore (): Promise<Hypercore> {
    if (this.s.blobs) return Promise.resolve(this.s.blobs)
    return this.loadOnce(async () => {
      const db = this.s.cores.db
      const header = await this.s.bee.getHeader({ timeout: this.timeout })
      const feed = header.metadata?.contentFeed ?? null
      let key: Buffer
      let manifest: Manifest | null = null
      if (feed && feed.byteLength >= 32) {
        key = Buffer.from(feed.subarray(0, 32))
      } else {
        if (!db.manifest && !db.writable) await db.update({ timeout: this.timeout })
        manifest = db.manifest ? blobsManifest(db.manifest, db.key!) : null
        if (!manifest) throw HyperfsError.INVALID_MANIFEST('no blobs core: the header names none and the db core has no manifest to derive one from')
        key = keyFromManifest(manifest)
      }
      const blobs = await this.s.cores.blobs(key, { manifest, keyPair: manifest && db.writable ? db.keyPair : null })
      await blobs.ready()
      this.s.blobs = blobs
      return blobs
    })
  }

  async info (): Promise<DriveInfo> {
    await this.ready()
    const db = this.s.cores.db
    let blobs = this.s.blobs
    if (!blobs && db.length > 0) blobs = await this.blobsCore()
    // each held block at its own size
    const localBytes = blobs ? await blobs.heldBytes() : 0
    return {
      key: this.key,
      discoveryKey: this.discoveryKey,
      version: this.version,
      writable: this.writable,
      contentKey: blobs?.key ?? null,
      byteLength: blobs?.byteLength ?? 0,
      localBytes,
      peers: Math.max(db.peers, blobs?.peers ?? 0)
    }
  }

  checkout (version: number): Drive13Format {
    if (!Number.isSafeInteger(version) || version < 0) throw HyperfsError.EINVAL(`bad version ${version}`)
    if (version > this.s.cores.db.length) throw HyperfsError.EINVAL(`version ${version} is past the latest (${this.s.cores.db.length})`)
    return new Drive13Format(this.s.cores, this.s.opts, { state: this.s, version })
  }

  // ---- mounts: the format has none ----

  async mountAt (): Promise<{ depth: number, mount: MountInfo } | null> {
    return null
  }

  async putMount (): Promise<void> {
    throw HyperfsError.EOPNOTSUPP('a hyperdrive13 drive cannot hold mounts (hyperdrive@13 has no mount entries); mount into a hypertrie drive instead')
  }

  async delMount (comps: string[]): Promise<void> {
    if (!await this.entry(comps)) throw HyperfsError.ENOENT(pathString(comps))
    throw HyperfsError.EINVAL(`${pathString(comps)} is not a mount point`)
  }

  async * mounts (): AsyncIterable<{ path: string, mount: MountInfo }> {}

  // ---- reading entries ----

  // The entry at comps (a file or link), decoded; null when there is none.
  private async fileEntry (comps: string[]): Promise<{ seq: number, entry: Drive13Entry } | null> {
    const e = await this.bee.get(fileKey(comps))
    if (!e) return null
    try {
      return { seq: e.seq, entry: decodeEntry(e.value) }
    } catch (err) {
      if (!isHyperfsError(err, 'DECODE_ERROR')) throw err
      throw HyperfsError.DECODE_ERROR(`${pathString(comps)}: ${err.message}`)
    }
  }

  // The folder at comps: its marker's stat, or an implicit one's; null when
  // nothing is below it.
  private async folder (comps: string[]): Promise<{ stat: Stat, marker: Drive13Entry | null } | null> {
    const first = await this.bee.peek({ gte: markerKey(comps), lt: folderRange(comps).lt })
    if (!first) return null
    const marker = first.key.equals(markerKey(comps)) ? this.tryDecode(first) : null
    return { stat: folderStat(marker), marker }
  }

  private tryDecode (e: BeeEntry): Drive13Entry | null {
    try {
      return decodeEntry(e.value)
    } catch (err) {
      if (!isHyperfsError(err, 'DECODE_ERROR')) throw err
      this.warn(`ignored the folder marker ${keyPath(e.key)}: ${err.message}`)
      return null
    }
  }


  async entry (comps: string[]): Promise<Stat | null> {
    await this.ready()
    if (comps.length === 0) return this.root.at(this.version, (o) => this.history(o))
    const f = await this.fileEntry(comps)
    if (f) return this.stat(f.entry)
    const dir = await this.folder(comps)
    if (dir) return dir.stat
    // not there: ENOTDIR when a folder on the way is a file
    for (let i = comps.length - 1; i >= 1; i--) {
      if (await this.bee.get(fileKey(comps.slice(0, i)))) throw HyperfsError.ENOTDIR(pathString(comps.slice(0, i)))
    }
    return null
  }

  // The Stat of a file or link entry; a block map's size is the sum of its
  // map, and it names the blocks the map lists (what gc keeps for it). A
  // writer that does not hold a map of its own gave it back to the disk
  // (gc; never the latest version's): the entry still lists, at the size
  // recorded with the map, and its bytes need the map from a peer.
  private async stat (e: Drive13Entry): Promise<Stat> {
    let map: Blob['map'] = null
    if (e.blob?.blockMap) {
      const recorded = recordedSize(e)
      if (recorded !== null && await this.mapFreed(e.blob)) {
        const st = entryStat(e, undefined, recorded)
        this.blobOf.set(st, { id: e.blob, map: null, unread: true })
        return st
      }
      map = await this.readMap(e.blob)
    }
    const st = entryStat(e, map ?? undefined)
    if (e.blob) this.blobOf.set(st, { id: e.blob, map })
    return st
  }

  // A listed entry's Stat, or null (with a warning) when it cannot be one.
  private async listedStat (e: BeeEntry, path: string): Promise<Stat | null> {
    try {
      return await this.stat(decodeEntry(e.value))
    } catch (err) {
      if (!isHyperfsError(err, 'DECODE_ERROR')) throw err
      this.warn(`skipped ${path}: ${err.message}`)
      return null
    }
  }

  // Children of the folder at comps, each name once, in byte order: the range
  // (F/, F0) is read in order and each subfolder is skipped past once named.
  async * list (comps: string[]): AsyncIterable<DirEntry> {
    await this.ready()
    const { gt, lt } = folderRange(comps)
    const files = new Set<string>() // a folder of the same name as a file is not listed: the file wins
    let from: { gt?: Buffer, gte?: Buffer } = { gt }
    while (true) {
      let skipTo: Buffer | null = null
      for await (const e of this.bee.range({ ...from, lt })) {
        const rest = e.key.subarray(gt.byteLength).toString()
        const slash = rest.indexOf('/')
        const name = slash === -1 ? rest : rest.slice(0, slash)
        const problem = nameProblem(name) ?? keyProblem([...comps, name].join('/'))
        if (problem) this.warn(`skipped an entry with ${problem}: ${JSON.stringify(pathString(comps).slice(0, 300) + '/' + name.slice(0, 300))}`)
        if (slash === -1) {
          if (problem) continue
          const stat = await this.listedStat(e, pathString([...comps, name]))
          if (!stat) continue
          files.add(name)
          yield { name, stat }
          continue
        }
        if (!problem && !files.has(name)) {
          yield { name, stat: folderStat(rest === name + '/' ? this.tryDecode(e) : null) }
        }
        skipTo = Buffer.concat([gt, Buffer.from(name + '0')])
        break
      }
      if (!skipTo) return
      from = { gte: skipTo }
    }
  }

  async * walk (comps: string[]): AsyncIterable<{ comps: string[], stat: Stat }> {
    await this.ready()
    const { gt, lt } = folderRange(comps)
    for await (const e of this.bee.range({ gt, lt })) {
      const rest = e.key.subarray(gt.byteLength).toString()
      if (rest.endsWith('/')) continue // a folder's marker
      const at = [...comps, ...rest.split('/')]
      if (keyProblem(at.join('/'))) continue
      const stat = await this.listedStat(e, pathString(at))
      if (stat) yield { comps: at, stat }
    }
  }

  // ---- reading bytes ----

  // The blob behind a Stat this format made (a plain one rebuilt from the Stat otherwise).
  private blob (st: Stat): Blob {
    return this.blobOf.get(st) ?? { id: { blockOffset: st.offset, byteOffset: st.byteOffset, blockLength: st.blocks, byteLength: st.size }, map: null }
  }

  // The blocks and bytes of a blob must be in the blobs core; a replica that
  // is behind asks its peers for the length first.
  private async checkBlob (blobs: Hypercore, id: BlobId, opts: ReadOptions): Promise<void> {
    const end = id.blockOffset + id.blockLength
    const past = () => end > blobs.length || id.byteOffset + id.byteLength > blobs.byteLength
    if (!past()) return
    if (!blobs.writable) await blobs.update({ timeout: opts.timeout ?? this.timeout })
    if (past()) throw HyperfsError.DECODE_ERROR(`a blob (blocks ${id.blockOffset}-${end - 1}, bytes ${id.byteOffset}-${id.byteOffset + id.byteLength - 1}) past the end of the blobs core (${blobs.length} blocks, ${blobs.byteLength} bytes)`)
  }

  // Whether a writer's block map is no longer all held here (a replica's
  // may not be fetched yet: it reads the map from peers as before).
  private async mapFreed (id: BlobId): Promise<boolean> {
    const blobs = await this.blobsCore()
    if (!blobs.writable || id.blockOffset + id.blockLength > blobs.length) return false
    return !blobs.hasAll(id.blockOffset, id.blockOffset + id.blockLength)
  }

  // An unread block map's entries, from peers; they must add up to the size
  // its entry recorded (what the Stat said).
  private async loadMap (blob: Blob, st: Stat, opts: ReadOptions): Promise<Blob> {
    if (!blob.unread) return blob
    const map = await this.readMap(blob.id, opts)
    const size = map.reduce((n, m) => n + m.byteLength, 0)
    if (size !== st.size) throw HyperfsError.DECODE_ERROR(`a block map of ${size} bytes, where its entry records ${st.size}`)
    const loaded = { id: blob.id, map }
    this.blobOf.set(st, loaded)
    return loaded
  }

  // A block map's entries (docs/hyperdrive13.md §5): each map block is
  // uint version (0) ‖ uint n ‖ n × (uint index, uint byteLength).
  private async readMap (id: BlobId, opts: ReadOptions = {}): Promise<MapEntry[]> {
    const blobs = await this.blobsCore()
    await this.checkBlob(blobs, id, opts)
    const out: MapEntry[] = []
    const getOpts = { timeout: opts.timeout ?? this.timeout, signal: opts.signal }
    const blocks = await Promise.all(Array.from({ length: id.blockLength }, (_, i) => blobs.get(id.blockOffset + i, getOpts)))
    for (const b of blocks) {
      let entries: MapEntry[]
      try {
        entries = decode(blockMapBlock, b!)
      } catch (err) {
        if (err instanceof DecodeError) throw HyperfsError.DECODE_ERROR('a block map: ' + err.message.replace(/^DECODE_ERROR: /, ''))
        throw err
      }
      for (const e of entries) {
        if (e.index >= id.blockOffset) throw HyperfsError.DECODE_ERROR(`a block map that names block ${e.index}, not before the map`)
        out.push(e)
      }
    }
    return out
  }

  async * chunks (st: Stat, start: number, end: number, opts: ReadOptions): AsyncIterable<Buffer> {
    const blobs = await this.blobsCore()
    const blob = await this.loadMap(this.blob(st), st, opts)
    await this.checkBlob(blobs, blob.id, opts)
    // bytes held here come straight from the data file, a chunk at a time,
    // until one is not (then block by block, fetching)
    if (blob.map ? blob.map.length > 0 : blob.id.byteLength === st.size) {
      const copy = blob.map ? mapCopier(blobs, blob.map) : localCopier(blobs, blob.id)
      while (start < end) {
        const buf = Buffer.allocUnsafe(Math.min(LOCAL_CHUNK, end - start))
        if (copy(buf, start, buf.byteLength) !== buf.byteLength) break
        start += buf.byteLength
        yield buf
      }
      if (start >= end) return
    }
    const getOpts = { timeout: opts.timeout ?? this.s.opts.timeout, signal: opts.signal }
    const { first, last, skip } = blob.map ? mapSpan(blob.map, start, end) : await this.blobSpan(blobs, blob.id, start, end, getOpts)
    const indexOf = (i: number) => blob.map ? blob.map[i].index : i
    const ahead: Array<Promise<Buffer | null>> = []
    let next = first
    let rel = skip
    let pos = start
    for (let i = first; i <= last && pos < end; i++) {
      while (next <= last && next < i + FETCH_AHEAD) ahead.push(handled(blobs.get(indexOf(next++), getOpts)))
      const block = (await ahead.shift())!
      if (blob.map && block.byteLength !== blob.map[i].byteLength) throw HyperfsError.DECODE_ERROR(`a block map names block ${indexOf(i)} as ${blob.map[i].byteLength} bytes; it has ${block.byteLength}`)
      const piece = block.subarray(rel, Math.min(block.byteLength, rel + end - pos))
      rel = 0
      pos += piece.byteLength
      if (piece.byteLength) yield piece
    }
    if (pos < end) throw HyperfsError.DECODE_ERROR(`a blob whose blocks hold ${pos} of its ${st.size} bytes`)
  }

  // The blocks holding bytes [start, end) of a plain blob: blocks have any
  // size, so both ends go through the core's byte seek (local tree nodes when
  // they are here, else one round trip each, in parallel).
  private async blobSpan (blobs: Hypercore, id: BlobId, start: number, end: number, getOpts: { timeout?: number, signal?: AbortSignal }): Promise<{ first: number, last: number, skip: number }> {
    const lastBlock = id.blockOffset + id.blockLength - 1
    const [[first, skip], [last]] = await Promise.all([
      start === 0 ? [id.blockOffset, 0] : blobs.seek(id.byteOffset + start, getOpts),
      end === id.byteLength ? [lastBlock, 0] : blobs.seek(id.byteOffset + end - 1, getOpts)
    ])
    if (first < id.blockOffset || last > lastBlock || first > last) {
      throw HyperfsError.DECODE_ERROR(`a blob id whose bytes are not in its blocks ${id.blockOffset}-${lastBlock}`)
    }
    return { first, last, skip }
  }

  // A reader that copies local file bytes straight into the caller's buffer
  // (the kernel's, through a mount), block-mapped files too.
  async openReader (stat: Stat): Promise<FileReader | null> {
    const blobs = await this.blobsCore()
    const blob = this.blob(stat)
    if (blob.unread) return null
    if (blob.map) return blob.map.length === 0 ? null : { size: stat.size, readInto: mapCopier(blobs, blob.map) }
    if (blob.id.byteLength !== stat.size || blob.id.blockLength === 0) return null
    const copy = localCopier(blobs, blob.id)
    return { size: stat.size, readInto: copy }
  }

  async fetchFiles (files: Stat[], opts: FetchFilesOptions): Promise<void> {
    const blobs = await this.blobsCore()
    const ranges: BlockRange[] = []
    let held = 0
    for (const f of files) {
      const b = await this.loadMap(this.blob(f), f, { timeout: opts.timeout, signal: opts.signal })
      await this.checkBlob(blobs, b.id, { timeout: opts.timeout })
      if (b.map) {
        for (const m of b.map) {
          ranges.push([m.index, m.index + 1])
          if (blobs.has(m.index)) held += m.byteLength
        }
        continue
      }
      if (b.id.blockLength === 0) continue
      let n = 0
      for (let i = 0; i < b.id.blockLength; i++) if (blobs.has(b.id.blockOffset + i)) n++
      held += n === b.id.blockLength ? f.size : Math.floor(f.size * n / b.id.blockLength)
      ranges.push([b.id.blockOffset, b.id.blockOffset + b.id.blockLength])
    }
    opts.onbytes(held)
    if (ranges.length === 0) return
    await fetchRanges(blobs, ranges, { signal: opts.signal, timeout: opts.timeout, onblock: opts.onbytes })
  }

  // ---- writing ----

  private async apply (ops: Op[]): Promise<void> {
    const b = this.s.bee.batch()
    try {
      for (const op of ops) {
        if (op.type === 'put') await b.put(op.key, op.value)
        else await b.del(op.key)
      }
    } catch (err) {
      await b.close()
      throw err
    }
    await b.flush()
  }

  // Markers for the folders above comps that have none (mkdir -p), nearest
  // first until one has; ENOTDIR when one is a file.
  private async ancestorOps (comps: string[]): Promise<Op[]> {
    const ops: Op[] = []
    for (let i = comps.length - 1; i >= 1; i--) {
      const dir = comps.slice(0, i)
      if (await this.bee.get(markerKey(dir))) break
      if (await this.bee.get(fileKey(dir))) throw HyperfsError.ENOTDIR(pathString(dir))
      ops.unshift(markerOp(dir, folderStat(null), null, Date.now()))
    }
    return ops
  }

  private async writeBlob (data: Buffer | AsyncIterable<Uint8Array>): Promise<BlobId> {
    const blobs = await this.blobsCore()
    const writer = await ContentWriter.open(blobs, BLOB_BLOCK_SIZE, this.s.blobLock)
    try {
      if (Buffer.isBuffer(data) || data instanceof Uint8Array) await writer.write(data)
      else for await (const chunk of data) await writer.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      const r = await writer.finish()
      return { blockOffset: r.offset, byteOffset: r.byteOffset, blockLength: r.blocks, byteLength: r.size }
    } catch (err) {
      writer.abort()
      throw err
    }
  }

  // A file may be (re)written at comps: not over a folder.
  private async checkFileTarget (comps: string[]): Promise<{ entry: Drive13Entry, stat: Stat } | null> {
    const f = await this.fileEntry(comps)
    if (f) return { entry: f.entry, stat: await this.stat(f.entry) }
    const st = await this.entry(comps)
    if (st) throw HyperfsError.EISDIR(pathString(comps))
    await this.ancestorOps(comps)
    return null
  }

  async writeFile (comps: string[], data: Buffer | AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<void> {
    this.assertWritable()
    await this.ready()
    await this.checkFileTarget(comps)
    const blob = await this.writeBlob(data)
    await this.s.meta.run(async () => {
      const prev = await this.checkFileTarget(comps)
      const now = Date.now()
      const st = statEntry({
        mode: S_IFREG | ((opts.mode ?? (prev ? prev.stat.mode : 0o644)) & 0o7777),
        uid: opts.uid ?? prev?.stat.uid ?? 0,
        gid: opts.gid ?? prev?.stat.gid ?? 0,
        mtime: opts.mtime ?? now,
        ctime: now,
        metadata: opts.metadata ?? {}
      })
      // an app's metadata on the file it replaces is kept, when it is an object
      const appMeta = prev && isObject(prev.entry.metadata) ? prev.entry.metadata : null
      const entry: Drive13Entry = { executable: (st.mode & 0o100) !== 0, linkname: null, blob, metadata: withMapSize(withPosix(appMeta, st), blob, 0) }
      await this.apply([...await this.ancestorOps(comps), { type: 'put', key: fileKey(comps), value: encodeEntry(entry) }])
    })
  }

  async update (comps: string[], fn: (st: Stat) => Stat): Promise<void> {
    this.assertWritable()
    await this.s.meta.run(async () => {
      const now = Date.now()
      const f = await this.fileEntry(comps)
      if (f) {
        const st = { ...fn(await this.stat(f.entry)), ctime: now }
        const entry: Drive13Entry = { ...f.entry, metadata: withPosix(f.entry.metadata, st) }
        if (f.entry.linkname === null) entry.executable = (st.mode & 0o100) !== 0
        await this.apply([{ type: 'put', key: fileKey(comps), value: encodeEntry(entry) }])
        return
      }
      const dir = await this.folder(comps)
      if (!dir) {
        await this.entry(comps) // ENOTDIR where it applies
        throw HyperfsError.ENOENT(pathString(comps))
      }
      const st = { ...fn(dir.stat), ctime: now }
      await this.apply([...await this.ancestorOps(comps), markerOp(comps, st, dir.marker, now)])
    })
  }

  // Stores what changed (patchFile): a shorter file lists the blocks it
  // keeps whole, and its cut last block again; a longer one ends in zeros.
  async truncate (comps: string[], size: number): Promise<void> {
    this.assertWritable()
    await this.patchFile(comps, { keep: size, size, writes: [] }, { mtime: Date.now() })
  }

  // The regular file at comps, which a patch or truncate changes.
  private async fileToChange (comps: string[]): Promise<{ entry: Drive13Entry, stat: Stat }> {
    const f = await this.fileEntry(comps)
    if (!f) {
      if (await this.entry(comps)) throw HyperfsError.EISDIR(pathString(comps))
      throw HyperfsError.ENOENT(pathString(comps))
    }
    const stat = await this.stat(f.entry)
    if (isLink(stat)) throw HyperfsError.EINVAL(`${pathString(comps)} is not a regular file`)
    return { entry: f.entry, stat }
  }

  // Changes part of a file (FilePatch, types.ts) as one new version that
  // stores what changed (block-map.ts): the bytes written are appended as
  // blocks first, outside the entry lock, as writeFile does; then, from the
  // entry as it is under the lock, its blob becomes a block map that lists
  // the old blocks kept whole, the written ones, and a few new blocks for
  // what was cut from old blocks and for zeros. A map that would list only
  // consecutive whole blocks is written as a plain blob instead (every
  // reader's fast path); one past what a map can list (MAX_MAP_BLOCKS map
  // blocks) makes the whole file a plain blob again.
  // The new blocks and the map (writeParts: a first patch of a plain blob
  // writes the file again) go to the blobs core before the metadata lock,
  // from the entry as it was then, so that other changes of the drive do not
  // wait for them; under the lock, an entry changed meanwhile is patched again.
  async patchFile (comps: string[], patch: FilePatch, opts: WriteOptions): Promise<void> {
    this.assertWritable()
    checkPatch(patch)
    await this.ready()
    const seen = await this.fileToChange(comps)
    const blobs = await this.blobsCore()
    const written: Array<{ at: number, parts: Part[] }> = []
    for (const w of patch.writes) {
      if (w.length === 0) continue
      const id = await this.writeBlob(w.data)
      if (id.byteLength !== w.length) throw HyperfsError.EINVAL(`a write of ${w.length} bytes at ${w.offset} brought ${id.byteLength}`)
      written.push({ at: w.offset, parts: runParts(id) })
    }
    const patched = async (prev: Stat): Promise<BlobId> => this.writeParts(blobs, patchParts(await this.fileParts(blobs, prev), prev.size, patch.keep, patch.size, written), prev)
    // (one that fails here, say on blocks a gc freed once the file changed,
    // is done again under the lock, from the file as it is then)
    const early = { entry: encodeEntry(seen.entry), blob: await patched(seen.stat).catch(() => null) }
    await this.s.meta.run(async () => {
      const prev = await this.fileToChange(comps)
      const blob = early.blob !== null && encodeEntry(prev.entry).equals(early.entry) ? early.blob : await patched(prev.stat)
      const now = Date.now()
      const st: Stat = {
        ...prev.stat,
        mode: S_IFREG | ((opts.mode ?? prev.stat.mode) & 0o7777),
        uid: opts.uid ?? prev.stat.uid,
        gid: opts.gid ?? prev.stat.gid,
        mtime: opts.mtime ?? now,
        ctime: now,
        metadata: opts.metadata ?? prev.stat.metadata
      }
      // the size goes with a map: an old version still lists once gc frees its map
      const entry: Drive13Entry = { executable: (st.mode & 0o100) !== 0, linkname: null, blob, metadata: withMapSize(withPosix(prev.entry.metadata, st), blob, patch.size) }
      await this.apply([{ type: 'put', key: fileKey(comps), value: encodeEntry(entry) }])
    })
  }

  // A file's content as parts (block-map.ts): its blocks, each whole, when
  // its blob can be listed block by block (a map; a plain blob whose blocks
  // the blobs tree shows to hold exactly its bytes); otherwise the old
  // file's bytes, read through chunks() when they are written again.
  private async fileParts (blobs: Hypercore, st: Stat): Promise<Part[]> {
    if (st.size === 0) return []
    const blob = await this.loadMap(this.blob(st), st, {})
    if (blob.map) return blockParts(blob.map)
    const { blockOffset, blockLength, byteOffset, byteLength } = blob.id
    const whole = [{ index: OLD_BYTES, skip: 0, length: st.size, blockLength: st.size }]
    if (byteLength !== st.size || blockOffset + blockLength > blobs.length) return whole
    try {
      if (await blobs.tree.byteOffset(2 * blockOffset) !== byteOffset) return whole
      const blocks: MapEntry[] = []
      let n = 0
      for (let i = blockOffset; i < blockOffset + blockLength; i++) {
        const node = await blobs.tree.getNode(2 * i)
        if (!node) return whole
        blocks.push({ index: i, byteLength: node.size })
        n += node.size
      }
      return n === byteLength ? blockParts(blocks) : whole
    } catch (err) {
      if (!isHyperfsError(err, 'INVALID_OPERATION')) throw err
      return whole // a node on the way is not stored here
    }
  }

  // Writes a file made of `parts`: what the plan lists again stays where it
  // is, the rest is appended (a block per new item, a few MiB per append);
  // then the map, or a plain blob where one will do.
  private async writeParts (blobs: Hypercore, parts: Part[], prev: Stat): Promise<BlobId> {
    const size = parts.reduce((n, p) => n + p.length, 0)
    const items = parts.length === 0 ? null : planMap(parts, { blockSize: BLOB_BLOCK_SIZE, page: size <= FINE_MAX_BYTES ? PAGE : BLOB_BLOCK_SIZE, softSmall: SOFT_SMALL_BLOCKS })
    if (!items || entryCount(items, BLOB_BLOCK_SIZE) > MAX_MAP_BLOCKS * MAX_MAP_ENTRIES) {
      return this.writeBlob(this.partBytes(blobs, parts, prev))
    }
    // new blocks go out a MiB or so at a time; each is listed where the plan has it
    const listed: MapEntry[] = []
    let batch: Buffer[] = []
    let slots: number[] = [] // listed[slots[k]] is batch[k]
    let batchBytes = 0
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return
      const at = await this.appendBlocks(blobs, batch)
      for (let k = 0; k < slots.length; k++) listed[slots[k]].index = at[k]
      batch = []
      slots = []
      batchBytes = 0
    }
    const add = async (block: Buffer): Promise<void> => {
      slots.push(listed.length)
      listed.push({ index: -1, byteLength: block.byteLength })
      batch.push(block)
      batchBytes += block.byteLength
      if (batchBytes >= LOCAL_CHUNK) await flush()
    }
    let zeroBlock = -1 // one block of zeros, listed as often as needed
    for (const item of items) {
      if (item.kind === 'block') {
        listed.push({ index: item.index, byteLength: item.length })
        continue
      }
      if (item.length >= BLOB_BLOCK_SIZE && item.parts.every((p) => p.index === ZERO)) {
        if (zeroBlock < 0) zeroBlock = (await this.appendBlocks(blobs, [Buffer.alloc(BLOB_BLOCK_SIZE)]))[0]
        let left = item.length
        for (; left >= BLOB_BLOCK_SIZE; left -= BLOB_BLOCK_SIZE) listed.push({ index: zeroBlock, byteLength: BLOB_BLOCK_SIZE })
        if (left > 0) await add(Buffer.alloc(left))
        continue
      }
      const bytes: Buffer[] = []
      for await (const b of this.partBytes(blobs, item.parts, prev)) bytes.push(b)
      await add(Buffer.concat(bytes))
    }
    await flush()
    const plain = await plainRun(blobs, listed)
    if (plain) return plain
    const mapBlocks: Buffer[] = []
    for (let i = 0; i < listed.length; i += MAX_MAP_ENTRIES) mapBlocks.push(encode(blockMapBlock, listed.slice(i, i + MAX_MAP_ENTRIES)))
    return this.s.blobLock.run(async () => {
      const id: BlobId = { blockOffset: blobs.length, byteOffset: blobs.byteLength, blockLength: mapBlocks.length, byteLength: 0, blockMap: true }
      for (const b of mapBlocks) id.byteLength += b.byteLength
      await blobs.append(mapBlocks)
      return id
    })
  }

  // Appends each buffer as one block, a few MiB per append (under the blobs
  // lock, so that no other file's blocks come between); the index of each.
  private appendBlocks (blobs: Hypercore, blocks: Buffer[]): Promise<number[]> {
    return this.s.blobLock.run(async () => {
      const out: number[] = []
      for (let i = 0; i < blocks.length;) {
        let bytes = 0
        let j = i
        while (j < blocks.length && (j === i || bytes + blocks[j].byteLength <= LOCAL_CHUNK)) bytes += blocks[j++].byteLength
        const at = blobs.length
        await blobs.append(blocks.slice(i, j))
        for (let k = i; k < j; k++) out.push(at + k - i)
        i = j
      }
      return out
    })
  }

  // The bytes of `parts`: from blobs blocks (each checked to be the size the
  // plan took it for), zeros, or the old file's bytes.
  private async * partBytes (blobs: Hypercore, parts: Part[], prev: Stat): AsyncIterable<Buffer> {
    for (const p of parts) {
      if (p.index === ZERO) {
        for (let left = p.length; left > 0; left -= LOCAL_CHUNK) yield Buffer.alloc(Math.min(left, LOCAL_CHUNK))
      } else if (p.index === OLD_BYTES) {
        yield * this.chunks(prev, p.skip, p.skip + p.length, {})
      } else {
        const block = (await blobs.get(p.index, { timeout: this.timeout }))!
        if (block.byteLength !== p.blockLength) throw HyperfsError.DECODE_ERROR(`a block map names block ${p.index} as ${p.blockLength} bytes; it has ${block.byteLength}`)
        yield block.subarray(p.skip, p.skip + p.length)
      }
    }
  }

  async mkdir (comps: string[], mode: number): Promise<void> {
    this.assertWritable()
    await this.s.meta.run(async () => {
      if (await this.entry(comps)) throw HyperfsError.EEXIST(pathString(comps))
      const now = Date.now()
      const st = statEntry({ mode: S_IFDIR | mode, mtime: now, ctime: now })
      await this.apply([...await this.ancestorOps(comps), markerOp(comps, st, null, now)])
    })
  }

  async rmdir (comps: string[]): Promise<void> {
    this.assertWritable()
    const path = pathString(comps)
    await this.s.meta.run(async () => {
      const st = await this.entry(comps)
      if (!st) throw HyperfsError.ENOENT(path)
      if (!isDir(st)) throw HyperfsError.ENOTDIR(path)
      if (await this.bee.peek(folderRange(comps))) throw HyperfsError.ENOTEMPTY(path)
      // the parent keeps a marker, so it stays when this was all it held
      await this.apply([...await this.ancestorOps(comps), { type: 'del', key: markerKey(comps) }])
    })
  }

  async unlink (comps: string[]): Promise<void> {
    this.assertWritable()
    const path = pathString(comps)
    await this.s.meta.run(async () => {
      if (!await this.bee.get(fileKey(comps))) {
        if (await this.entry(comps)) throw HyperfsError.EISDIR(path)
        throw HyperfsError.ENOENT(path)
      }
      await this.apply([...await this.ancestorOps(comps), { type: 'del', key: fileKey(comps) }])
    })
  }

  // One batch: the entry, or a folder's marker and everything below it, put
  // at the new keys (the same values: blobs are shared, no bytes are copied)
  // and deleted at the old ones.
  async rename (src: string[], dst: string[]): Promise<void> {
    this.assertWritable()
    const from = pathString(src)
    const to = pathString(dst)
    await this.s.meta.run(async () => {
      const st = await this.entry(src)
      if (!st) throw HyperfsError.ENOENT(from)
      if (from === to) return
      if (to.startsWith(from + '/')) throw HyperfsError.EINVAL(`cannot move ${from} into itself`)
      const existing = await this.entry(dst)
      if (existing) {
        if (isDir(st) && !isDir(existing)) throw HyperfsError.ENOTDIR(to)
        if (!isDir(st) && isDir(existing)) throw HyperfsError.EISDIR(to)
        if (isDir(existing) && await this.bee.peek(folderRange(dst))) throw HyperfsError.ENOTEMPTY(to)
      }
      // markers above both ends: the source's folder stays when this was all it held
      const ops: Op[] = [...await this.ancestorOps(dst)]
      for (const op of await this.ancestorOps(src)) if (!ops.some((o) => o.key.equals(op.key))) ops.push(op)
      const move = (key: Buffer, value: Buffer, newKey: Buffer) => {
        ops.push({ type: 'del', key })
        ops.push({ type: 'put', key: newKey, value })
      }
      if (!isDir(st)) {
        const e = (await this.bee.get(fileKey(src)))!
        move(e.key, e.value!, fileKey(dst))
      } else {
        const oldPrefix = markerKey(src)
        const newPrefix = markerKey(dst)
        let marker = false
        for await (const e of this.bee.range({ gte: oldPrefix, lt: folderRange(src).lt })) {
          if (e.key.equals(oldPrefix)) marker = true
          if (e.value === null) continue
          move(e.key, e.value, Buffer.concat([newPrefix, e.key.subarray(oldPrefix.byteLength)]))
        }
        // an empty folder there before keeps no marker of its own
        if (!marker && existing) ops.push({ type: 'del', key: newPrefix })
      }
      await this.apply(ops)
    })
  }

  async symlink (target: string, comps: string[]): Promise<void> {
    this.assertWritable()
    await this.s.meta.run(async () => {
      if (await this.entry(comps)) throw HyperfsError.EEXIST(pathString(comps))
      const now = Date.now()
      const st = statEntry({ mode: 0o120777, mtime: now, ctime: now })
      const entry: Drive13Entry = { executable: false, linkname: target, blob: null, metadata: withPosix(null, st) }
      await this.apply([...await this.ancestorOps(comps), { type: 'put', key: fileKey(comps), value: encodeEntry(entry) }])
    })
  }

  // ---- versions ----

  // A key's path as a drive path: '/a' for the file '/a' and the marker '/a/';
  // null for keys outside the drive's files or with names it cannot hold.
  private drivePathOf (key: Buffer): string | null {
    const p = keyPath(key)
    if (p === null || !p.startsWith('/')) return null
    const path = p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p
    return keyProblem(path.slice(1)) ? null : path
  }

  private async valueStat (key: Buffer, value: Buffer | null, path: string): Promise<Stat | null> {
    if (keyPath(key)!.endsWith('/')) {
      try {
        return folderStat(decodeEntry(value))
      } catch (err) {
        if (!isHyperfsError(err, 'DECODE_ERROR')) throw err
        return folderStat(null)
      }
    }
    return this.listedStat({ seq: 0, key, value }, path)
  }

  async * history (opts: { gte?: number, lt?: number } = {}): AsyncIterable<HistoryEntry> {
    await this.ready()
    // the block s is what version s + 1 added
    const gte = opts.gte === undefined ? undefined : Math.max(1, opts.gte - 1)
    const lt = opts.lt === undefined ? undefined : Math.max(0, opts.lt - 1)
    for await (const e of this.bee.history({ gte, lt })) {
      const name = this.drivePathOf(e.key)
      if (name === null) continue
      if (e.type === 'del') { yield { version: e.seq + 1, type: 'del', name, value: null }; continue }
      const value = await this.valueStat(e.key, e.value, name)
      if (value) yield { version: e.seq + 1, type: 'put', name, value }
    }
  }

  async * diff (from: number, to: number | undefined, prefix: string[]): AsyncIterable<DiffEntry> {
    await this.ready()
    const view = to === undefined || to === this.version ? this.bee : this.s.bee.checkout(to)
    const at = pathString(prefix)
    const range = prefix.length === 0 ? { gte: FILES_PREFIX, lt: FILES_END } : { gte: fileKey(prefix), lt: folderRange(prefix).lt }
    for await (const d of view.diff(from, range)) {
      const name = this.drivePathOf((d.left ?? d.right)!.key)
      if (name === null || !under(name, at)) continue
      const previous = d.right ? await this.valueStat(d.right.key, d.right.value, name) : null
      if (d.left) {
        const value = await this.valueStat(d.left.key, d.left.value, name)
        if (value) yield { type: 'put', name, value, previous }
      } else if (previous) {
        yield { type: 'del', name, previous }
      }
    }
  }

  protected async changedUnder (from: number, to: number, comps: string[]): Promise<boolean> {
    const at = pathString(comps)
    for await (const d of this.s.bee.checkout(to).diff(from, { gte: FILES_PREFIX, lt: FILES_END })) {
      const name = this.drivePathOf((d.left ?? d.right)!.key)
      if (name !== null && under(name, at)) return true
    }
    return false
  }
}

// The put of a folder's marker holding `st` (over what an older marker held).
function markerOp (comps: string[], st: Stat, previous: Drive13Entry | null, now: number): Op {
  const s = { ...st, mtime: st.mtime || now, ctime: st.ctime || now }
  const entry: Drive13Entry = { executable: false, linkname: null, blob: null, metadata: withPosix(previous && isObject(previous.metadata) ? previous.metadata : null, s) }
  return { type: 'put', key: markerKey(comps), value: encodeEntry(entry) }
}

// `name` is the path `at` or below it
function under (name: string, at: string): boolean {
  return at === '/' || name === at || name.startsWith(at + '/')
}

function isObject (x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x)
}

// Copies bytes of the plain blob `id` held in `blobs` into a target (see
// FileReader): null when some are not local. Blocks have any size here, so
// the blocks holding a range are found by a descent of the blobs core's tree
// from local nodes; the core then checks that the bytes lie in those blocks
// and hashes each block the first time it is read. The id comes from the
// writer and must agree with the tree at both ends, or a wrong one would send
// us to bytes of other files: until the tree can tell (a replica that has
// not got the nodes yet), and when it disagrees, the answer is null and the
// read takes the checked path, block by block.
function localCopier (blobs: Hypercore, id: BlobId): FileReader['readInto'] {
  const { blockOffset, blockLength, byteOffset, byteLength } = id
  let agrees: boolean | null = null // null: the tree cannot tell yet
  const check = (): boolean | null => {
    try {
      const tree = blobs.tree
      return tree.byteOffsetSync(2 * blockOffset) === byteOffset && tree.byteOffsetSync(2 * (blockOffset + blockLength)) === byteOffset + byteLength
    } catch (err) {
      if (!isHyperfsError(err, 'INVALID_OPERATION', 'SESSION_CLOSED')) throw err
      return null // a node on the way is not stored here, or the blob lies past the core
    }
  }
  return (target, position, length) => {
    const end = Math.min(byteLength, position + length, target.byteLength + position)
    if (position >= end) return 0
    if (blockLength === 0) return null
    if (agrees === null) agrees = check()
    if (!agrees) return null
    const first = blockAtSync(blobs, byteOffset + position)
    const last = first === null ? null : blockAtSync(blobs, byteOffset + end - 1)
    if (first === null || last === null || first < blockOffset || last >= blockOffset + blockLength) return null
    return blobs.readBytesInto(byteOffset + position, target, 0, end - position, first, last + 1)
  }
}

// Copies bytes of a block-mapped file held in `blobs` into a target (see
// FileReader), block by block of its map: each listed block's bytes are found
// through its leaf in the tree (local nodes), which must have the size the
// map says; null when some are not local, or the tree cannot tell.
function mapCopier (blobs: Hypercore, map: MapEntry[]): FileReader['readInto'] {
  const starts: number[] = [0]
  for (const e of map) starts.push(starts[starts.length - 1] + e.byteLength)
  const size = starts[map.length]
  return (target, position, length) => {
    const end = Math.min(size, position + length, target.byteLength + position)
    if (position >= end) return 0
    // position < size = starts[map.length], so this is an entry of the map
    const lo = findExtent(starts, position)
    let done = 0
    for (let i = lo; position + done < end; i++) {
      const e = map[i]
      const skip = position + done - starts[i]
      const n = Math.min(e.byteLength - skip, end - position - done)
      let at: number
      try {
        if (blobs.tree.nodeSync(2 * e.index)?.size !== e.byteLength) return null
        at = blobs.tree.byteOffsetSync(2 * e.index)
      } catch (err) {
        if (!isHyperfsError(err, 'INVALID_OPERATION', 'SESSION_CLOSED')) throw err
        return null // a node on the way is not stored here
      }
      if (blobs.readBytesInto(at + skip, target, done, n, e.index, e.index + 1) !== n) return null
      done += n
    }
    return done
  }
}

// The block of `core` that holds byte `at`, by a descent of its tree through
// locally stored nodes; null when one on the way is not stored (or `at` is
// past the end). A damaged node can only make this name the wrong block,
// which readBytesInto refuses.
function blockAtSync (core: Hypercore, at: number): number | null {
  const tree = core.tree
  if (at >= tree.byteLength) return null
  let bytes = at
  for (const r of tree.roots) {
    if (bytes >= r.size) { bytes -= r.size; continue }
    let ite = r.index
    for (let depth = 0; ite % 2 === 1; depth++) {
      if (depth >= MAX_TREE_DEPTH) return null
      const [l, rr] = flat.children(ite)!
      const left = tree.nodeSync(l)
      if (!left) return null
      if (bytes < left.size) ite = l
      else { bytes -= left.size; ite = rr }
    }
    return ite / 2
  }
  return null
}

// The blocks of a blob written by writeBlob (BLOB_BLOCK_SIZE each but the last), each whole.
function runParts (id: BlobId): Part[] {
  const out: Part[] = []
  for (let i = 0, left = id.byteLength; left > 0; i++, left -= BLOB_BLOCK_SIZE) {
    const length = Math.min(BLOB_BLOCK_SIZE, left)
    out.push({ index: id.blockOffset + i, skip: 0, length, blockLength: length })
  }
  return out
}

// A plain blob of the blocks `entries` lists, when they are consecutive: it
// reads the same, and every reader has a fast path for it.
async function plainRun (blobs: Hypercore, entries: MapEntry[]): Promise<BlobId | null> {
  if (entries.length === 0) return null
  for (let i = 1; i < entries.length; i++) if (entries[i].index !== entries[0].index + i) return null
  let byteLength = 0
  for (const e of entries) byteLength += e.byteLength
  return { blockOffset: entries[0].index, byteOffset: await blobs.tree.byteOffset(2 * entries[0].index), blockLength: entries.length, byteLength }
}

// The map entries holding bytes [start, end) of a block-mapped blob.
function mapSpan (map: Array<{ byteLength: number }>, start: number, end: number): { first: number, last: number, skip: number } {
  let pos = 0
  let first = -1
  let skip = 0
  let last = map.length - 1
  for (let i = 0; i < map.length; i++) {
    const next = pos + map[i].byteLength
    if (first === -1 && start < next) { first = i; skip = start - pos }
    if (end <= next) { last = i; break }
    pos = next
  }
  if (first === -1) return { first: 0, last: -1, skip: 0 }
  return { first, last, skip }
}
