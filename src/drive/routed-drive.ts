// RoutedDrive: the Drive of any format. It owns what is the same in every
// format: path normalisation, symlinks, and mounts. The format below it
// (drive-format.ts) keeps the entries; this layer decides where a path lives.
//
// Mounts: a path is routed by asking the format for the closest mount record
// at or above it; anything below a mount point is passed to the mounted drive
// with the rest of the path. A path that enters a drive already on its way
// (a drive mounting itself, or its parent) has met a mount cycle: that mount
// point is an empty folder, so a walk of the tree (find, ls -r) ends. mount()
// refuses a cycle it can see from here; one in drives from elsewhere is only
// met on reads. Nested RoutedDrives are followed here, one drive at a time,
// whatever their format; any other Drive is passed the rest of the path.
//
// A raw core mounted as a file is read here too: its blocks have any size, so
// a byte offset goes through the core's seek.
//
// Nothing assumes blocks are local, and a mount record comes from the writer,
// who may be hostile: a path passes through at most MAX_MOUNT_DEPTH drives.
import { Readable, Writable } from 'node:stream'
import type { Hypercore } from '../core/hypercore.js'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import { drivePath, pathString, linkTarget } from './drive-path.js'
import { isDir, isFile, isLink } from './stat-entry.js'
import { ChunkQueue } from './chunk-queue.js'
import { fetchRanges } from './range-fetch.js'
import type { DriveFormat, DriveFormatName } from './drive-format.js'
import {
  type Drive, type DriveInfo, type FileReader, type Stat, type DirEntry, type ReadOptions, type WriteOptions, type FilePatch,
  type DiffEntry, type HistoryEntry, type WatchEvent, type MountInfo, type DownloadOptions, type DownloadStatus, S_IFMT
} from './types.js'

const MAX_SYMLINK_HOPS = 40
// drives one path may pass through (mounts within mounts) before ELOOP
const MAX_MOUNT_DEPTH = 32
// drives one download() may walk into, and mount() may look through for a cycle
const MAX_WALK_DRIVES = 1024
// ms a download waits for a block (or a mounted drive) when neither the call nor the drive says
const DEFAULT_DOWNLOAD_TIMEOUT = 10_000

export interface MountOptions {
  openDrive?: (key: Buffer) => Promise<Drive> // for drive mounts
  // a drive held here, or null, without waiting for peers (mount()'s cycle check)
  heldDrive?: (key: Buffer) => Promise<Drive | null>
  openCore?: (key: Buffer) => Promise<Hypercore> // for raw core mounts
  timeout?: number // default wait for blocks that are not local
}

type Route =
  | { kind: 'local', comps: string[] }
  | { kind: 'inner', drive: Drive, path: string }
  | { kind: 'core', mount: MountInfo, comps: string[] }
  | { kind: 'cycle', rest: string[] } // `rest` below a mount point that closes a cycle

// a retain(): its stat once known (null while it is looked up)
interface Hold { stat: Stat | null, settled: Promise<unknown> | null }

type Hop = Route | { kind: 'mount', mount: MountInfo, depth: number }

export class RoutedDrive implements Drive {
  readonly fmt: DriveFormat
  private mountOpts: MountOptions
  // what retain() keeps from gc, shared by the drive and its checkouts
  private held: Set<Hold>

  constructor (format: DriveFormat, opts: MountOptions = {}, held = new Set<Hold>()) {
    this.fmt = format
    this.mountOpts = opts
    this.held = held
  }

  get format (): DriveFormatName { return this.fmt.format }
  get key (): Buffer { return this.fmt.key }
  get discoveryKey (): Buffer { return this.fmt.discoveryKey }
  get writable (): boolean { return this.fmt.writable }
  get version (): number { return this.fmt.version }
  // the core named by the drive key, and the core of file bytes once known
  get metadata (): Hypercore { return this.fmt.metadata }
  get content (): Hypercore | null { return this.fmt.content }
  get historyIsLocal (): boolean { return this.fmt.historyIsLocal }
  // which drive, and which version of it (mount cycles are drives met twice on one path)
  get id (): string { return this.fmt.id }

  ready (): Promise<void> { return this.fmt.ready() }
  close (): Promise<void> { return this.fmt.close() }
  info (): Promise<DriveInfo> { return this.fmt.info() }

  checkout (version: number): Drive {
    return new RoutedDrive(this.fmt.checkout(version), this.mountOpts, this.held)
  }

  // ---- content kept from gc (types.ts retain) ----

  // Kept by the drive that holds the path: a file inside a mounted drive is
  // that drive's content (held from when its route is known). A raw core
  // mounted as a file has nothing to keep. The hold begins with the call,
  // before anything is awaited, and gc waits for it to learn its stat
  // (retainSettled): a stat looked up in a version gc is about to free is kept.
  retain (path: string, stat: Stat | Promise<Stat | null>): Promise<() => void> {
    const hold: Hold = { stat: null, settled: null }
    this.held.add(hold)
    const release = (): void => { this.held.delete(hold) }
    const settled = (async (): Promise<() => void> => {
      const st = await stat
      const r = st ? await this.route(path, false) : null
      if (st && r?.kind === 'local') {
        hold.stat = st
        return release
      }
      release()
      return st && r?.kind === 'inner' && r.drive.retain ? r.drive.retain(r.path, st) : () => {}
    })()
    settled.catch(release)
    hold.settled = settled
    return settled
  }

  retained (): Stat[] {
    const out: Stat[] = []
    for (const h of this.held) if (h.stat) out.push(h.stat)
    return out
  }

  async retainSettled (): Promise<void> {
    await Promise.allSettled([...this.held].map((h) => h.settled))
  }

  // ---- routing through mounts ----

  // Where `path` lives. With `into`, a mount point itself routes into the
  // mounted drive's root (for listings); without, it is the local entry.
  private async route (path: string, into: boolean): Promise<Route> {
    let comps = drivePath(path)
    let drive: RoutedDrive = this
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
      if (!(inner instanceof RoutedDrive)) return { kind: 'inner', drive: inner, path: pathString(rest) }
      drive = inner
      comps = rest
    }
  }

  // One drive's part of route(): local, a raw core, or the mount to go through.
  private async hop (comps: string[], into: boolean): Promise<Hop> {
    await this.fmt.ready()
    if (comps.length === 0) return { kind: 'local', comps }
    const m = await this.fmt.mountAt(comps)
    if (!m) return { kind: 'local', comps }
    if (m.depth === comps.length && !into) return { kind: 'local', comps }
    if (m.mount.kind === 'core') {
      if (m.depth < comps.length) throw HyperfsError.ENOTDIR(pathString(comps.slice(0, m.depth)))
      return { kind: 'core', mount: m.mount, comps }
    }
    return { kind: 'mount', mount: m.mount, depth: m.depth }
  }

  private async mounted (m: MountInfo): Promise<Drive> {
    if (!this.mountOpts.openDrive) throw HyperfsError.EINVAL('this drive was opened without a way to open mounted drives')
    const d = await this.mountOpts.openDrive(m.key)
    await d.ready()
    return m.version === null ? d : d.checkout(m.version)
  }

  private async mountedCore (m: MountInfo): Promise<{ core: Hypercore, length: number, byteLength: number }> {
    if (!this.mountOpts.openCore) throw HyperfsError.EINVAL('this drive was opened without a way to open mounted cores')
    const core = await this.mountOpts.openCore(m.key)
    await core.ready()
    const length = m.version === null ? core.length : Math.min(m.version, core.length)
    const byteLength = length === core.length ? core.byteLength : await core.tree.byteOffset(2 * length)
    return { core, length, byteLength }
  }

  // ---- reading ----

  private async localStat (comps: string[]): Promise<Stat> {
    const st = await this.fmt.entry(comps)
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
    yield * this.fmt.list(r.comps)
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

  createReadStream (path: string, opts: { start?: number, end?: number, signal?: AbortSignal, timeout?: number } = {}): Readable {
    const start = opts.start ?? 0
    const length = opts.end === undefined ? undefined : Math.max(0, opts.end - start + 1)
    return Readable.from(this.bytes(path, start, length, opts), { objectMode: false })
  }

  // The bytes [start, start + length) of a file, in the chunks its format reads.
  private async * bytes (path: string, start: number, length: number | undefined, opts: ReadOptions): AsyncGenerator<Buffer> {
    if (!Number.isSafeInteger(start) || start < 0) throw HyperfsError.EINVAL(`bad start ${start}`)
    if (length !== undefined && (!Number.isSafeInteger(length) || length < 0)) throw HyperfsError.EINVAL(`bad length ${length}`)
    const { route, stat } = await this.target(path)
    if (route.kind === 'inner') {
      if (route.drive instanceof RoutedDrive) { yield * route.drive.bytes(route.path, start, length, opts); return }
      if (length === 0) return
      const end = length === undefined ? undefined : start + length - 1
      for await (const c of route.drive.createReadStream(route.path, { start, end, signal: opts.signal, timeout: opts.timeout })) yield c
      return
    }
    if (route.kind === 'core') { yield * this.coreBytes(route.mount, start, length, opts); return }
    if (route.kind === 'cycle') throw route.rest.length > 0 ? HyperfsError.ENOENT(path) : HyperfsError.EISDIR(path)
    const st = stat!
    if (isDir(st)) throw HyperfsError.EISDIR(path)
    const end = Math.min(st.size, length === undefined ? st.size : start + length)
    if (start >= end) return
    yield * this.fmt.chunks(st, start, end, { ...opts, timeout: opts.timeout ?? this.mountOpts.timeout })
  }

  // A reader that copies local file bytes straight into the caller's buffer
  // (the kernel's, through a mount), or null where the format has none.
  async openReader (path: string): Promise<FileReader | null> {
    const { route, stat } = await this.target(path)
    if (route.kind === 'inner') return route.drive.openReader ? route.drive.openReader(route.path) : null
    if (route.kind !== 'local' || !stat || isDir(stat) || stat.size === 0) return null
    return this.fmt.openReader(stat)
  }

  private async * coreBytes (m: MountInfo, start: number, length: number | undefined, opts: ReadOptions): AsyncGenerator<Buffer> {
    const c = await this.mountedCore(m)
    const end = Math.min(c.byteLength, length === undefined ? c.byteLength : start + length)
    if (start >= end) return
    const getOpts = { timeout: opts.timeout ?? this.mountOpts.timeout, signal: opts.signal }
    // the block that holds byte `start` comes from local tree nodes when they
    // are here, else from one seek round trip to a peer
    let [index, rel] = start === 0 ? [0, 0] : await c.core.seek(start, getOpts)
    let pos = start
    while (pos < end && index < c.length) {
      const block = (await c.core.get(index++, getOpts))!
      const piece = block.subarray(rel, Math.min(block.byteLength, rel + end - pos))
      rel = 0
      pos += piece.byteLength
      if (piece.byteLength) yield piece
    }
  }

  // ---- writing ----

  private assertWritable (path: string): void {
    if (!this.writable) throw HyperfsError.EROFS(path)
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
    if (w.comps.length === 0) throw HyperfsError.EISDIR('/')
    return this.fmt.writeFile(w.comps, data, opts)
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

  // Applies fn to the entry at path (not following symlinks).
  private async update (path: string, fn: (st: Stat) => Stat, pass: (d: Drive, p: string) => Promise<void>): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return pass(w.drive, w.path)
    if (w.comps.length === 0) throw HyperfsError.EINVAL('the root has no entry to change')
    return this.fmt.update(w.comps, fn)
  }

  async truncate (path: string, size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw HyperfsError.EINVAL(`bad size ${size}`)
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.truncate(w.path, size)
    if (w.comps.length === 0) throw HyperfsError.EISDIR(path)
    return this.fmt.truncate(w.comps, size)
  }

  // EOPNOTSUPP where the file's drive is of a format without extents: the
  // caller writes the whole file instead.
  async patchFile (path: string, patch: FilePatch, opts: WriteOptions = {}): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) {
      if (!w.drive.patchFile) throw HyperfsError.EOPNOTSUPP(`${path}: this drive cannot change part of a file`)
      return w.drive.patchFile(w.path, patch, opts)
    }
    if (w.comps.length === 0) throw HyperfsError.EISDIR(path)
    if (!this.fmt.patchFile) throw HyperfsError.EOPNOTSUPP(`${path}: a ${this.fmt.format} drive cannot change part of a file`)
    return this.fmt.patchFile(w.comps, patch, opts)
  }

  async mkdir (path: string, opts: { mode?: number } = {}): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.mkdir(w.path, opts)
    if (w.comps.length === 0) throw HyperfsError.EEXIST('/')
    return this.fmt.mkdir(w.comps, (opts.mode ?? 0o755) & 0o7777)
  }

  async rmdir (path: string): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.rmdir(w.path)
    if (w.comps.length === 0) throw HyperfsError.EBUSY('cannot remove the root')
    return this.fmt.rmdir(w.comps)
  }

  async unlink (path: string): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.unlink(w.path)
    if (w.comps.length === 0) throw HyperfsError.EISDIR('/')
    return this.fmt.unlink(w.comps)
  }

  async rename (from: string, to: string): Promise<void> {
    this.assertWritable(from)
    const [a, b] = await Promise.all([this.route(from, false), this.route(to, false)])
    if (a.kind === 'inner' && b.kind === 'inner' && a.drive === b.drive) return a.drive.rename(a.path, b.path)
    if (a.kind === 'cycle' || b.kind === 'cycle') throw HyperfsError.EROFS(`${from} -> ${to} is inside a mount cycle`)
    if (a.kind !== 'local' || b.kind !== 'local') throw HyperfsError.EXDEV(`${from} -> ${to} crosses a mount`)
    if (a.comps.length === 0 || b.comps.length === 0) throw HyperfsError.EBUSY('cannot rename the root')
    if (b.comps.length > a.comps.length && a.comps.every((c, i) => b.comps[i] === c)) {
      await this.localStat(a.comps)
      throw HyperfsError.EINVAL(`cannot move ${from} into itself`)
    }
    return this.fmt.rename(a.comps, b.comps)
  }

  async symlink (target: string, path: string): Promise<void> {
    if (typeof target !== 'string' || target.length === 0) throw HyperfsError.EINVAL('a symlink needs a target')
    if (target.includes('\0')) throw HyperfsError.INVALID_NAME('a symlink target cannot hold a NUL byte')
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.symlink(target, w.path)
    if (w.comps.length === 0) throw HyperfsError.EEXIST('/')
    return this.fmt.symlink(target, w.comps)
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

  history (opts: { gte?: number, lt?: number } = {}): AsyncIterable<HistoryEntry> {
    return this.fmt.history(opts)
  }

  diff (from: number, to?: number, prefix = '/'): AsyncIterable<DiffEntry> {
    return this.fmt.diff(from, to, drivePath(prefix))
  }

  watch (path = '/', opts: { signal?: AbortSignal } = {}): AsyncIterable<WatchEvent> {
    return this.fmt.watch(drivePath(path), opts)
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
    await this.fmt.putMount(w.comps, info)
  }

  async unmount (path: string): Promise<void> {
    const w = await this.writeRoute(path)
    if ('drive' in w) return w.drive.unmount(w.path)
    if (w.comps.length === 0) throw HyperfsError.EINVAL('/ is not a mount point')
    await this.fmt.delMount(w.comps)
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
        for await (const sub of d.fmt.mounts({ local: true })) if (sub.mount.kind === 'drive') queue.push(sub.mount)
      } catch (err) {
        if (!isHyperfsError(err, 'BLOCK_NOT_AVAILABLE', 'DECODE_ERROR')) throw err
      }
    }
  }

  private async heldDrive (m: MountInfo): Promise<RoutedDrive | null> {
    let d: Drive | null = null
    if (m.key.equals(this.key)) d = this // writable, so not a checkout
    else if (this.mountOpts.heldDrive) d = await this.mountOpts.heldDrive(m.key)
    if (!(d instanceof RoutedDrive)) return null
    if (m.version === null) return d
    try {
      return d.checkout(m.version) as RoutedDrive
    } catch (err) {
      if (isHyperfsError(err, 'EINVAL')) return null // a version not here yet
      throw err
    }
  }

  mounts (): AsyncIterable<{ path: string, mount: MountInfo }> {
    return this.fmt.mounts()
  }

  // ---- prefetch ----

  // Each drive a download reaches (the one named, then each one mounted
  // below it, once however often it is mounted) is a part of its own: its
  // files are listed, then fetched by its format (as ranges of its content
  // core, range-fetch.ts). A part that fails (a drive no peer sends, blocks
  // that stop coming, a listing cut short) is reported through onprogress
  // and the walk goes on; download then rejects with DOWNLOAD_INCOMPLETE. The
  // caller's signal, a path that does not exist and a walk past
  // MAX_WALK_DRIVES end it at once.
  async download (path = '/', opts: DownloadOptions = {}): Promise<void> {
    const walk: DownloadWalk = { opts, timeout: opts.timeout ?? this.mountOpts.timeout ?? DEFAULT_DOWNLOAD_TIMEOUT, visited: new Set(), parts: 0, failed: [] }
    const at = pathString(drivePath(path))
    const r = await this.route(at, true)
    if (r.kind === 'core') await this.downloadCore(r.mount, at, walk)
    else if (r.kind === 'local') await this.downloadPart(r.comps, at, walk, true)
    else if (r.kind === 'inner') {
      if (r.drive instanceof RoutedDrive) await r.drive.downloadPart(drivePath(r.path), at, walk, true)
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
        for await (const e of this.fmt.walk(comps)) {
          if (e.stat.mount) mounts.push({ comps: e.comps, key: e.stat.mount.key })
          else if (isFile(e.stat)) add(e.stat)
        }
      } else if (isFile(st)) add(st)
      await fetchPart(status, walk, async (onbytes) => {
        if (files.length > 0) await this.fmt.fetchFiles(files, { signal: walk.opts.signal, timeout: walk.timeout, onbytes })
      })
    } catch (err) {
      failPart(status, err, walk)
    }
    for (const m of mounts) await this.downloadMount(m.comps, m.key, under(at, pathString(m.comps.slice(comps.length))), walk)
  }

  // A drive whose metadata no peer has sent is not found (rather than listed
  // as empty, and "downloaded" with nothing in it).
  private async stated (comps: string[], walk: DownloadWalk): Promise<Stat> {
    const md = this.fmt.metadata
    if (md.length === 0 && !md.writable) await md.update({ timeout: walk.timeout })
    if (md.length === 0 && !md.writable) {
      throw HyperfsError.from('DRIVE_NOT_FOUND', `no peer sent this drive within ${walk.timeout} ms (${holders(md)})`)
    }
    return this.localStat(comps)
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
      if (r.drive instanceof RoutedDrive) await r.drive.downloadPart(drivePath(r.path), at, walk)
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
      status.bytes = await c.core.heldBytes(0, c.length)
      await fetchPart(status, walk, (onblock) =>
        fetchRanges(c.core, [[0, c.length]], { signal: walk.opts.signal, timeout: walk.timeout, onblock }))
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
// One part's fetch, reported as it goes: 'fetching', bytes as they arrive, 'done'.
async function fetchPart (status: DownloadStatus, walk: DownloadWalk, fetch: (onbytes: (bytes: number) => void) => Promise<unknown>): Promise<void> {
  status.state = 'fetching'
  walk.opts.onprogress?.({ ...status })
  await fetch((bytes) => {
    status.bytes = Math.min(status.total, status.bytes + bytes)
    walk.opts.onprogress?.({ ...status })
  })
  status.bytes = status.total
  status.state = 'done'
  walk.opts.onprogress?.({ ...status })
}

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

export function holders (core: Hypercore): string {
  const n = core.peers
  return n === 0 ? 'no connected peer has it' : `${n} connected peer${n === 1 ? ' has' : 's have'} it`
}

// `rest`, a path below the one a part began at, as a path of the download
function under (at: string, rest: string): string {
  return rest === '/' ? at : at === '/' ? rest : at + rest
}

function driveId (d: Drive): string {
  return d instanceof RoutedDrive ? d.id : d.key.toString('hex') + '@latest'
}
