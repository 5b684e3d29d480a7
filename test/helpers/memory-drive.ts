// A Drive held in memory, for tests of the layers above the drive (FUSE, CLI).
// It aims to be obviously correct rather than fast: every change is applied
// to one Map synchronously (so a rename of a folder is atomic to every
// reader), and every change is also logged so checkout(version) can replay
// the log into a read-only view of the past.
//
// What it does not do: mounts are recorded in the entry but lookups do not
// descend into them (there is no registry of other drives), and nothing is
// ever remote, so localBytes === byteLength and peers === 0.
import { randomBytes } from 'node:crypto'
import { EventEmitter, on } from 'node:events'
import { posix } from 'node:path'
import { Readable, Writable } from 'node:stream'
import { discoveryKey } from '../../src/crypto/index.js'
import { HyperfsError } from '../../src/errors.js'
import { S_IFDIR, S_IFLNK, S_IFMT, S_IFREG } from '../../src/drive/types.js'
import type {
  DiffEntry, DirEntry, Drive, DriveInfo, HistoryEntry, MountInfo, ReadOptions, Stat, WatchEvent, WriteOptions
} from '../../src/drive/types.js'

// Bytes of one file: a plain buffer, or generated on demand so a test can
// have a 5 GiB file without 5 GiB of memory.
export interface Content {
  size: number
  slice (start: number, end: number): Buffer
}

interface Entry {
  stat: Stat
  content: Content | null
}

interface LogRecord {
  version: number
  type: 'put' | 'del'
  name: string
  entry: Entry | null
}

// State shared by a drive and its checkouts.
interface Core {
  key: Buffer
  discoveryKey: Buffer
  log: LogRecord[]
  byteLength: number
  blocks: number
  events: EventEmitter
}

const BLOCK_SIZE = 64 * 1024
const SYMLINK_DEPTH = 16

export interface MemoryDriveOptions {
  writable?: boolean // default true; false gives a drive that refuses changes with EROFS
}

export class MemoryDrive implements Drive {
  readonly #core: Core
  readonly #entries: Map<string, Entry>
  readonly #writable: boolean
  #version: number
  #closed = false

  constructor (opts: MemoryDriveOptions = {}, snapshot?: { core: Core, entries: Map<string, Entry>, version: number }) {
    if (snapshot) {
      this.#core = snapshot.core
      this.#entries = snapshot.entries
      this.#version = snapshot.version
      this.#writable = false
      return
    }
    const key = randomBytes(32)
    this.#core = { key, discoveryKey: discoveryKey(key), log: [], byteLength: 0, blocks: 0, events: new EventEmitter() }
    this.#core.events.setMaxListeners(0)
    this.#entries = new Map([['/', { stat: newStat(S_IFDIR | 0o755), content: null }]])
    this.#version = 1
    this.#writable = opts.writable ?? true
  }

  get key (): Buffer { return this.#core.key }
  get discoveryKey (): Buffer { return this.#core.discoveryKey }
  get writable (): boolean { return this.#writable }
  get version (): number { return this.#version }

  async ready (): Promise<void> {}

  async close (): Promise<void> {
    this.#closed = true
  }

  async info (): Promise<DriveInfo> {
    return {
      key: this.key,
      discoveryKey: this.discoveryKey,
      version: this.#version,
      writable: this.#writable,
      contentKey: null,
      byteLength: this.#core.byteLength,
      localBytes: this.#core.byteLength,
      peers: 0
    }
  }

  // A writable drive can be made to refuse changes afterwards, so a test can
  // fill it and then serve it read-only.
  freeze (): MemoryDrive {
    return new MemoryDrive({}, { core: this.#core, entries: this.#entries, version: this.#version })
  }

  // ---- reading

  async stat (path: string): Promise<Stat> {
    return this.#resolve(path).stat
  }

  async lstat (path: string): Promise<Stat> {
    return this.#get(path).stat
  }

  async * readdir (path: string): AsyncIterable<DirEntry> {
    const dir = norm(path)
    const entry = this.#resolve(dir)
    if (!isDir(entry.stat)) throw HyperfsError.ENOTDIR(dir)
    const real = this.#realPath(dir)
    const names: string[] = []
    for (const p of this.#entries.keys()) if (p !== '/' && posix.dirname(p) === real) names.push(posix.basename(p))
    for (const name of names.sort()) {
      const child = this.#entries.get(posix.join(real, name))
      if (child) yield { name, stat: child.stat }
    }
  }

  async read (path: string, opts: ReadOptions = {}): Promise<Buffer> {
    if (opts.signal?.aborted) throw HyperfsError.REQUEST_CANCELLED(path)
    const entry = this.#resolve(path)
    if (isDir(entry.stat)) throw HyperfsError.EISDIR(path)
    const content = entry.content ?? EMPTY
    const start = opts.start ?? 0
    if (start < 0) throw HyperfsError.EINVAL(`negative start ${start}`)
    const end = opts.length === undefined ? content.size : Math.min(content.size, start + opts.length)
    return start >= end ? Buffer.alloc(0) : content.slice(start, end)
  }

  createReadStream (path: string, opts: { start?: number, end?: number } = {}): Readable {
    const drive = this
    return Readable.from((async function * () {
      const size = (await drive.stat(path)).size
      const end = Math.min(size, opts.end === undefined ? size : opts.end + 1) // end is inclusive, as in fs
      for (let pos = opts.start ?? 0; pos < end; pos += BLOCK_SIZE) {
        yield await drive.read(path, { start: pos, length: Math.min(BLOCK_SIZE, end - pos) })
      }
    })())
  }

  async readlink (path: string): Promise<string> {
    const entry = this.#get(path)
    if ((entry.stat.mode & S_IFMT) !== S_IFLNK) throw HyperfsError.EINVAL(`${path} is not a symlink`)
    return entry.stat.linkname!
  }

  async getxattr (path: string, name: string): Promise<Buffer | null> {
    const meta = this.#get(path).stat.metadata
    return Object.hasOwn(meta, name) ? Buffer.from(meta[name]) : null
  }

  async listxattr (path: string): Promise<string[]> {
    return Object.keys(this.#get(path).stat.metadata)
  }

  // ---- writing

  async writeFile (path: string, data: Buffer | AsyncIterable<Uint8Array>, opts: WriteOptions = {}): Promise<void> {
    this.#assertWritable(path)
    const chunks: Buffer[] = []
    if (Buffer.isBuffer(data)) chunks.push(Buffer.from(data))
    else for await (const chunk of data) chunks.push(Buffer.from(chunk))
    const buf = Buffer.concat(chunks)
    this.#putFile(path, bufferContent(buf), opts)
  }

  // Test-only: a file whose bytes come from fill(start, target), never stored.
  putGenerated (path: string, size: number, fill: (start: number, target: Buffer) => void, opts: WriteOptions = {}): void {
    this.#assertWritable(path)
    this.#putFile(path, { size, slice: (s, e) => { const b = Buffer.alloc(e - s); fill(s, b); return b } }, opts)
  }

  createWriteStream (path: string, opts: WriteOptions = {}): Writable {
    const chunks: Buffer[] = []
    return new Writable({
      write: (chunk: Buffer, _enc, cb) => { chunks.push(Buffer.from(chunk)); cb() },
      final: (cb) => { this.writeFile(path, Buffer.concat(chunks), opts).then(() => cb(), cb) }
    })
  }

  async truncate (path: string, size: number): Promise<void> {
    this.#assertWritable(path)
    if (size < 0) throw HyperfsError.EINVAL(`negative size ${size}`)
    const p = this.#realPath(path)
    const entry = this.#get(p)
    if (isDir(entry.stat)) throw HyperfsError.EISDIR(p)
    const old = entry.content ?? EMPTY
    const buf = Buffer.alloc(size)
    old.slice(0, Math.min(size, old.size)).copy(buf)
    this.#putFile(p, bufferContent(buf), { mode: entry.stat.mode, uid: entry.stat.uid, gid: entry.stat.gid, metadata: entry.stat.metadata })
  }

  async mkdir (path: string, opts: { mode?: number } = {}): Promise<void> {
    this.#assertWritable(path)
    const p = norm(path)
    if (this.#entries.has(p)) throw HyperfsError.EEXIST(p)
    this.#assertParent(p)
    this.#put(p, { stat: newStat(S_IFDIR | ((opts.mode ?? 0o755) & 0o7777)), content: null })
  }

  async rmdir (path: string): Promise<void> {
    this.#assertWritable(path)
    const p = norm(path)
    const entry = this.#get(p)
    if (!isDir(entry.stat)) throw HyperfsError.ENOTDIR(p)
    if (p === '/') throw HyperfsError.EINVAL('cannot remove the root')
    if (this.#hasChildren(p)) throw HyperfsError.ENOTEMPTY(p)
    this.#del(p)
  }

  async unlink (path: string): Promise<void> {
    this.#assertWritable(path)
    const p = norm(path)
    const entry = this.#get(p)
    if (isDir(entry.stat)) throw HyperfsError.EISDIR(p)
    this.#del(p)
  }

  async rename (from: string, to: string): Promise<void> {
    this.#assertWritable(from)
    const src = norm(from)
    const dst = norm(to)
    const entry = this.#get(src)
    if (src === dst) return
    if (src === '/' || dst.startsWith(src + '/')) throw HyperfsError.EINVAL(`cannot move ${src} into itself`)
    this.#assertParent(dst)
    const existing = this.#entries.get(dst)
    if (existing) {
      if (isDir(entry.stat)) {
        if (!isDir(existing.stat)) throw HyperfsError.ENOTDIR(dst)
        if (this.#hasChildren(dst)) throw HyperfsError.ENOTEMPTY(dst)
      } else if (isDir(existing.stat)) {
        throw HyperfsError.EISDIR(dst)
      }
    }
    // all of it at once: no reader can see the tree half moved
    const moves = [...this.#entries.entries()].filter(([p]) => p === src || p.startsWith(src + '/'))
    if (existing) this.#del(dst)
    for (const [p] of moves) this.#del(p)
    for (const [p, e] of moves) this.#put(dst + p.slice(src.length), e)
  }

  async symlink (target: string, path: string): Promise<void> {
    this.#assertWritable(path)
    const p = norm(path)
    if (this.#entries.has(p)) throw HyperfsError.EEXIST(p)
    this.#assertParent(p)
    this.#put(p, { stat: { ...newStat(S_IFLNK | 0o777), size: Buffer.byteLength(target), linkname: target }, content: null })
  }

  async chmod (path: string, mode: number): Promise<void> {
    this.#update(path, (st) => ({ ...st, mode: (st.mode & S_IFMT) | (mode & 0o7777), ctime: Date.now() }))
  }

  async chown (path: string, uid: number, gid: number): Promise<void> {
    this.#update(path, (st) => ({ ...st, uid, gid, ctime: Date.now() }))
  }

  async utimes (path: string, _atime: number, mtime: number): Promise<void> {
    this.#update(path, (st) => ({ ...st, mtime, ctime: Date.now() }))
  }

  async setxattr (path: string, name: string, value: Buffer): Promise<void> {
    this.#update(path, (st) => ({ ...st, metadata: { ...st.metadata, [name]: Buffer.from(value) }, ctime: Date.now() }))
  }

  async removexattr (path: string, name: string): Promise<void> {
    this.#update(path, (st) => {
      const metadata = { ...st.metadata }
      delete metadata[name]
      return { ...st, metadata, ctime: Date.now() }
    })
  }

  // ---- versions

  checkout (version: number): Drive {
    if (!Number.isInteger(version) || version < 1 || version > this.#core.log.length + 1) {
      throw HyperfsError.EINVAL(`no version ${version}`)
    }
    const entries = new Map<string, Entry>([['/', { stat: newStat(S_IFDIR | 0o755), content: null }]])
    for (const rec of this.#core.log) {
      if (rec.version > version) break
      if (rec.type === 'put') entries.set(rec.name, rec.entry!)
      else entries.delete(rec.name)
    }
    return new MemoryDrive({}, { core: this.#core, entries, version })
  }

  async * history (opts: { gte?: number, lt?: number } = {}): AsyncIterable<HistoryEntry> {
    for (const rec of this.#core.log) {
      if (rec.version > this.#version) break
      if (opts.gte !== undefined && rec.version < opts.gte) continue
      if (opts.lt !== undefined && rec.version >= opts.lt) continue
      yield { version: rec.version, type: rec.type, name: rec.name, value: rec.entry?.stat ?? null }
    }
  }

  async * diff (from: number, to = this.#version, prefix = '/'): AsyncIterable<DiffEntry> {
    const a = this.checkout(from) as MemoryDrive
    const b = this.checkout(to) as MemoryDrive
    const base = norm(prefix)
    const inside = (p: string): boolean => base === '/' || p === base || p.startsWith(base + '/')
    for (const [name, entry] of b.#entries) {
      if (!inside(name)) continue
      const prev = a.#entries.get(name)
      if (!prev || prev !== entry) yield { type: 'put', name, value: entry.stat, previous: prev?.stat ?? null }
    }
    for (const [name, entry] of a.#entries) {
      if (inside(name) && !b.#entries.has(name)) yield { type: 'del', name, previous: entry.stat }
    }
  }

  async * watch (path = '/', opts: { signal?: AbortSignal } = {}): AsyncIterable<WatchEvent> {
    const base = norm(path)
    for await (const [event] of on(this.#core.events, 'change', { signal: opts.signal }) as AsyncIterable<[WatchEvent]>) {
      if (base === '/' || event.path === base || event.path.startsWith(base + '/')) yield event
    }
  }

  // ---- mounts (recorded, not followed)

  async mount (path: string, key: Buffer, opts: { version?: number, kind?: 'drive' | 'core' } = {}): Promise<void> {
    this.#assertWritable(path)
    const p = norm(path)
    if (this.#entries.has(p)) throw HyperfsError.EEXIST(p)
    this.#assertParent(p)
    const mount: MountInfo = { key: Buffer.from(key), version: opts.version ?? null, kind: opts.kind ?? 'drive' }
    this.#put(p, { stat: { ...newStat(S_IFDIR | 0o755), mount }, content: null })
  }

  async unmount (path: string): Promise<void> {
    this.#assertWritable(path)
    const p = norm(path)
    if (!this.#get(p).stat.mount) throw HyperfsError.EINVAL(`${p} is not a mount`)
    this.#del(p)
  }

  async * mounts (): AsyncIterable<{ path: string, mount: MountInfo }> {
    for (const [path, entry] of this.#entries) if (entry.stat.mount) yield { path, mount: entry.stat.mount }
  }

  async download (): Promise<void> {}

  // ---- internals

  #assertWritable (path: string): void {
    if (this.#closed) throw HyperfsError.SESSION_CLOSED(path)
    if (!this.#writable) throw HyperfsError.EROFS(path)
  }

  #get (path: string): Entry {
    const p = norm(path)
    const entry = this.#entries.get(p)
    if (entry) return entry
    // ENOTDIR when a parent is a file, as POSIX lookups say
    for (let dir = posix.dirname(p); dir !== '/'; dir = posix.dirname(dir)) {
      const e = this.#entries.get(dir)
      if (e && !isDir(e.stat)) throw HyperfsError.ENOTDIR(p)
    }
    throw HyperfsError.ENOENT(p)
  }

  #realPath (path: string): string {
    let p = norm(path)
    for (let depth = 0; depth < SYMLINK_DEPTH; depth++) {
      const entry = this.#get(p)
      if ((entry.stat.mode & S_IFMT) !== S_IFLNK) return p
      p = posix.resolve(posix.dirname(p), entry.stat.linkname!)
    }
    throw HyperfsError.from('ELOOP', path)
  }

  #resolve (path: string): Entry {
    return this.#get(this.#realPath(path))
  }

  #assertParent (p: string): void {
    const parent = this.#get(posix.dirname(p))
    if (!isDir(parent.stat)) throw HyperfsError.ENOTDIR(p)
  }

  #hasChildren (dir: string): boolean {
    for (const p of this.#entries.keys()) if (p !== dir && p.startsWith(dir === '/' ? '/' : dir + '/')) return true
    return false
  }

  #putFile (path: string, content: Content, opts: WriteOptions): void {
    const p = norm(path)
    const existing = this.#entries.get(p)
    if (existing && isDir(existing.stat)) throw HyperfsError.EISDIR(p)
    this.#mkdirp(posix.dirname(p))
    const now = Date.now()
    const stat: Stat = {
      ...newStat(S_IFREG | ((opts.mode ?? existing?.stat.mode ?? 0o644) & 0o7777)),
      uid: opts.uid ?? existing?.stat.uid ?? uid(),
      gid: opts.gid ?? existing?.stat.gid ?? gid(),
      size: content.size,
      blocks: Math.ceil(content.size / BLOCK_SIZE),
      offset: this.#core.blocks,
      byteOffset: this.#core.byteLength,
      mtime: opts.mtime ?? now,
      ctime: now,
      metadata: { ...(opts.metadata ?? {}) }
    }
    // content is append-only, as in a content core: rewriting adds bytes
    this.#core.blocks += stat.blocks
    this.#core.byteLength += content.size
    this.#put(p, { stat, content })
  }

  #mkdirp (dir: string): void {
    if (dir === '/') return
    const entry = this.#entries.get(dir)
    if (entry) {
      if (!isDir(entry.stat)) throw HyperfsError.ENOTDIR(dir)
      return
    }
    this.#mkdirp(posix.dirname(dir))
    this.#put(dir, { stat: newStat(S_IFDIR | 0o755), content: null })
  }

  #update (path: string, fn: (st: Stat) => Stat): void {
    this.#assertWritable(path)
    const p = norm(path)
    const entry = this.#get(p)
    this.#put(p, { stat: fn(entry.stat), content: entry.content })
  }

  #put (name: string, entry: Entry): void {
    this.#entries.set(name, entry)
    this.#record({ version: ++this.#version, type: 'put', name, entry })
  }

  #del (name: string): void {
    this.#entries.delete(name)
    this.#record({ version: ++this.#version, type: 'del', name, entry: null })
  }

  #record (rec: LogRecord): void {
    this.#core.log.push(rec)
    this.#core.events.emit('change', { version: rec.version, path: rec.name })
  }
}

const EMPTY: Content = { size: 0, slice: () => Buffer.alloc(0) }

function bufferContent (buf: Buffer): Content {
  return { size: buf.length, slice: (s, e) => Buffer.from(buf.subarray(s, e)) }
}

function norm (path: string): string {
  const p = posix.normalize('/' + path)
  return p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p
}

function isDir (st: Stat): boolean {
  return (st.mode & S_IFMT) === S_IFDIR
}

function uid (): number { return process.getuid?.() ?? 0 }
function gid (): number { return process.getgid?.() ?? 0 }

function newStat (mode: number): Stat {
  const now = Date.now()
  return {
    mode,
    uid: uid(),
    gid: gid(),
    size: 0,
    blocks: 0,
    offset: 0,
    byteOffset: 0,
    mtime: now,
    ctime: now,
    linkname: null,
    metadata: {},
    mount: null
  }
}
