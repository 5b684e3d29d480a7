// Hyperdrive: a filesystem on two cores. The metadata core holds a Hypertrie
// whose header (block 0) names the content core and its block size
// (codec/drive-header.ts); each path is a trie key whose value is a Stat
// (codec/drive-stat.ts). The content core holds file bytes, each file as a run
// of blockSize blocks named by its Stat. The drive key is the metadata key.
//
// Mounts: a mount point is a visible entry (a folder, or a read-only file for
// a raw core) plus a hidden trie key at the same path holding the mount record
// (codec/drive-mount.ts). A path is routed by one closest-match lookup in the
// hidden keyspace; anything below a mount point is passed to the mounted drive
// with the rest of the path. A path that enters a drive already on its way
// (a drive mounting itself, or its parent) has met a mount cycle: that mount
// point is an empty folder, so a walk of the tree (find, ls -r) ends. mount()
// refuses a cycle it can see from here; one in drives from elsewhere is only
// met on reads.
//
// Names and mount records come from the writer, who may be hostile: an entry
// whose name is not one drive-path.ts allows is skipped, with a warning
// (onwarning), wherever entries are listed.
//
// Nothing assumes blocks are local: metadata operations read only trie nodes,
// and reads map byte offsets to content blocks with arithmetic (no seek) and
// fetch only the blocks they return.
import { Readable, Writable } from 'node:stream'
import type { Hypercore } from '../core/hypercore.js'
import { encode, decode } from '../codec/state.js'
import { driveHeader, type DriveHeader } from '../codec/drive-header.js'
import { driveStat } from '../codec/drive-stat.js'
import { driveMount } from '../codec/drive-mount.js'
import { HyperfsError, isHyperfsError, safetyCatch, handled } from '../errors.js'
import { Hypertrie } from '../trie/hypertrie.js'
import { Mutex } from '../core/mutex.js'
import { drivePath, pathString, linkTarget, keyProblem } from './drive-path.js'
import { statEntry, ROOT_STAT, isDir, isFile, isLink, mountStat } from './stat-entry.js'
import { ContentWriter } from './content-writer.js'
import { ChunkQueue } from './chunk-queue.js'
import { fetchRanges, type BlockRange } from './range-fetch.js'
import {
  type Drive, type DriveInfo, type FileReader, type Stat, type DirEntry, type ReadOptions, type WriteOptions,
  type DiffEntry, type HistoryEntry, type WatchEvent, type MountInfo, type DownloadOptions, type DownloadStatus, S_IFMT, S_IFREG, S_IFDIR, S_IFLNK
} from './types.js'

export const DEFAULT_BLOCK_SIZE = 64 * 1024
const MAX_SYMLINK_HOPS = 40
const ROOT_TIME_LOOKBACK = 16 // newest history entries searched for the time of the drive's last change
// drives one path may pass through (mounts within mounts) before ELOOP
const MAX_MOUNT_DEPTH = 32
// drives one download() may walk into, and mount() may look through for a cycle
const MAX_WALK_DRIVES = 1024
// warnings about bad entries one drive logs; past this they are counted only
const MAX_WARNINGS = 32
const FETCH_AHEAD = 8
// ms a download waits for a block (or a mounted drive) when neither the call nor the drive says
const DEFAULT_DOWNLOAD_TIMEOUT = 10_000
const LOCAL_CHUNK = 1024 * 1024

export interface DriveCores {
  metadata: Hypercore
  // Opens the content core: a new writable core when key is null (a new
  // drive), otherwise the core with that key (the one the header names).
  content: (key: Buffer | null) => Hypercore | Promise<Hypercore>
}

export interface HyperdriveOptions {
  openDrive?: (key: Buffer) => Promise<Drive> // for drive mounts
  // a drive held here, or null, without waiting for peers (mount()'s cycle check)
  heldDrive?: (key: Buffer) => Promise<Drive | null>
  openCore?: (key: Buffer) => Promise<Hypercore> // for raw core mounts
  onwarning?: (msg: string) => void // entries skipped as invalid (for the daemon's log)
  blockSize?: number // for a new drive
  timeout?: number // default wait for blocks that are not local
}

// What a drive and all its checkouts share.
interface DriveState {
  cores: DriveCores
  opts: HyperdriveOptions
  trie: Hypertrie
  content: Hypercore | null
  header: DriveHeader | null
  loading: Promise<void> | null
  opening: Promise<void> | null
  meta: Mutex // serialises read-modify-write of metadata
  contentLock: Mutex // one file's blocks at a time
  warnings: number
  closed: boolean
}

type Route =
  | { kind: 'local', comps: string[] }
  | { kind: 'inner', drive: Drive, path: string }
  | { kind: 'core', mount: MountInfo, comps: string[] }
  | { kind: 'cycle', rest: string[] } // `rest` below a mount point that closes a cycle

type Hop = Route | { kind: 'mount', mount: MountInfo, depth: number }

export class Hyperdrive implements Drive {
  private s: DriveState
  private trie: Hypertrie
  private readonly checkedOut: boolean
  private rootTime: { version: number, ms: number } | null = null

  constructor (cores: DriveCores, opts: HyperdriveOptions = {}, shared?: { state: DriveState, version: number }) {
    if (shared) {
      this.s = shared.state
      this.trie = shared.state.trie.checkout(shared.version)
      this.checkedOut = true
      return
    }
    const trie = new Hypertrie(cores.metadata, { timeout: opts.timeout })
    this.s = {
      cores, opts, trie, content: null, header: null, loading: null, opening: null,
      meta: new Mutex(), contentLock: new Mutex(), warnings: 0, closed: false
    }
    this.trie = trie
    this.checkedOut = false
  }

  get key (): Buffer { return this.s.cores.metadata.key! }
  get discoveryKey (): Buffer { return this.s.cores.metadata.discoveryKey! }
  get writable (): boolean { return !this.checkedOut && this.s.cores.metadata.writable }
  get version (): number { return this.trie.version }
  get metadata (): Hypercore { return this.s.cores.metadata }
  get content (): Hypercore | null { return this.s.content }

  ready (): Promise<void> {
    if (!this.s.opening) this.s.opening = this.open()
    return this.s.opening
  }

  private async open (): Promise<void> {
    const md = this.s.cores.metadata
    await md.ready()
    if (md.length === 0 && md.writable) {
      const content = await this.s.cores.content(null)
      await content.ready()
      const header = { contentKey: content.key!, blockSize: this.s.opts.blockSize ?? DEFAULT_BLOCK_SIZE }
      const trie = new Hypertrie(md, { metadata: encode(driveHeader, header), timeout: this.s.opts.timeout })
      await trie.ready()
      this.s.trie = trie
      this.trie = trie
      this.s.content = content
      this.s.header = header
      return
    }
    await this.s.trie.ready()
    // a writer has its header locally; a replica loads it when first needed
    if (md.length > 0 && md.has(0)) await this.loadContent()
  }

  private loadContent (): Promise<void> {
    if (!this.s.loading) {
      this.s.loading = (async () => {
        const th = await this.s.trie.getHeader()
        let header: DriveHeader
        try {
          header = decode(driveHeader, th.metadata ?? Buffer.alloc(0))
        } catch (err) {
          throw HyperfsError.DECODE_ERROR('drive header: ' + (err as Error).message)
        }
        const content = await this.s.cores.content(header.contentKey)
        await content.ready()
        this.s.header = header
        this.s.content = content
      })()
      this.s.loading.catch(() => { this.s.loading = null })
    }
    return this.s.loading
  }

  private async contentCore (): Promise<{ core: Hypercore, blockSize: number }> {
    if (!this.s.content) await this.loadContent()
    return { core: this.s.content!, blockSize: this.s.header!.blockSize }
  }

  async close (): Promise<void> {
    if (this.checkedOut || this.s.closed) return
    this.s.closed = true
    try { await this.s.opening } catch (err) { safetyCatch(err) }
    try { await this.s.loading } catch (err) { safetyCatch(err) }
    await Promise.all([this.s.cores.metadata.close(), this.s.content?.close()])
  }

  async info (): Promise<DriveInfo> {
    await this.ready()
    const md = this.s.cores.metadata
    let content: Hypercore | null = this.s.content
    if (!content && md.length > 0) content = (await this.contentCore()).core
    let localBytes = 0
    if (content) {
      if (content.writable) localBytes = content.byteLength
      else {
        // no per-block sizes without tree reads: count local blocks at the block size
        let n = 0
        for (let i = 0; i < content.length; i++) if (content.has(i)) n++
        localBytes = Math.min(content.byteLength, n * (this.s.header?.blockSize ?? DEFAULT_BLOCK_SIZE))
      }
    }
    return {
      key: this.key,
      discoveryKey: this.discoveryKey,
      version: this.version,
      writable: this.writable,
      contentKey: content?.key ?? null,
      byteLength: content?.byteLength ?? 0,
      localBytes,
      peers: Math.max(md.peers, content?.peers ?? 0)
    }
  }

  checkout (version: number): Drive {
    if (!Number.isSafeInteger(version) || version < 0) throw HyperfsError.EINVAL(`bad version ${version}`)
    if (version > this.s.cores.metadata.length) throw HyperfsError.EINVAL(`version ${version} is past the latest (${this.s.cores.metadata.length})`)
    return new Hyperdrive(this.s.cores, this.s.opts, { state: this.s, version })
  }

  // ---- routing through mounts ----

  // Where `path` lives. With `into`, a mount point itself routes into the
  // mounted drive's root (for listings); without, it is the local entry.
  // Nested mounts are followed here, one drive at a time, so that a drive met
  // twice on one path is seen: that is a mount cycle.
  private async route (path: string, into: boolean): Promise<Route> {
    let comps = drivePath(path)
    let drive: Hyperdrive = this
    const chain = [this.id]
    while (true) {
      const hop = await drive.hop(comps, into)
      if (hop.kind !== 'mount') return drive === this ? hop : { kind: 'inner', drive, path: pathString(comps) }
      const inner = await drive.mounted(hop.mount)
      const rest = comps.slice(hop.depth)
      const id = driveId(inner)
      if (chain.includes(id)) return { kind: 'cycle', rest }
      if (chain.length > MAX_MOUNT_DEPTH) throw HyperfsError.ELOOP(`${path} passes through more than ${MAX_MOUNT_DEPTH} mounted drives`)
      chain.push(id)
      if (!(inner instanceof Hyperdrive)) return { kind: 'inner', drive: inner, path: pathString(rest) }
      drive = inner
      comps = rest
    }
  }

  // One drive's part of route(): local, a raw core, or the mount to go through.
  private async hop (comps: string[], into: boolean): Promise<Hop> {
    await this.ready()
    if (comps.length === 0) return { kind: 'local', comps }
    const m = await this.trie.closest(comps.join('/'), { hidden: true })
    if (!m) return { kind: 'local', comps }
    const depth = m.key === '' ? 0 : m.key.split('/').length
    if (depth === comps.length && !into) return { kind: 'local', comps }
    const mount = decodeMount(m.value!)
    if (mount.kind === 'core') {
      if (depth < comps.length) throw HyperfsError.ENOTDIR(pathString(comps.slice(0, depth)))
      return { kind: 'core', mount, comps }
    }
    return { kind: 'mount', mount, depth }
  }

  // which drive, and which version of it (mount cycles are drives met twice on one path)
  get id (): string {
    return this.key.toString('hex') + '@' + (this.checkedOut ? this.version : 'latest')
  }

  private async mounted (m: MountInfo): Promise<Drive> {
    if (!this.s.opts.openDrive) throw HyperfsError.EINVAL('this drive was opened without a way to open mounted drives')
    const d = await this.s.opts.openDrive(m.key)
    await d.ready()
    return m.version === null ? d : d.checkout(m.version)
  }

  private async mountedCore (m: MountInfo): Promise<{ core: Hypercore, length: number, byteLength: number }> {
    if (!this.s.opts.openCore) throw HyperfsError.EINVAL('this drive was opened without a way to open mounted cores')
    const core = await this.s.opts.openCore(m.key)
    await core.ready()
    const length = m.version === null ? core.length : Math.min(m.version, core.length)
    const byteLength = length === core.length ? core.byteLength : await core.tree.byteOffset(2 * length)
    return { core, length, byteLength }
  }

  // ---- reading ----

  // The root has no entry of its own. It shows the time of the drive's last
  // change (the newest of the latest entries' times), not 1970.
  private async rootStat (): Promise<Stat> {
    const version = this.version
    if (this.rootTime === null || this.rootTime.version !== version) {
      let ms = 0
      for await (const h of this.history({ gte: Math.max(1, version - ROOT_TIME_LOOKBACK + 1) })) {
        if (h.value) ms = Math.max(ms, h.value.mtime, h.value.ctime)
      }
      this.rootTime = { version, ms }
    }
    return { ...ROOT_STAT, mtime: this.rootTime.ms, ctime: this.rootTime.ms }
  }

  private async entry (comps: string[]): Promise<Stat | null> {
    if (comps.length === 0) return this.rootStat()
    const e = await this.trie.closest(comps.join('/'))
    const depth = e ? e.key.split('/').length : 0
    if (e && depth === comps.length) return decodeStat(e.value!)
    if (e && !isDir(decodeStat(e.value!))) throw HyperfsError.ENOTDIR(pathString(comps.slice(0, depth)))
    return null
  }

  private async localStat (comps: string[]): Promise<Stat> {
    const st = await this.entry(comps)
    if (!st) throw HyperfsError.ENOENT(pathString(comps))
    if (st.mount?.kind === 'core') {
      const c = await this.mountedCore(st.mount)
      return { ...st, size: c.byteLength, blocks: c.length }
    }
    return st
  }

  async lstat (path: string): Promise<Stat> {
    const r = await this.route(path, false)
    if (r.kind === 'inner') return r.drive.lstat(r.path)
    if (r.kind === 'cycle') throw HyperfsError.ENOENT(path)
    return this.localStat(r.comps)
  }

  async stat (path: string): Promise<Stat> {
    let comps = drivePath(path)
    for (let hops = 0; hops <= MAX_SYMLINK_HOPS; hops++) {
      const r = await this.route(pathString(comps), false)
      if (r.kind === 'inner') return r.drive.stat(r.path)
      if (r.kind === 'cycle') throw HyperfsError.ENOENT(path)
      const st = await this.localStat(r.comps)
      if (!isLink(st)) return st
      comps = linkTarget(comps.slice(0, -1), st.linkname!)
    }
    throw HyperfsError.ELOOP(path)
  }

  async readlink (path: string): Promise<string> {
    const st = await this.lstat(path)
    if (!isLink(st)) throw HyperfsError.EINVAL(`${path} is not a symlink`)
    return st.linkname!
  }

  async * readdir (path: string): AsyncIterable<DirEntry> {
    const r = await this.route(path, true)
    if (r.kind === 'inner') { yield * r.drive.readdir(r.path); return }
    if (r.kind === 'core') throw HyperfsError.ENOTDIR(path)
    if (r.kind === 'cycle') {
      if (r.rest.length > 0) throw HyperfsError.ENOENT(path)
      return // the mount point that closes a cycle is an empty folder
    }
    const st = await this.localStat(r.comps)
    if (!isDir(st)) throw HyperfsError.ENOTDIR(path)
    for await (const e of this.trie.list(r.comps.join('/'))) {
      const stat = this.entryStat(e)
      if (stat) yield { name: e.key.slice(e.key.lastIndexOf('/') + 1), stat }
    }
  }

  // The Stat of an entry listed from the trie, or null when the entry is not
  // one a drive can hold (its writer is hostile or broken): it is skipped, and
  // said in the log, rather than failing the whole listing.
  private entryStat (e: { key: string, value: Buffer | null }): Stat | null {
    const problem = keyProblem(e.key)
    if (problem) { this.warn(`skipped an entry with ${problem}: ${JSON.stringify(e.key.slice(0, 300))}`); return null }
    let st: Stat
    try {
      st = decodeStat(e.value!)
    } catch (err) {
      if (!isHyperfsError(err, 'DECODE_ERROR')) throw err
      this.warn(`skipped /${e.key}: ${err.message}`)
      return null
    }
    if (st.linkname !== null && st.linkname.includes('\0')) { this.warn(`skipped /${e.key}: a symlink target with a NUL byte`); return null }
    return st
  }

  private warn (msg: string): void {
    const n = this.s.warnings++
    if (!this.s.opts.onwarning || n > MAX_WARNINGS) return
    const drive = `drive ${this.key.toString('hex').slice(0, 16)}…`
    if (n === MAX_WARNINGS) this.s.opts.onwarning(`${drive}: more entries skipped; no more warnings for this drive`)
    else this.s.opts.onwarning(`${drive}: ${msg}`)
  }

  async getxattr (path: string, name: string): Promise<Buffer | null> {
    const m = (await this.lstat(path)).metadata
    return Object.hasOwn(m, name) ? m[name] : null
  }

  async listxattr (path: string): Promise<string[]> {
    return Object.keys((await this.lstat(path)).metadata)
  }

  // The file `path` names after following symlinks, and the drive holding it.
  private async target (path: string): Promise<{ route: Route, stat: Stat | null }> {
    let comps = drivePath(path)
    for (let hops = 0; hops <= MAX_SYMLINK_HOPS; hops++) {
      const r = await this.route(pathString(comps), true)
      if (r.kind !== 'local') return { route: r, stat: null }
      const st = await this.localStat(r.comps)
      if (!isLink(st)) return { route: r, stat: st }
      comps = linkTarget(comps.slice(0, -1), st.linkname!)
    }
    throw HyperfsError.ELOOP(path)
  }

  async read (path: string, opts: ReadOptions = {}): Promise<Buffer> {
    const chunks: Buffer[] = []
    for await (const c of this.bytes(path, opts.start ?? 0, opts.length, opts)) chunks.push(c)
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
  }

  createReadStream (path: string, opts: { start?: number, end?: number } = {}): Readable {
    const start = opts.start ?? 0
    const length = opts.end === undefined ? undefined : Math.max(0, opts.end - start + 1)
    return Readable.from(this.bytes(path, start, length, {}), { objectMode: false })
  }

  // The bytes [start, start + length) of a file, block by block, fetching a few
  // blocks ahead and nothing outside the range.
  private async * bytes (path: string, start: number, length: number | undefined, opts: ReadOptions): AsyncGenerator<Buffer> {
    if (!Number.isSafeInteger(start) || start < 0) throw HyperfsError.EINVAL(`bad start ${start}`)
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw HyperfsError.EINVAL(`bad length ${length}`)
    const { route, stat } = await this.target(path)
    if (route.kind === 'inner') {
      if (route.drive instanceof Hyperdrive) yield * route.drive.bytes(route.path, start, length, opts)
      else yield await route.drive.read(route.path, { ...opts, start, length })
      return
    }
    if (route.kind === 'core') { yield * this.coreBytes(route.mount, start, length, opts); return }
    if (route.kind === 'cycle') throw route.rest.length > 0 ? HyperfsError.ENOENT(path) : HyperfsError.EISDIR(path)
    const st = stat!
    if (isDir(st)) throw HyperfsError.EISDIR(path)
    const end = Math.min(st.size, length === undefined ? st.size : start + length)
    if (start >= end) return
    const { core, blockSize } = await this.contentCore()
    const getOpts = { timeout: opts.timeout ?? this.s.opts.timeout, signal: opts.signal }
    let pos = start
    const base = await this.fileBase(core, st)
    if (base !== null) {
      for (const chunk of this.localChunks(core, st, base, blockSize, start, end)) {
        pos += chunk.byteLength
        yield chunk
      }
      if (pos >= end) return
    }
    // the rest block by block, from peers where it is not local
    const first = Math.floor(pos / blockSize)
    const last = Math.floor((end - 1) / blockSize)
    const ahead: Array<Promise<Buffer | null>> = []
    let next = first
    for (let b = first; b <= last; b++) {
      while (next <= last && next < b + FETCH_AHEAD) ahead.push(handled(core.get(st.offset + next++, getOpts)))
      const block = (await ahead.shift())!
      const from = b === first ? pos - b * blockSize : 0
      const to = Math.min(blockSize, end - b * blockSize)
      if (block.byteLength < to) throw HyperfsError.STORAGE_CORRUPT(`content block ${st.offset + b} of ${path} is ${block.byteLength} bytes, expected at least ${to}`)
      yield block.subarray(from, to)
    }
  }

  // A reader that copies local file bytes straight into the caller's buffer
  // (the kernel's, through a mount); the core hashes each block there the
  // first time it is read, so the copy stays the only one. Null from readInto:
  // a block is not local, or a replica dropped a damaged one.
  async openReader (path: string): Promise<FileReader | null> {
    const { route, stat } = await this.target(path)
    if (route.kind === 'inner') return route.drive.openReader ? route.drive.openReader(route.path) : null
    if (route.kind !== 'local' || !stat || isDir(stat) || stat.size === 0) return null
    const st = stat
    const { core, blockSize } = await this.contentCore()
    const base = await this.fileBase(core, st)
    if (base === null) return null
    return {
      size: st.size,
      readInto (target, position, length) {
        const end = Math.min(st.size, position + length, target.byteLength + position)
        if (position >= end) return 0
        const first = st.offset + Math.floor(position / blockSize)
        const last = st.offset + Math.floor((end - 1) / blockSize)
        return core.readBytesInto(base + position, target, 0, end - position, first, last + 1)
      }
    }
  }

  // Where the file's first block starts in the content core. The Stat's
  // byteOffset comes from the writer and must agree with the content tree: a
  // wrong one must not send us to bytes of other blocks. Null: it does not
  // (or the tree cannot tell yet), so read block by block.
  private async fileBase (core: Hypercore, st: Stat): Promise<number | null> {
    if (st.offset >= core.length) return null
    const base = await core.tree.byteOffset(2 * st.offset).catch(() => null)
    return base === st.byteOffset ? base : null
  }

  // File bytes [start, end) read from the content core's data file a chunk of
  // whole blocks at a time, while they are local. The core checks each block
  // against its tree the first time it is read (STORAGE_CORRUPT on a writer);
  // stops early where a block is missing or a replica dropped a damaged one.
  private * localChunks (core: Hypercore, st: Stat, base: number, blockSize: number, start: number, end: number): Generator<Buffer> {
    const perChunk = Math.max(1, Math.floor(LOCAL_CHUNK / blockSize))
    for (let pos = start; pos < end;) {
      const b = Math.floor(pos / blockSize)
      const chunkEnd = Math.min(end, (b + perChunk) * blockSize)
      const buf = Buffer.allocUnsafe(chunkEnd - pos)
      const n = core.readBytesInto(base + pos, buf, 0, buf.byteLength, st.offset + b, st.offset + Math.floor((chunkEnd - 1) / blockSize) + 1)
      if (n !== buf.byteLength) return
      pos = chunkEnd
      yield buf
    }
  }

  private async * coreBytes (m: MountInfo, start: number, length: number | undefined, opts: ReadOptions): AsyncGenerator<Buffer> {
    const c = await this.mountedCore(m)
    const end = Math.min(c.byteLength, length === undefined ? c.byteLength : start + length)
    if (start >= end) return
    const getOpts = { timeout: opts.timeout ?? this.s.opts.timeout, signal: opts.signal }
    let [index, rel] = await this.seekCore(c.core, start, getOpts)
    let pos = start
    while (pos < end && index < c.length) {
      const block = (await c.core.get(index++, getOpts))!
      const piece = block.subarray(rel, Math.min(block.byteLength, rel + end - pos))
      rel = 0
      pos += piece.byteLength
      if (piece.byteLength) yield piece
    }
  }

  // Raw cores have blocks of any size, so a byte offset needs the core's seek:
  // the block that holds byte `bytes` of a mounted raw core comes from local
  // tree nodes when they are here, else from one seek round trip to a peer.
  private async seekCore (core: Hypercore, bytes: number, getOpts: { timeout?: number, signal?: AbortSignal }): Promise<[number, number]> {
    if (bytes === 0) return [0, 0]
    return core.seek(bytes, getOpts)
  }

  // ---- writing ----

  private assertWritable (path?: string): void {
    if (!this.writable) throw HyperfsError.EROFS(path ?? (this.checkedOut ? 'a checkout is read-only' : 'this drive is read-only here'))
  }

  // Puts for the missing folders above `comps` (mkdir -p); ENOTDIR when one is not a folder.
  private async parentOps (comps: string[]): Promise<Array<{ type: 'put', key: string, value: Buffer }>> {
    const ops: Array<{ type: 'put', key: string, value: Buffer }> = []
    for (let i = comps.length - 1; i >= 1; i--) {
      const st = await this.entry(comps.slice(0, i))
      if (st) {
        if (!isDir(st)) throw HyperfsError.ENOTDIR(pathString(comps.slice(0, i)))
        break
      }
      ops.unshift({ type: 'put', key: comps.slice(0, i).join('/'), value: encodeStat(statEntry({ mode: S_IFDIR | 0o755 })) })
    }
    return ops
  }

  // Routes a write: local components, or the mounted drive that takes it.
  private async writeRoute (path: string): Promise<{ comps: string[] } | { drive: Drive, path: string }> {
    this.assertWritable(path)
    const r = await this.route(path, false)
    if (r.kind === 'inner') return { drive: r.drive, path: r.path }
    if (r.kind === 'core') throw HyperfsError.EROFS(`${path} is a mounted core`)
    if (r.kind === 'cycle') throw HyperfsError.EROFS(`${path} is inside a mount cycle`)
    return { comps: r.comps }
  }

  async writeFile (path: string, data: Buffer | AsyncIterable<Uint8Array>, opts: WriteOptions = {}): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.writeFile(w.path, data, opts)
    const comps = w.comps
    if (comps.length === 0) throw HyperfsError.EISDIR('/')
    await this.checkFileTarget(comps)
    const { core, blockSize } = await this.contentCore()
    const writer = await ContentWriter.open(core, blockSize, this.s.contentLock)
    let range
    try {
      if (Buffer.isBuffer(data) || data instanceof Uint8Array) await writer.write(data)
      else for await (const chunk of data) await writer.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      range = await writer.finish()
    } catch (err) {
      writer.abort()
      throw err
    }
    await this.s.meta.run(async () => {
      const prev = await this.checkFileTarget(comps)
      const st = statEntry({
        mode: S_IFREG | ((opts.mode ?? (prev ? prev.mode : 0o644)) & 0o7777),
        uid: opts.uid ?? prev?.uid ?? 0,
        gid: opts.gid ?? prev?.gid ?? 0,
        mtime: opts.mtime ?? Date.now(),
        metadata: opts.metadata ?? {},
        ...range
      })
      await this.trie.batch([...await this.parentOps(comps), { type: 'put', key: comps.join('/'), value: encodeStat(st) }])
    })
  }

  // A file may be (re)written at comps: not over a folder or mount point.
  private async checkFileTarget (comps: string[]): Promise<Stat | null> {
    const prev = await this.entry(comps)
    if (prev && isDir(prev)) throw HyperfsError.EISDIR(pathString(comps))
    if (prev?.mount) throw HyperfsError.EROFS(`${pathString(comps)} is a mount point`)
    if (!prev) await this.parentOps(comps)
    return prev
  }

  createWriteStream (path: string, opts: WriteOptions = {}): Writable {
    const queue = new ChunkQueue()
    const done = this.writeFile(path, queue, opts)
    done.catch((err) => queue.fail(err))
    return new Writable({
      write (chunk: Buffer, _enc, cb) { queue.push(chunk, cb) },
      final (cb) { queue.end(); done.then(() => cb(), cb) },
      destroy (err, cb) {
        if (err) queue.fail(err)
        else queue.end()
        cb(err)
      }
    })
  }

  // Applies fn to the entry at path (not following symlinks), under the metadata lock.
  private async update (path: string, fn: (st: Stat) => Stat, pass: (d: Drive, p: string) => Promise<void>): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return pass(w.drive, w.path)
    if (w.comps.length === 0) throw HyperfsError.EINVAL('the root has no entry to change')
    await this.s.meta.run(async () => {
      const st = await this.entry(w.comps)
      if (!st) throw HyperfsError.ENOENT(path)
      await this.trie.put(w.comps.join('/'), encodeStat({ ...fn(st), ctime: Date.now() }))
    })
  }

  async truncate (path: string, size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw HyperfsError.EINVAL(`bad size ${size}`)
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.truncate(w.path, size)
    const st = await this.localStat(w.comps)
    if (isDir(st)) throw HyperfsError.EISDIR(path)
    if (!isFile(st)) throw HyperfsError.EINVAL(`${path} is not a regular file`)
    if (size <= st.size) {
      const { blockSize } = await this.contentCore()
      return this.update(path, (s) => ({ ...s, size, blocks: Math.ceil(size / blockSize), mtime: Date.now() }), async () => {})
    }
    // growing: the file's blocks are a contiguous run, so it is rewritten with the zeros
    const self = this
    async function * grown () {
      yield * self.bytes(path, 0, undefined, {})
      let left = size - st.size
      while (left > 0) {
        const n = Math.min(left, 1024 * 1024)
        yield Buffer.alloc(n)
        left -= n
      }
    }
    await this.writeFile(path, grown(), { mode: st.mode, uid: st.uid, gid: st.gid, metadata: st.metadata })
  }

  async mkdir (path: string, opts: { mode?: number } = {}): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.mkdir(w.path, opts)
    if (w.comps.length === 0) throw HyperfsError.EEXIST('/')
    await this.s.meta.run(async () => {
      if (await this.entry(w.comps)) throw HyperfsError.EEXIST(path)
      const st = statEntry({ mode: S_IFDIR | ((opts.mode ?? 0o755) & 0o7777) })
      await this.trie.batch([...await this.parentOps(w.comps), { type: 'put', key: w.comps.join('/'), value: encodeStat(st) }])
    })
  }

  async rmdir (path: string): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.rmdir(w.path)
    if (w.comps.length === 0) throw HyperfsError.EBUSY('cannot remove the root')
    await this.s.meta.run(async () => {
      const st = await this.localStat(w.comps)
      if (!isDir(st)) throw HyperfsError.ENOTDIR(path)
      if (st.mount) throw HyperfsError.EBUSY(`${path} is a mount point; unmount it`)
      for await (const _ of this.trie.list(w.comps.join('/'))) throw HyperfsError.ENOTEMPTY(path)
      await this.trie.del(w.comps.join('/'))
    })
  }

  async unlink (path: string): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.unlink(w.path)
    if (w.comps.length === 0) throw HyperfsError.EISDIR('/')
    await this.s.meta.run(async () => {
      const st = await this.localStat(w.comps)
      if (isDir(st)) throw HyperfsError.EISDIR(path)
      if (st.mount) throw HyperfsError.EBUSY(`${path} is a mount point; unmount it`)
      await this.trie.del(w.comps.join('/'))
    })
  }

  async rename (from: string, to: string): Promise<void> {
    this.assertWritable(from)
    const [a, b] = await Promise.all([this.route(from, false), this.route(to, false)])
    if (a.kind === 'inner' && b.kind === 'inner' && a.drive === b.drive) return a.drive.rename(a.path, b.path)
    if (a.kind === 'cycle' || b.kind === 'cycle') throw HyperfsError.EROFS(`${from} -> ${to} is inside a mount cycle`)
    if (a.kind !== 'local' || b.kind !== 'local') throw HyperfsError.EXDEV(`${from} -> ${to} crosses a mount`)
    const src = a.comps
    const dst = b.comps
    if (src.length === 0 || dst.length === 0) throw HyperfsError.EBUSY('cannot rename the root')
    const srcKey = src.join('/')
    const dstKey = dst.join('/')
    await this.s.meta.run(async () => {
      const st = await this.localStat(src)
      if (srcKey === dstKey) return
      if (dstKey.startsWith(srcKey + '/')) throw HyperfsError.EINVAL(`cannot move ${from} into itself`)
      const existing = await this.entry(dst)
      if (existing) {
        if (existing.mount) throw HyperfsError.EBUSY(`${to} is a mount point`)
        if (isDir(st) && !isDir(existing)) throw HyperfsError.ENOTDIR(to)
        if (!isDir(st) && isDir(existing)) throw HyperfsError.EISDIR(to)
        if (isDir(existing)) for await (const _ of this.trie.list(dstKey)) throw HyperfsError.ENOTEMPTY(to)
      }
      const ops: Array<{ type: 'put' | 'del', key: string, value?: Buffer, hidden?: boolean }> = [...await this.parentOps(dst)]
      const move = (key: string, value: Buffer, hidden: boolean) => {
        ops.push({ type: 'del', key, hidden })
        ops.push({ type: 'put', key: dstKey + key.slice(srcKey.length), value, hidden })
      }
      move(srcKey, encodeStat({ ...st, ctime: Date.now() }), false)
      if (isDir(st)) {
        for await (const e of this.trie.list(srcKey, { recursive: true })) move(e.key, e.value!, false)
      }
      const hidden = await this.trie.get(srcKey, { hidden: true })
      if (hidden) move(srcKey, hidden.value!, true)
      if (isDir(st)) {
        for await (const e of this.trie.list(srcKey, { recursive: true, hidden: true })) move(e.key, e.value!, true)
      }
      await this.trie.batch(ops)
    })
  }

  async symlink (target: string, path: string): Promise<void> {
    if (typeof target !== 'string' || target.length === 0) throw HyperfsError.EINVAL('a symlink needs a target')
    if (target.includes('\0')) throw HyperfsError.INVALID_NAME('a symlink target cannot hold a NUL byte')
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.symlink(target, w.path)
    if (w.comps.length === 0) throw HyperfsError.EEXIST('/')
    await this.s.meta.run(async () => {
      if (await this.entry(w.comps)) throw HyperfsError.EEXIST(path)
      const st = statEntry({ mode: S_IFLNK | 0o777, linkname: target, size: Buffer.byteLength(target) })
      await this.trie.batch([...await this.parentOps(w.comps), { type: 'put', key: w.comps.join('/'), value: encodeStat(st) }])
    })
  }

  chmod (path: string, mode: number): Promise<void> {
    return this.update(path, (s) => ({ ...s, mode: (s.mode & S_IFMT) | (mode & 0o7777) }), (d, p) => d.chmod(p, mode))
  }

  chown (path: string, uid: number, gid: number): Promise<void> {
    return this.update(path, (s) => ({ ...s, uid, gid }), (d, p) => d.chown(p, uid, gid))
  }

  utimes (path: string, atime: number, mtime: number): Promise<void> {
    return this.update(path, (s) => ({ ...s, mtime }), (d, p) => d.utimes(p, atime, mtime))
  }

  setxattr (path: string, name: string, value: Buffer): Promise<void> {
    if (!name) return Promise.reject(HyperfsError.EINVAL('an xattr needs a name'))
    return this.update(path, (s) => {
      // a null-prototype record, so that a name such as "__proto__" is just a name
      const metadata: Record<string, Buffer> = Object.assign(Object.create(null), s.metadata)
      metadata[name] = Buffer.from(value)
      return { ...s, metadata }
    }, (d, p) => d.setxattr(p, name, value))
  }

  removexattr (path: string, name: string): Promise<void> {
    return this.update(path, (s) => {
      const metadata: Record<string, Buffer> = Object.assign(Object.create(null), s.metadata)
      delete metadata[name]
      return { ...s, metadata }
    }, (d, p) => d.removexattr(p, name))
  }

  // ---- versions ----

  async * history (opts: { gte?: number, lt?: number } = {}): AsyncIterable<HistoryEntry> {
    await this.ready()
    // the node in block s is what version s + 1 added
    const gte = opts.gte === undefined ? undefined : opts.gte - 1
    const lt = opts.lt === undefined ? undefined : opts.lt - 1
    for await (const e of this.trie.history({ gte, lt })) {
      if (e.hidden) continue
      if (!e.value) {
        if (!keyProblem(e.key)) yield { version: e.seq + 1, type: 'del', name: '/' + e.key, value: null }
        continue
      }
      const value = this.entryStat(e)
      if (value) yield { version: e.seq + 1, type: 'put', name: '/' + e.key, value }
    }
  }

  async * diff (from: number, to?: number, prefix = '/'): AsyncIterable<DiffEntry> {
    await this.ready()
    const trie = to === undefined || to === this.version ? this.trie : this.trie.checkout(to)
    for await (const e of trie.diff(from, { prefix: drivePath(prefix).join('/') })) {
      const previous = e.previous ? this.entryStat({ key: e.key, value: e.previous }) : null
      if (e.type === 'put') {
        const value = this.entryStat(e)
        if (value) yield { type: 'put', name: '/' + e.key, value, previous }
      } else if (previous) {
        yield { type: 'del', name: '/' + e.key, previous }
      }
    }
  }

  // One event per new version that changed something at or under `path`.
  // Ends when the signal aborts or the drive closes; a checkout never changes.
  async * watch (path = '/', opts: { signal?: AbortSignal } = {}): AsyncIterable<WatchEvent> {
    await this.ready()
    if (this.checkedOut) return
    const prefix = drivePath(path).join('/')
    const md = this.s.cores.metadata
    let wake: (() => void) | null = null
    const poke = () => { const w = wake; wake = null; w?.() }
    md.on('append', poke)
    md.on('close', poke)
    opts.signal?.addEventListener('abort', poke)
    try {
      let seen = md.length
      while (!opts.signal?.aborted && !this.s.closed && !md.closed) {
        if (md.length > seen) {
          const now = md.length
          const view = this.s.trie.checkout(now)
          let changed = false
          for await (const _ of view.diff(seen, { prefix })) { changed = true; break }
          seen = now
          if (changed) yield { version: now, path: pathString(drivePath(path)) }
          continue
        }
        await new Promise<void>((resolve) => { wake = resolve })
      }
    } finally {
      md.off('append', poke)
      md.off('close', poke)
      opts.signal?.removeEventListener('abort', poke)
    }
  }

  // ---- mounts ----

  async mount (path: string, key: Buffer, opts: { version?: number, kind?: 'drive' | 'core' } = {}): Promise<void> {
    if (!Buffer.isBuffer(key) || key.byteLength !== 32) throw HyperfsError.EINVAL('a mount key is 32 bytes')
    if (opts.version !== undefined && (!Number.isSafeInteger(opts.version) || opts.version < 0)) throw HyperfsError.EINVAL(`bad version ${opts.version}`)
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.mount(w.path, key, opts)
    if (w.comps.length === 0) throw HyperfsError.EBUSY('cannot mount over the root')
    const info: MountInfo = { key: Buffer.from(key), version: opts.version ?? null, kind: opts.kind ?? 'drive' }
    if (info.kind === 'drive') await this.checkCycle(info, path)
    await this.s.meta.run(async () => {
      if (await this.entry(w.comps)) throw HyperfsError.EEXIST(path)
      const k = w.comps.join('/')
      await this.trie.batch([
        ...await this.parentOps(w.comps),
        { type: 'put', key: k, value: encodeStat(mountStat(info)) },
        { type: 'put', key: k, value: encode(driveMount, info), hidden: true }
      ])
    })
  }

  async unmount (path: string): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.unmount(w.path)
    await this.s.meta.run(async () => {
      const st = await this.localStat(w.comps)
      if (!st.mount) throw HyperfsError.EINVAL(`${path} is not a mount point`)
      const k = w.comps.join('/')
      await this.trie.batch([{ type: 'del', key: k }, { type: 'del', key: k, hidden: true }])
    })
  }

  // Refuses a mount of `m` here when it would close a cycle: when this drive
  // (as it follows its latest version) is `m`, or is mounted somewhere in
  // the drives `m` reaches. Only drives held here are looked through, and only
  // what of them is local; a cycle through anything else is met on reads.
  private async checkCycle (m: MountInfo, path: string): Promise<void> {
    const self = this.id
    const seen = new Set<string>()
    const queue: MountInfo[] = [m]
    while (queue.length > 0 && seen.size < MAX_WALK_DRIVES) {
      const next = queue.shift()!
      const id = next.key.toString('hex') + '@' + (next.version ?? 'latest')
      if (id === self) throw HyperfsError.MOUNT_CYCLE(`${path}: mounting ${next === m ? 'this drive in itself' : 'that drive here'} would make a loop`)
      if (seen.has(id)) continue
      seen.add(id)
      const d = await this.heldDrive(next)
      if (!d) continue
      try {
        for await (const sub of d.localMounts()) if (sub.kind === 'drive') queue.push(sub)
      } catch (err) {
        if (!isHyperfsError(err, 'BLOCK_NOT_AVAILABLE', 'DECODE_ERROR')) throw err
      }
    }
  }

  private async heldDrive (m: MountInfo): Promise<Hyperdrive | null> {
    let d: Drive | null = null
    if (m.key.equals(this.key)) d = this // writable, so not a checkout
    else if (this.s.opts.heldDrive) d = await this.s.opts.heldDrive(m.key)
    if (!(d instanceof Hyperdrive)) return null
    if (m.version === null) return d
    try {
      return d.checkout(m.version) as Hyperdrive
    } catch (err) {
      if (isHyperfsError(err, 'EINVAL')) return null // a version not here yet
      throw err
    }
  }

  // The mounts recorded in this drive, from local blocks only.
  private async * localMounts (): AsyncIterable<MountInfo> {
    await this.ready()
    for await (const e of this.trie.list('', { recursive: true, hidden: true, wait: false })) {
      if (!keyProblem(e.key)) yield decodeMount(e.value!)
    }
  }

  async * mounts (): AsyncIterable<{ path: string, mount: MountInfo }> {
    await this.ready()
    for await (const e of this.trie.list('', { recursive: true, hidden: true })) {
      const problem = keyProblem(e.key)
      if (problem) { this.warn(`skipped a mount with ${problem}: ${JSON.stringify(e.key.slice(0, 300))}`); continue }
      let mount: MountInfo
      try {
        mount = decodeMount(e.value!)
      } catch (err) {
        if (!isHyperfsError(err, 'DECODE_ERROR')) throw err
        this.warn(`skipped the mount at /${e.key}: ${err.message}`)
        continue
      }
      yield { path: '/' + e.key, mount }
    }
  }

  // ---- prefetch ----

  // Each drive a download reaches (the one named, then each one mounted
  // below it, once however often it is mounted) is a part of its own: its
  // files are listed, then fetched as ranges of its content core
  // (range-fetch.ts). A part that fails (a drive no peer sends, blocks that
  // stop coming, a listing cut short) is reported through onprogress and the
  // walk goes on; download then rejects with DOWNLOAD_INCOMPLETE. The caller's
  // signal, a path that does not exist and a walk past MAX_WALK_DRIVES end it
  // at once.
  async download (path = '/', opts: DownloadOptions = {}): Promise<void> {
    const walk: DownloadWalk = { opts, timeout: opts.timeout ?? this.s.opts.timeout ?? DEFAULT_DOWNLOAD_TIMEOUT, visited: new Set(), parts: 0, failed: [] }
    const at = pathString(drivePath(path))
    const r = await this.route(at, true)
    if (r.kind === 'core') await this.downloadCore(r.mount, at, walk)
    else if (r.kind === 'local') await this.downloadPart(r.comps, at, walk, true)
    else if (r.kind === 'inner') {
      if (r.drive instanceof Hyperdrive) await r.drive.downloadPart(drivePath(r.path), at, walk, true)
      else await downloadForeign(r.drive, r.path, at, walk)
    }
    if (walk.failed.length === 0) return
    const why = walk.failed.map((f) => `${f.path}: ${f.error?.message}`).join('; ')
    throw HyperfsError.DOWNLOAD_INCOMPLETE(`${walk.failed.length} of ${walk.parts} drives failed (${why})`)
  }

  // This drive's part: the files under `comps`, then the drives mounted there.
  private async downloadPart (comps: string[], at: string, walk: DownloadWalk, first = false): Promise<void> {
    if (comps.length === 0) {
      if (walk.visited.has(this.id)) return
      if (walk.visited.size >= MAX_WALK_DRIVES) throw HyperfsError.WALK_TOO_DEEP(`a download walks into at most ${MAX_WALK_DRIVES} drives`)
      walk.visited.add(this.id)
    }
    // a path that names nothing to fetch fails the download, not a part of it
    let st = first ? await this.stated(comps, walk) : null
    const status: DownloadStatus = { path: at, key: this.key, kind: 'drive', files: 0, bytes: 0, total: 0, state: 'listing', error: null }
    walk.parts++
    const mounts: Array<{ comps: string[], key: Buffer }> = []
    try {
      walk.opts.onprogress?.({ ...status })
      if (!st) st = await this.stated(comps, walk)
      const files: Stat[] = []
      const add = (f: Stat): void => { files.push(f); status.files++; status.total += f.size }
      if (isDir(st) && !st.mount) {
        for await (const e of this.trie.list(comps.join('/'), { recursive: true })) {
          const s = this.entryStat(e)
          if (!s) continue
          if (s.mount) mounts.push({ comps: e.key.split('/'), key: s.mount.key })
          else if (isFile(s)) add(s)
        }
      } else if (isFile(st)) add(st)
      status.state = 'fetching'
      walk.opts.onprogress?.({ ...status })
      await this.fetchFiles(files, status, walk)
      status.bytes = status.total
      status.state = 'done'
      walk.opts.onprogress?.({ ...status })
    } catch (err) {
      failPart(status, err, walk)
    }
    for (const m of mounts) await this.downloadMount(m.comps, m.key, under(at, pathString(m.comps.slice(comps.length))), walk)
  }

  // A drive whose metadata no peer has sent is not found (rather than listed
  // as empty, and "downloaded" with nothing in it).
  private async stated (comps: string[], walk: DownloadWalk): Promise<Stat> {
    const md = this.s.cores.metadata
    if (md.length === 0 && !md.writable) await md.update({ timeout: walk.timeout })
    if (md.length === 0 && !md.writable) {
      throw HyperfsError.from('DRIVE_NOT_FOUND', `no peer sent this drive within ${walk.timeout} ms (${holders(md)})`)
    }
    return this.localStat(comps)
  }

  private async fetchFiles (files: Stat[], status: DownloadStatus, walk: DownloadWalk): Promise<void> {
    const withBlocks = files.filter((f) => f.blocks > 0)
    if (withBlocks.length === 0) return
    const { core, blockSize } = await this.contentCore()
    for (const f of withBlocks) {
      let n = 0
      for (let i = 0; i < f.blocks; i++) if (core.has(f.offset + i)) n++
      status.bytes += n === f.blocks ? f.size : Math.min(f.size, n * blockSize)
    }
    walk.opts.onprogress?.({ ...status })
    await fetchRanges(core, withBlocks.map((f): BlockRange => [f.offset, f.offset + f.blocks]), {
      signal: walk.opts.signal,
      timeout: walk.timeout,
      onblock: (bytes) => {
        status.bytes = Math.min(status.total, status.bytes + bytes)
        walk.opts.onprogress?.({ ...status })
      }
    })
  }

  // The drive (or raw core) mounted at `comps`, found the way a read finds it.
  private async downloadMount (comps: string[], key: Buffer, at: string, walk: DownloadWalk): Promise<void> {
    let r: Route
    try {
      r = await this.route(pathString(comps), true)
    } catch (err) {
      walk.parts++
      failPart({ path: at, key, kind: 'drive', files: 0, bytes: 0, total: 0, state: 'listing', error: null }, err, walk)
      return
    }
    if (r.kind === 'core') await this.downloadCore(r.mount, at, walk)
    else if (r.kind === 'inner') {
      if (r.drive instanceof Hyperdrive) await r.drive.downloadPart(drivePath(r.path), at, walk)
      else await downloadForeign(r.drive, r.path, at, walk)
    }
    // 'cycle': a drive already on the way; 'local': an entry that only looks like a mount
  }

  // A raw core mounted as a file: one file, fetched whole.
  private async downloadCore (m: MountInfo, at: string, walk: DownloadWalk): Promise<void> {
    const id = 'core:' + m.key.toString('hex') + '@' + (m.version ?? 'latest')
    if (walk.visited.has(id)) return
    walk.visited.add(id)
    walk.parts++
    const status: DownloadStatus = { path: at, key: m.key, kind: 'core', files: 1, bytes: 0, total: 0, state: 'listing', error: null }
    try {
      walk.opts.onprogress?.({ ...status })
      let c = await this.mountedCore(m)
      if (c.length === 0 && !c.core.writable) {
        await c.core.update({ timeout: walk.timeout })
        c = await this.mountedCore(m)
        if (c.length === 0) throw HyperfsError.from('DRIVE_NOT_FOUND', `no peer sent this core within ${walk.timeout} ms (${holders(c.core)})`)
      }
      status.total = c.byteLength
      let n = 0
      for (let i = 0; i < c.length; i++) if (c.core.has(i)) n++
      status.bytes = n === c.length ? c.byteLength : Math.floor(c.byteLength * n / c.length)
      status.state = 'fetching'
      walk.opts.onprogress?.({ ...status })
      await fetchRanges(c.core, [[0, c.length]], {
        signal: walk.opts.signal,
        timeout: walk.timeout,
        onblock: (bytes) => {
          status.bytes = Math.min(status.total, status.bytes + bytes)
          walk.opts.onprogress?.({ ...status })
        }
      })
      status.bytes = status.total
      status.state = 'done'
      walk.opts.onprogress?.({ ...status })
    } catch (err) {
      failPart(status, err, walk)
    }
  }
}

// The walk of one download(): what it has been through and what failed.
interface DownloadWalk {
  opts: DownloadOptions
  timeout: number
  visited: Set<string> // drives (key@version) and raw cores already downloaded
  parts: number
  failed: DownloadStatus[]
}

// A part failed: reported, and the walk goes on, unless the caller stopped it
// or the error is a bug.
function failPart (status: DownloadStatus, err: unknown, walk: DownloadWalk): void {
  if (walk.opts.signal?.aborted || isHyperfsError(err, 'WALK_TOO_DEEP')) throw err
  safetyCatch(err)
  status.state = 'failed'
  status.error = err instanceof Error ? err : new Error(String(err))
  walk.failed.push({ ...status })
  walk.opts.onprogress?.({ ...status })
}

// A mounted drive of another kind: one part, its statuses under the mount point.
async function downloadForeign (d: Drive, path: string, at: string, walk: DownloadWalk): Promise<void> {
  walk.parts++
  try {
    await d.download(path, {
      signal: walk.opts.signal,
      timeout: walk.timeout,
      onprogress: (s) => walk.opts.onprogress?.({ ...s, path: under(at, path === '/' ? s.path : s.path.slice(path.length) || '/') })
    })
  } catch (err) {
    failPart({ path: at, key: d.key, kind: 'drive', files: 0, bytes: 0, total: 0, state: 'listing', error: null }, err, walk)
  }
}

function holders (core: Hypercore): string {
  const n = core.peers
  return n === 0 ? 'no connected peer has it' : `${n} connected peer${n === 1 ? ' has' : 's have'} it`
}

// `rest`, a path below the one a part began at, as a path of the download
function under (at: string, rest: string): string {
  return rest === '/' ? at : at === '/' ? rest : at + rest
}

function driveId (d: Drive): string {
  return d instanceof Hyperdrive ? d.id : d.key.toString('hex') + '@latest'
}

function encodeStat (st: Stat): Buffer {
  return encode(driveStat, st)
}

function decodeStat (b: Buffer): Stat {
  try {
    return decode(driveStat, b)
  } catch (err) {
    throw HyperfsError.DECODE_ERROR('drive entry: ' + (err as Error).message)
  }
}

function decodeMount (b: Buffer): MountInfo {
  try {
    return decode(driveMount, b)
  } catch (err) {
    throw HyperfsError.DECODE_ERROR('mount record: ' + (err as Error).message)
  }
}

