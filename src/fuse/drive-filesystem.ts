// Filesystem logic between the FUSE binding and a Drive. It owns the open
// file table: per path, the staged bytes of a file open for writing (shared by
// every handle on that path, so two writers and getattr agree); per handle, the
// read-ahead of a reader. It knows nothing of any FUSE binding: it takes paths and
// numbers and throws coded errors, which the bridge (bridge.ts) turns into errno.
//
// Versions: unless disabled, `/<versionsDir>/<N>/...` (default
// `/.versions/N`) is the drive as it was at version N (drive.checkout(N)),
// read-only. The folder is not listed in the root (so `cp -r`, `du` and
// `find` of the mount do not walk every version), but it can be entered and
// lists 1..current. A real entry of that name in the drive is hidden by it.
//
// Stat cache: a listing already carries every entry's stat, and `ls -l`
// follows it with a lookup of each entry (the kernel asks for each name a
// listing gave it, unless the binding answers readdirplus), so
// readdir keeps those stats for the lookups to come. A listing is served only
// while the drive is at the version it was listed at and no change has gone
// through this mount since: that alone keeps it exact. Listings inside a
// mounted drive are not kept: its changes do not move our version.
// STAT_TTL only frees memory: a listing unused for that long is dropped, but
// every hit renews it, because `ls -l` of a big folder takes longer than any
// fixed lifetime (50,000 entries: over 10 s) and must hit to its last entry.
// At most MAX_CACHED_STATS stats are kept, oldest listings going first.
//
// Commit rule: the drive sees a file change only as one new version, on
// flush, fsync or release (and at once for truncate(2), which POSIX makes
// visible immediately): drive.patchFile() of only the ranges written, when
// the stage's base (the content it changes, read from a checkout: the stage
// holds only what was written, staged-file.ts) is what the drive still holds
// and the drive can change part of a file; otherwise one drive.writeFile()
// of the whole content (a new file, one opened with O_TRUNC, one changed
// behind our back). If that write fails (a full disk), the drive still holds
// the old content, whole. What a commit wrote is the stage's base from then on.
import { S_IFDIR, S_IFMT, S_IFREG } from '../drive/types.js'
import type { DirEntry, Drive, FilePatch, FileReader, Stat, WriteOptions } from '../drive/types.js'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import { Deadlines } from './deadlines.js'
import type { Attr, FuseFilesystem, Logger, MaybePromise, Statfs } from './api.js'
import { ReadAhead, type ReadAheadOptions } from './read-ahead.js'
import { StagedFile, type StageBase } from './staged-file.js'
import { z32 } from './z32.js'

export interface DriveFilesystemOptions {
  readOnly: boolean // refuse every change with EROFS, even if the drive is writable
  readTimeout: number // ms a read (or a metadata lookup) may take before it fails with EIO
  readAhead: ReadAheadOptions
  spillThreshold: number // staged bytes kept in memory per open file
  tmpDir: string // where larger staged files spill
  versionsDir?: string | null // name of the hidden versions folder in the root (default '.versions'; null: none)
}

// Where a FUSE path lives: in the drive, in a checkout, or the versions folder itself.
type Place = { drive: Drive, path: string, snapshot: boolean } | { versions: true }

interface OpenFile {
  path: string // updated when the file, or a folder above it, is renamed
  refs: number
  stage: StagedFile | null // null until the first change; reads go to the drive
  base: string | null // contentId() of the drive's content the stage changes; null: none (a new file, O_TRUNC)
  gen: number // bumped on every change to the stage
  committedGen: number
  mtime: number | null // set by utimens while changes are pending, kept by the commit
  queue: Promise<unknown> // serialises changes and commits on this file
  handles: Set<Handle>
}

interface Listing {
  stats: Map<string, Stat> // by name
  version: number // of the drive when listed
  gen: number // of this filesystem's changes when listed
  at: number // clock() when listed or last served from
}

interface Handle {
  fh: number
  file: OpenFile
  writable: boolean
  reader: ReadAhead | null
  // copies local bytes straight into the kernel's buffer; null: none (yet)
  local: FileReader | null
}

const O_ACCMODE = 3
const O_TRUNC = 0o1000
const W_OK = 2
const XATTR_CREATE = 1
const XATTR_REPLACE = 2
const BLOCK = 4096
const MAX_CHECKOUTS = 32
export const STAT_TTL = 5000
export const MAX_CACHED_STATS = 100_000
const MOUNTED_DRIVE_MODE = S_IFDIR | 0o755
const MOUNTED_CORE_MODE = S_IFREG | 0o444
const UNCHANGED_ID = 0xffffffff // chown(-1) arrives as an unsigned 32-bit value
const HYPERFS_XATTRS = [
  'hyperfs.key',
  'hyperfs.key-z32',
  'hyperfs.discovery-key',
  'hyperfs.version',
  'hyperfs.writable',
  'hyperfs.byte-length',
  'hyperfs.local-bytes',
  'hyperfs.peers'
]

export class DriveFilesystem implements FuseFilesystem {
  readonly #drive: Drive
  readonly #log: Logger
  readonly #opts: DriveFilesystemOptions
  readonly #files = new Map<string, OpenFile>()
  readonly #handles = new Map<number, Handle>()
  #nextFh = 1 // 0 means "no handle" to libfuse, so handles start at 1
  readonly #checkouts = new Map<number, Drive>()
  readonly #deadlines: Deadlines
  readonly #clock: () => number
  readonly #diskFree: (() => Promise<number>) | null // bytes the disk under the drive's storage can still take
  readonly #listings = new Map<string, Listing>() // by folder path, oldest first
  #cachedStats = 0 // stats held in #listings
  readonly #mountPoints = new Set<string>() // FUSE paths seen to hold a mounted drive or core
  #gen = 0 // bumped by every change that goes through this filesystem

  constructor (services: { drive: Drive, logger: Logger, clock?: () => number, diskFree?: () => Promise<number> }, opts: DriveFilesystemOptions) {
    this.#drive = services.drive
    this.#log = services.logger
    this.#clock = services.clock ?? Date.now
    this.#diskFree = services.diskFree ?? null
    this.#opts = opts
    this.#deadlines = new Deadlines({ tick: Math.max(10, Math.min(1000, opts.readTimeout / 10)) })
  }

  get readOnly (): boolean {
    return this.#opts.readOnly || !this.#drive.writable
  }

  get openHandles (): number {
    return this.#handles.size
  }

  // Stats kept from listings (see the top of this file).
  get cachedStats (): number {
    return this.#cachedStats
  }

  // ---- attributes and listings

  getattr (path: string): MaybePromise<Attr> {
    const cached = this.#cachedStat(path)
    if (cached) return this.#attr(path, cached)
    return this.#lstat(path).then((st) => this.#attr(path, st))
  }

  #attr (path: string, st: Stat): Attr {
    const file = this.#files.get(path)
    const attr = toAttr(st)
    if (file?.stage) {
      attr.size = file.stage.size
      attr.blocks = Math.ceil(attr.size / 512)
      if (file.mtime !== null) attr.mtime = file.mtime
    }
    attr.stability = this.#stability(path, st)
    return attr
  }

  // Whether what getattr says of path may change, and if so whether the
  // drive's watch() shows it (Attr.stability): a drive mounted in the drive
  // changes without a trace in ours.
  #stability (path: string, st: Stat): Attr['stability'] {
    if (st.mount) this.#mountPoints.add(path)
    if (this.#underMount(path)) return undefined
    try {
      const place = this.#place(path)
      return 'versions' in place || !place.snapshot ? 'watched' : 'fixed'
    } catch (err) {
      safetyCatch(err)
      return undefined
    }
  }

  async readdir (path: string): Promise<string[]> {
    const st = await this.#lstat(path)
    if ((st.mode & S_IFMT) !== S_IFDIR) throw HyperfsError.ENOTDIR(path)
    const place = this.#place(path)
    if ('versions' in place) {
      return ['.', '..', ...Array.from({ length: this.#drive.version }, (_, i) => String(i + 1))]
    }
    return this.#bounded(`readdir ${path}`, async () => {
      const gen = this.#gen
      const version = this.#drive.version
      const keep = !this.#underMount(path)
      const names = ['.', '..']
      const entries: DirEntry[] = []
      for await (const entry of place.drive.readdir(place.path)) {
        names.push(entry.name)
        if (keep) entries.push(entry)
      }
      if (keep && gen === this.#gen && version === this.#drive.version) this.#keepStats(path, entries, version)
      return names
    })
  }

  async readlink (path: string): Promise<string> {
    const place = this.#place(path)
    if ('versions' in place) throw HyperfsError.EINVAL(`${path} is not a symlink`)
    return this.#bounded(`readlink ${path}`, () => place.drive.readlink(place.path))
  }

  async access (path: string, mode: number): Promise<void> {
    await this.#lstat(path)
    if (mode & W_OK) this.#writable(path)
  }

  async statfs (): Promise<Statfs> {
    const info = await this.#bounded('statfs', () => this.#drive.info())
    // With the disk under the storage known: "used" is what this machine
    // holds of the drive and "free" what that disk can still take, so df
    // warns before a write fails with ENOSPC. Without it (a drive held in
    // memory): size is all content of the drive, and "free" what could still
    // be fetched from peers.
    const free = this.#diskFree === null ? null : await this.#bounded('statfs of the storage', this.#diskFree)
    const blocks = free === null ? Math.ceil(info.byteLength / BLOCK) : Math.ceil(info.localBytes / BLOCK) + Math.floor(free / BLOCK)
    const available = free === null ? Math.max(0, Math.floor((info.byteLength - info.localBytes) / BLOCK)) : Math.floor(free / BLOCK)
    return {
      bsize: BLOCK,
      frsize: BLOCK,
      blocks: clampU32(blocks),
      bfree: clampU32(available),
      bavail: clampU32(available),
      files: 0,
      ffree: 0,
      favail: 0,
      fsid: 0,
      flag: this.readOnly ? 1 : 0, // ST_RDONLY
      namemax: 255
    }
  }

  // ---- open files

  async open (path: string, flags: number): Promise<number> {
    const writable = (flags & O_ACCMODE) !== 0
    if (writable) this.#writable(path)
    const st = await this.#lstat(path)
    if (writable && st.mount?.kind === 'core') throw HyperfsError.EROFS(`${path} is a mounted core`)
    if ((st.mode & S_IFMT) === S_IFDIR && writable) throw HyperfsError.EISDIR(path)
    const fh = this.#newHandle(path, writable)
    // O_TRUNC empties the staged copy only: the drive keeps the old content
    // until the new one commits whole, so a save that fails (a full disk)
    // loses nothing. Bindings must pass O_TRUNC here (libfuse: atomic_o_trunc);
    // otherwise it comes as truncate(path, 0), which commits at once.
    if (writable && (flags & O_TRUNC)) {
      try {
        await this.#change(this.#handle(fh).file, (stage) => stage.truncate(0), true)
      } catch (err) {
        await this.release(fh)
        throw err
      }
    }
    return fh
  }

  async create (path: string, mode: number): Promise<number> {
    this.#writable(path)
    this.#changing()
    // Written at once so that the name exists for everyone (ls, O_EXCL, a
    // rename before the first flush) from the moment create returns.
    await this.#drive.writeFile(path, Buffer.alloc(0), { mode: mode & 0o7777 })
    const fh = this.#newHandle(path, true)
    const file = this.#files.get(path)!
    if (!file.stage) file.stage = this.#newStage()
    return fh
  }

  read (fh: number, target: Buffer, length: number, position: number): MaybePromise<number> {
    const handle = this.#handle(fh)
    const file = handle.file
    if (file.stage) return file.stage.read(target, position, length)
    // local bytes go from the data file into the kernel's buffer, no copies between
    if (handle.local && position + length <= handle.local.size) {
      const n = handle.local.readInto(target, position, length)
      if (n !== null) return n
    }
    const reader = handle.reader
    // the common case, and often answered at once from read-ahead
    if (reader && position + length <= reader.size) return reader.read(position, length, target)
    return this.#readAt(handle, target, length, position)
  }

  // The first read of a handle, or one at the end of what we knew of the file.
  async #readAt (handle: Handle, target: Buffer, length: number, position: number): Promise<number> {
    const file = handle.file
    if (!handle.reader) {
      const st = await this.#lstat(file.path)
      handle.reader = new ReadAhead((start, len, signal, timeout) => this.#fetch(file.path, start, len, signal, timeout), st.size,
        { ...this.#opts.readAhead, timeout: this.#opts.readTimeout }, { now: this.#clock })
      handle.local = await this.#openLocal(file.path, st.size)
      if (handle.local && position + length <= handle.local.size) {
        const n = handle.local.readInto(target, position, length)
        if (n !== null) return n
      }
    }
    const reader = handle.reader
    if (position + length > reader.size) {
      // at the end of what we knew: the file may have grown (tail -f)
      const st = await this.#lstat(file.path)
      if (st.size !== reader.size) reader.reset(st.size)
    }
    return reader.read(position, length, target)
  }

  async write (fh: number, data: Buffer, position: number): Promise<number> {
    const handle = this.#handle(fh)
    if (!handle.writable) throw HyperfsError.from('EBADF', `${handle.file.path} is not open for writing`)
    // the binding's buffer belongs to the kernel and is gone after we answer
    const copy = Buffer.from(data)
    return this.#change(handle.file, async (stage) => stage.write(copy, position))
  }

  async ftruncate (fh: number, size: number): Promise<void> {
    const handle = this.#handle(fh)
    if (this.readOnly) throw HyperfsError.EROFS(handle.file.path)
    await this.#change(handle.file, (stage) => stage.truncate(size), size === 0)
  }

  async flush (fh: number): Promise<void> {
    const handle = this.#handle(fh)
    if (handle.writable) await this.#commit(handle.file)
  }

  async fsync (fh: number): Promise<void> {
    await this.flush(fh)
  }

  async release (fh: number): Promise<void> {
    const handle = this.#handle(fh)
    const file = handle.file
    this.#handles.delete(fh)
    file.handles.delete(handle)
    handle.reader?.close()
    try {
      if (handle.writable) await this.#commit(file)
    } finally {
      if (--file.refs === 0) {
        this.#files.delete(file.path)
        await file.queue.catch(safetyCatch)
        await file.stage?.close()
      }
    }
  }

  // ---- changes by path

  async truncate (path: string, size: number): Promise<void> {
    this.#writable(path)
    this.#changing()
    const file = this.#files.get(path)
    if (!file) return this.#drive.truncate(path, size)
    await this.#change(file, (stage) => stage.truncate(size), size === 0)
    await this.#commit(file)
  }

  async unlink (path: string): Promise<void> {
    this.#writable(path)
    this.#changing()
    await this.#drive.unlink(path)
  }

  async mkdir (path: string, mode: number): Promise<void> {
    this.#writable(path)
    this.#changing()
    await this.#drive.mkdir(path, { mode: mode & 0o7777 })
  }

  async rmdir (path: string): Promise<void> {
    this.#writable(path)
    this.#changing()
    await this.#drive.rmdir(path)
  }

  async rename (from: string, to: string): Promise<void> {
    this.#writable(from)
    this.#writable(to)
    this.#changing()
    const moved = [...this.#files.values()].filter((f) => f.path === from || f.path.startsWith(from + '/'))
    // pending bytes must travel with the name, so they land before the rename
    for (const file of moved) await this.#commit(file)
    await this.#drive.rename(from, to)
    for (const file of moved) {
      this.#files.delete(file.path)
      file.path = to + file.path.slice(from.length)
      this.#files.set(file.path, file)
    }
  }

  async symlink (target: string, path: string): Promise<void> {
    this.#writable(path)
    this.#changing()
    await this.#drive.symlink(target, path)
  }

  async chmod (path: string, mode: number): Promise<void> {
    this.#writable(path)
    this.#changing()
    await this.#drive.chmod(path, mode & 0o7777)
  }

  async chown (path: string, uid: number, gid: number): Promise<void> {
    this.#writable(path)
    this.#changing()
    if (uid === UNCHANGED_ID || gid === UNCHANGED_ID) {
      const st = await this.#lstat(path)
      if (uid === UNCHANGED_ID) uid = st.uid
      if (gid === UNCHANGED_ID) gid = st.gid
    }
    await this.#drive.chown(path, uid, gid)
  }

  async utimens (path: string, atime: number, mtime: number): Promise<void> {
    this.#writable(path)
    this.#changing()
    const file = this.#files.get(path)
    if (file?.stage) file.mtime = mtime
    await this.#drive.utimes(path, atime, mtime)
  }

  // ---- extended attributes: user.* is the entry's metadata, hyperfs.* the drive's state

  getxattr (path: string, name: string): MaybePromise<Buffer | null> {
    // Only user.* and hyperfs.* exist here. `ls -l` asks every entry for
    // security.selinux and system.posix_acl_access; answering those without
    // a lookup saves two of its three round trips to the drive per entry.
    // (The kernel has looked the path up before it asks.)
    if (!name.startsWith('user.') && !name.startsWith('hyperfs.')) return null
    // a listed entry carries its attributes (Stat.metadata): no round trip
    const cached = name.startsWith('user.') ? this.#cachedStat(path) : null
    if (cached) return Object.hasOwn(cached.metadata, name.slice(5)) ? cached.metadata[name.slice(5)] : null
    return this.#getxattr(path, name)
  }

  async #getxattr (path: string, name: string): Promise<Buffer | null> {
    await this.#lstat(path)
    if (name.startsWith('hyperfs.')) return this.#driveXattr(name)
    if (!name.startsWith('user.')) return null
    const place = this.#place(path)
    if ('versions' in place) return null
    return this.#bounded(`getxattr ${path}`, () => place.drive.getxattr(place.path, name.slice(5)))
  }

  listxattr (path: string): MaybePromise<string[]> {
    // newer coreutils ask every entry of `ls -l` for its list (ACLs)
    const cached = this.#cachedStat(path)
    if (cached) return xattrList(path, Object.keys(cached.metadata))
    return this.#listxattr(path)
  }

  async #listxattr (path: string): Promise<string[]> {
    const place = this.#place(path)
    return xattrList(path, 'versions' in place ? [] : await this.#bounded(`listxattr ${path}`, () => place.drive.listxattr(place.path)))
  }

  async setxattr (path: string, name: string, value: Buffer, flags: number): Promise<void> {
    if (name.startsWith('hyperfs.')) throw HyperfsError.from('EPERM', `${name} is read-only`)
    if (!name.startsWith('user.')) throw HyperfsError.from('EOPNOTSUPP', `${name}: only user.* attributes are stored`)
    this.#writable(path)
    this.#changing()
    const key = name.slice(5)
    if (flags & (XATTR_CREATE | XATTR_REPLACE)) {
      const existing = await this.#drive.getxattr(path, key)
      if ((flags & XATTR_CREATE) && existing !== null) throw HyperfsError.EEXIST(`${path} ${name}`)
      if ((flags & XATTR_REPLACE) && existing === null) throw HyperfsError.from('ENODATA', `${path} ${name}`)
    }
    await this.#drive.setxattr(path, key, Buffer.from(value))
  }

  async removexattr (path: string, name: string): Promise<void> {
    if (name.startsWith('hyperfs.')) throw HyperfsError.from('EPERM', `${name} is read-only`)
    if (!name.startsWith('user.')) throw HyperfsError.from('ENODATA', `${path} ${name}`)
    this.#writable(path)
    this.#changing()
    const key = name.slice(5)
    if (await this.#drive.getxattr(path, key) === null) throw HyperfsError.from('ENODATA', `${path} ${name}`)
    await this.#drive.removexattr(path, key)
  }

  // Drops every handle without committing (the mount is gone, nobody can
  // flush any more) and frees staged bytes.
  async close (): Promise<void> {
    this.#deadlines.clear()
    this.#dropListings()
    for (const handle of this.#handles.values()) handle.reader?.close()
    this.#handles.clear()
    const files = [...this.#files.values()]
    this.#files.clear()
    for (const file of files) {
      await file.queue.catch(safetyCatch)
      await file.stage?.close()
    }
  }

  // ---- internals

  #writable (path: string): void {
    if (this.readOnly) throw HyperfsError.EROFS(path)
    const place = this.#place(path)
    if ('versions' in place || place.snapshot) throw HyperfsError.EROFS(`${path} is in a past version`)
  }

  #place (path: string): Place {
    const dir = this.#opts.versionsDir === undefined ? '.versions' : this.#opts.versionsDir
    if (dir === null || !path.startsWith('/' + dir)) return { drive: this.#drive, path, snapshot: false }
    const rest = path.slice(dir.length + 1)
    if (rest === '') return { versions: true }
    const m = /^\/([1-9][0-9]*)(\/.*)?$/.exec(rest)
    if (!m) {
      if (rest.startsWith('/')) throw HyperfsError.ENOENT(path)
      return { drive: this.#drive, path, snapshot: false } // '/.versionsX' is an ordinary name
    }
    const version = Number(m[1])
    if (version > this.#drive.version) throw HyperfsError.ENOENT(path)
    let drive = this.#checkouts.get(version)
    if (!drive) {
      drive = this.#drive.checkout(version)
      if (this.#checkouts.size >= MAX_CHECKOUTS) this.#checkouts.delete(this.#checkouts.keys().next().value!)
      this.#checkouts.set(version, drive)
    }
    return { drive, path: m[2] ?? '/', snapshot: true }
  }

  #handle (fh: number): Handle {
    const handle = this.#handles.get(fh)
    if (!handle) throw HyperfsError.from('EBADF', `no open file ${fh}`)
    return handle
  }

  #newHandle (path: string, writable: boolean): number {
    let file = this.#files.get(path)
    if (!file) {
      file = { path, refs: 0, stage: null, base: null, gen: 0, committedGen: 0, mtime: null, queue: Promise.resolve(), handles: new Set() }
      this.#files.set(path, file)
    }
    file.refs++
    while (this.#handles.has(this.#nextFh) || this.#nextFh === 0) this.#nextFh = (this.#nextFh + 1) >>> 0
    const handle: Handle = { fh: this.#nextFh, file, writable, reader: null, local: null }
    this.#nextFh = (this.#nextFh + 1) >>> 0
    this.#handles.set(handle.fh, handle)
    file.handles.add(handle)
    return handle.fh
  }

  #newStage (base: StageBase | null = null): StagedFile {
    return new StagedFile({ spillThreshold: this.#opts.spillThreshold, tmpDir: this.#opts.tmpDir }, base)
  }

  #serial<T> (file: OpenFile, fn: () => Promise<T>): Promise<T> {
    const run = file.queue.then(fn, fn)
    file.queue = run.catch(safetyCatch)
    return run
  }

  // Runs a change on the staged copy: one over the drive's content as it is
  // now, unless the change replaces it all (truncate to 0).
  #change<T> (file: OpenFile, fn: (stage: StagedFile) => Promise<T>, discardsContent = false): Promise<T> {
    return this.#serial(file, async () => {
      if (!file.stage && discardsContent) [file.stage, file.base] = [this.#newStage(), null]
      if (!file.stage) {
        const base = await this.#pinnedBase(file.path)
        if (!base) throw HyperfsError.ENOENT(file.path)
        file.stage = this.#newStage(base)
        file.base = base.id
      }
      const result = await fn(file.stage)
      file.gen++
      for (const h of file.handles) h.reader?.close()
      return result
    })
  }

  // The file at `path` as the drive holds it now, in a version that does not
  // move (a checkout), for a stage to read what it was not written: bytes
  // committed later, by anyone, never leak into it. Null when there is none.
  // (A file inside a mounted drive is read from that drive's latest version:
  // a checkout pins only this drive.) The drive keeps its content from gc
  // until the stage lets go of it (release): changed outside this mount, it
  // is an old version's, and the stage still reads it, and commits it whole.
  // The hold begins as the version is chosen, before the lookup: a gc that
  // plans meanwhile waits for it (Drive#retain).
  async #pinnedBase (path: string): Promise<(StageBase & { id: string }) | null> {
    const view = this.#drive.checkout(this.#drive.version)
    const lookup = this.#bounded(`lstat ${path}`, () => view.lstat(path)).catch((err) => {
      if (isHyperfsError(err, 'ENOENT')) return null
      throw err
    })
    // (a lookup that fails, or finds nothing, ends the hold itself)
    const held = this.#drive.retain ? this.#drive.retain(path, lookup) : null
    const st = await lookup
    if (!st) return null
    const release = held ? await this.#bounded(`retain ${path}`, () => held).catch((err) => {
      held.then((r) => r(), safetyCatch) // a hold that settles after all is let go of then
      throw err
    }) : null
    let local: FileReader | null | undefined // the view's zero-copy reader, once asked for
    return {
      id: contentId(st),
      size: st.size,
      release: release ?? undefined,
      read: async (target, targetOffset, start, length) => {
        if (local === undefined) local = view.openReader ? await view.openReader(path).catch((err) => { safetyCatch(err); return null }) : null
        if (local && local.size === st.size && local.readInto(target.subarray(targetOffset, targetOffset + length), start, length) === length) return
        const buf = await this.#fetch(path, start, length, new AbortController().signal, undefined, view)
        if (buf.byteLength !== length) throw HyperfsError.from('EIO', `${path}: the drive gave ${buf.byteLength} of bytes [${start}, +${length})`)
        buf.copy(target, targetOffset)
      }
    }
  }

  #commit (file: OpenFile): Promise<void> {
    return this.#serial(file, async () => {
      if (!file.stage || file.gen === file.committedGen) return
      const gen = file.gen
      const stage = file.stage
      this.#changing()
      const prev = await this.#drive.lstat(file.path).catch(() => null)
      const opts: WriteOptions = {
        mode: prev ? prev.mode & 0o7777 : 0o644,
        uid: prev?.uid,
        gid: prev?.gid,
        metadata: prev?.metadata,
        mtime: file.mtime ?? Date.now()
      }
      const patched = prev !== null && file.base !== null && file.base === contentId(prev) && await this.#patch(file.path, stage, opts)
      if (!patched) await this.#drive.writeFile(file.path, stage.content(), opts)
      // what was committed is the stage's base from now on; a file gone
      // already keeps its stage, to be written whole by the next commit
      const base = await this.#pinnedBase(file.path)
      if (base) {
        await stage.rebase(base).catch((err) => {
          base.release?.()
          throw err
        })
      }
      file.base = base?.id ?? null
      file.committedGen = gen
      file.mtime = null
    })
  }

  // Commits only what changed in the stage; false when the drive cannot
  // change part of a file (then the whole file is written).
  async #patch (path: string, stage: StagedFile, opts: WriteOptions): Promise<boolean> {
    if (!this.#drive.patchFile) return false
    const ch = stage.changes()
    const patch: FilePatch = {
      keep: ch.keep,
      size: ch.size,
      writes: ch.dirty.map(([start, end]) => ({ offset: start, length: end - start, data: stage.range(start, end) }))
    }
    try {
      await this.#drive.patchFile(path, patch, opts)
      return true
    } catch (err) {
      if (isHyperfsError(err, 'EOPNOTSUPP')) return false
      throw err
    }
  }

  // ---- the stat cache (see the top of this file)

  // Called before a change goes to the drive: what was listed may be stale.
  #changing (): void {
    this.#gen++
    this.#dropListings()
  }

  #dropListings (): void {
    this.#listings.clear()
    this.#cachedStats = 0
  }

  #dropListing (dir: string, listing: Listing): void {
    this.#listings.delete(dir)
    this.#cachedStats -= listing.stats.size
  }

  #cachedStat (path: string): Stat | null {
    const slash = path.lastIndexOf('/')
    if (slash < 0 || path.length === 1) return null
    const dir = slash === 0 ? '/' : path.slice(0, slash)
    const listing = this.#listings.get(dir)
    if (!listing) return null
    const now = this.#clock()
    if (listing.gen !== this.#gen || listing.version !== this.#drive.version || now - listing.at > STAT_TTL) {
      this.#dropListing(dir, listing)
      return null
    }
    listing.at = now
    return listing.stats.get(path.slice(slash + 1)) ?? null
  }

  #keepStats (dir: string, entries: DirEntry[], version: number): void {
    const now = this.#clock()
    const old = this.#listings.get(dir)
    if (old) this.#dropListing(dir, old)
    // oldest first: expired listings, then as many as the new one needs room for
    for (const [d, l] of this.#listings) {
      if (now - l.at <= STAT_TTL && this.#cachedStats + entries.length <= MAX_CACHED_STATS) break
      this.#dropListing(d, l)
    }
    const stats = new Map<string, Stat>()
    const prefix = dir === '/' ? '/' : dir + '/'
    for (const { name, stat } of entries) {
      // a mount point's own stat depends on the mounted drive (a core's size)
      if (stat.mount) this.#mountPoints.add(prefix + name)
      // a folder bigger than the bound keeps its first entries, which ls asks for first
      else if (stats.size < MAX_CACHED_STATS) stats.set(name, stat)
    }
    this.#listings.set(dir, { stats, version, gen: this.#gen, at: now })
    this.#cachedStats += stats.size
  }

  #underMount (path: string): boolean {
    for (const m of this.#mountPoints) if (path === m || path.startsWith(m + '/')) return true
    return false
  }

  async #lstat (path: string): Promise<Stat> {
    const cached = this.#cachedStat(path)
    if (cached) return cached
    const place = this.#place(path)
    if ('versions' in place) return { ...rootStat(), mode: S_IFDIR | 0o555 }
    try {
      const st = await this.#bounded(`lstat ${path}`, () => place.drive.lstat(place.path))
      if (st.mount) this.#mountPoints.add(path)
      return st
    } catch (err) {
      // a drive with nothing in it may have no entry for its root
      if (place.path === '/' && isHyperfsError(err, 'ENOENT')) return rootStat()
      throw err
    }
  }

  // The drive's fast path for this file, when it has one and the file has not
  // changed under us (same size as the stat the read-ahead was built from).
  async #openLocal (path: string, size: number): Promise<FileReader | null> {
    const place = this.#place(path)
    if ('versions' in place || !place.drive.openReader) return null
    try {
      const r = await place.drive.openReader(place.path)
      return r && r.size === size ? r : null
    } catch (err) {
      safetyCatch(err) // the slow path reports errors
      return null
    }
  }

  // One ranged read from the drive (or `from`, a checkout of it) that cannot
  // outlive readTimeout, whether or not the drive honours the signal and
  // timeout we pass it.
  #fetch (path: string, start: number, length: number, signal: AbortSignal, timeout?: number, from?: Drive): Promise<Buffer> {
    const ms = Math.min(timeout ?? Infinity, this.#opts.readTimeout)
    const controller = new AbortController()
    const onAbort = (): void => controller.abort(HyperfsError.REQUEST_CANCELLED(`read ${path} @${start}`))
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
    return this.#deadline(
      `read ${path} [${start}, +${length})`,
      ms,
      controller,
      () => {
        if (from) return from.read(path, { start, length, signal: controller.signal, timeout: ms })
        const place = this.#place(path)
        if ('versions' in place) throw HyperfsError.EISDIR(path)
        return place.drive.read(place.path, { start, length, signal: controller.signal, timeout: ms })
      }
    ).finally(() => signal.removeEventListener('abort', onAbort))
  }

  #bounded<T> (what: string, fn: () => Promise<T>): Promise<T> {
    return this.#deadline(what, this.#opts.readTimeout, new AbortController(), fn)
  }

  #deadline<T> (what: string, ms: number, controller: AbortController, fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const cancel = this.#deadlines.add(ms, () => {
        controller.abort(HyperfsError.REQUEST_TIMEOUT(`${what}: no answer from the drive within ${ms} ms`))
      })
      const onAbort = (): void => {
        cancel()
        reject(controller.signal.reason)
      }
      controller.signal.addEventListener('abort', onAbort, { once: true })
      Promise.resolve().then(fn).then(resolve, reject).finally(() => {
        cancel()
        controller.signal.removeEventListener('abort', onAbort)
      })
    })
  }

  async #driveXattr (name: string): Promise<Buffer | null> {
    const info = await this.#bounded('info', () => this.#drive.info())
    const values: Record<string, string> = {
      'hyperfs.key': info.key.toString('hex'),
      'hyperfs.key-z32': z32(info.key),
      'hyperfs.discovery-key': info.discoveryKey.toString('hex'),
      'hyperfs.version': String(info.version),
      'hyperfs.writable': info.writable && !this.#opts.readOnly ? '1' : '0',
      'hyperfs.byte-length': String(info.byteLength),
      'hyperfs.local-bytes': String(info.localBytes),
      'hyperfs.peers': String(info.peers)
    }
    return Object.hasOwn(values, name) ? Buffer.from(values[name]) : null
  }
}

function toAttr (st: Stat): Attr {
  // Whatever the mount entry says: a mounted drive is a folder, a mounted
  // raw core a read-only file of the core's bytes (its stat has their size).
  const mode = st.mount?.kind === 'drive' ? MOUNTED_DRIVE_MODE : st.mount?.kind === 'core' ? MOUNTED_CORE_MODE : st.mode
  const isFile = (mode & S_IFMT) === S_IFREG
  return {
    mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    nlink: 1,
    blksize: BLOCK,
    // cp and du read st_blocks; fewer blocks than bytes would look sparse
    blocks: isFile ? Math.ceil(st.size / 512) : 0,
    atime: st.mtime,
    mtime: st.mtime,
    ctime: st.ctime
  }
}

function xattrList (path: string, names: string[]): string[] {
  const list = names.map((n) => 'user.' + n)
  // only on the root, so cp -a / rsync -X of a subtree do not try to copy them
  if (path === '/') list.push(...HYPERFS_XATTRS)
  return list
}

function rootStat (): Stat {
  return {
    mode: S_IFDIR | 0o755,
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    size: 0,
    blocks: 0,
    offset: 0,
    byteOffset: 0,
    mtime: 0,
    ctime: 0,
    linkname: null,
    metadata: {},
    mount: null
  }
}

function clampU32 (n: number): number {
  return Math.min(n, 0xffffffff)
}

// What names a file's content in the drive: two entries with the same one
// hold the same bytes (their blocks are never rewritten).
function contentId (st: Stat): string {
  return JSON.stringify([st.size, st.offset, st.blocks, st.byteOffset, st.extents ?? null])
}
