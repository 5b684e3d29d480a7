// Byte storage under a core: one named file per concern (header, state, tree,
// data, bitfield). Files on disk go through random-access-file; memory files
// exist for tests. Errors are coded and name the file.
//
// A core's header holds its secret key, so everything on disk is private to
// us: files 0600, folders 0700, fixed on every open (older versions left them
// 0644 and 0755, and another local user could copy a key and sign a new
// version). A folder that others can write to is refused, as ssh refuses a
// key file others can change: they could swap the keys or data under us.
//
// Space is given back to the disk by punching holes (punch()):
// fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE) on the descriptor,
// through random-access-file's del(), which calls it through its prebuilt
// fs-native-extensions binding. Without that binding del() does nothing, so
// then util-linux fallocate(1) punches the same range by path. Writing zeros
// or rewriting the file around the range would not be sound here: zeros
// keep the space, and a rewrite races the reads and writes of the open core.
// Where neither works (a filesystem without hole punching), punch() says
// so and the bytes stay; the caller has already stopped claiming them.
import RandomAccessFile from 'random-access-file'
import { join, relative, isAbsolute, sep } from 'node:path'
import { rm, open as fsOpen, access } from 'node:fs/promises'
import { readSync, writeSync, writevSync, mkdirSync, statSync, chmodSync, fdatasync } from 'node:fs'
import { execFile } from 'node:child_process'
import { createRequire } from 'node:module'
import { HyperfsError, systemCode } from '../errors.js'

const SYNC_LIMIT = 16 * 1024 * 1024
const IOV_MAX = 1024
export const PRIVATE_FOLDER_MODE = 0o700
export const PRIVATE_FILE_MODE = 0o600
const WRITABLE_BY_OTHERS = 0o022 // group or other write: refused
const OPEN_TO_OTHERS = 0o077 // any group or other bit: taken away
const STAT_BLOCK = 512 // st_blocks counts units of 512 bytes
const PUNCH_TOOL_MS = 30_000 // a fallocate(1) run that takes longer is killed

// Whether random-access-file's del() really punches (its optional native
// binding loaded), found once from where random-access-file resolves it.
const NATIVE_PUNCH = (() => {
  try {
    const here = createRequire(import.meta.url)
    createRequire(here.resolve('random-access-file')).resolve('fs-native-extensions')
    return true
  } catch {
    return false
  }
})()

export interface StorageFile {
  readonly name: string
  read (offset: number, length: number): Promise<Buffer>
  write (offset: number, data: Uint8Array): Promise<void>
  // several buffers back to back from `offset`, without joining them first
  writev (offset: number, data: Uint8Array[]): Promise<void>
  // synchronous read straight into `target` (no new buffer); returns the bytes read
  readInto (offset: number, target: Uint8Array, targetOffset: number, length: number): number
  size (): Promise<number>
  truncate (length: number): Promise<void>
  // Frees bytes [offset, offset + length) on the disk (a hole that reads as
  // zeros; the size stays). False when this filesystem cannot: the bytes stay.
  punch (offset: number, length: number): Promise<boolean>
  // Writes made so far reach the disk before anything written after this resolves.
  sync (): Promise<void>
  // bytes the file takes on the disk (holes not counted)
  allocated (): Promise<number>
  close (): Promise<void>
}

export interface Storage {
  open (name: string, opts?: { lock?: boolean }): Promise<StorageFile>
  // whether a file was ever created here (without creating it)
  exists? (name: string): Promise<boolean>
  destroy? (): Promise<void>
}

export type StorageOption = string | Storage

function wrap (name: string, what: string, err: Error | null): HyperfsError | null {
  if (!err) return null
  const code = (err as any).code
  if (code === 'ELOCKED') return HyperfsError.STORAGE_LOCKED(`${name} is in use by another process`)
  return HyperfsError.from('STORAGE_IO', `${what} ${name}: ${err.message}`, err)
}

class FileStorageFile implements StorageFile {
  readonly name: string
  private raf: RandomAccessFile

  constructor (name: string, raf: RandomAccessFile) {
    this.name = name
    this.raf = raf
  }

  // Reads and writes go straight to the descriptor random-access-file opened
  // (and locked), synchronously: on these machines an async round trip through
  // libuv's thread pool costs ~100 µs, a page-cache pread/pwrite of 64 KiB ~10 µs,
  // and the log waits on each write in turn. Large transfers stay async.
  async read (offset: number, length: number): Promise<Buffer> {
    if (length > SYNC_LIMIT || !this.raf.fd) return this.readAsync(offset, length)
    const buf = Buffer.allocUnsafe(length)
    let n: number
    try {
      n = readSync(this.raf.fd, buf, 0, length, offset)
    } catch (err) {
      throw wrap(this.name, 'read', err as Error)!
    }
    if (n < length) throw HyperfsError.STORAGE_CORRUPT(`${this.name}: cannot read ${length} bytes at ${offset} (file too short)`)
    return buf
  }

  async write (offset: number, data: Uint8Array): Promise<void> {
    if (data.byteLength > SYNC_LIMIT || !this.raf.fd) return this.writeAsync(offset, data)
    try {
      let done = 0
      while (done < data.byteLength) done += writeSync(this.raf.fd, data, done, data.byteLength - done, offset + done)
    } catch (err) {
      throw wrap(this.name, 'write', err as Error)!
    }
  }

  readInto (offset: number, target: Uint8Array, targetOffset: number, length: number): number {
    if (!this.raf.fd) throw HyperfsError.from('STORAGE_IO', `${this.name} is not open`)
    try {
      return readSync(this.raf.fd, target, targetOffset, length, offset)
    } catch (err) {
      throw wrap(this.name, 'read', err as Error)!
    }
  }

  async writev (offset: number, data: Uint8Array[]): Promise<void> {
    let total = 0
    for (const d of data) total += d.byteLength
    if (total > SYNC_LIMIT || !this.raf.fd || data.length > IOV_MAX) return this.write(offset, Buffer.concat(data))
    try {
      const done = writevSync(this.raf.fd, data, offset)
      if (done < total) {
        // a short write (rare on regular files): finish the rest in one piece
        const rest = Buffer.concat(data).subarray(done)
        let k = 0
        while (k < rest.byteLength) k += writeSync(this.raf.fd, rest, k, rest.byteLength - k, offset + done + k)
      }
    } catch (err) {
      throw wrap(this.name, 'write', err as Error)!
    }
  }

  private readAsync (offset: number, length: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.raf.read(offset, length, (err, buf) => {
        if (err) {
          // random-access-file reports a short read as a plain error; past-EOF
          // reads mean the file is shorter than its metadata says
          reject(HyperfsError.STORAGE_CORRUPT(`${this.name}: cannot read ${length} bytes at ${offset} (file too short)`))
        } else resolve(buf!)
      })
    })
  }

  private writeAsync (offset: number, data: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.raf.write(offset, data, (err) => {
        const e = wrap(this.name, 'write', err)
        if (e) reject(e); else resolve()
      })
    })
  }

  size (): Promise<number> {
    return new Promise((resolve, reject) => {
      this.raf.stat((err, st) => {
        if (err) {
          if ((err as any).code === 'ENOENT') return resolve(0)
          return reject(wrap(this.name, 'stat', err))
        }
        resolve(st!.size)
      })
    })
  }

  truncate (length: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.raf.truncate(length, (err) => {
        const e = wrap(this.name, 'truncate', err)
        if (e) reject(e); else resolve()
      })
    })
  }

  async punch (offset: number, length: number): Promise<boolean> {
    if (length <= 0) return true
    if (NATIVE_PUNCH) {
      const err = await new Promise<Error | null>((resolve) => this.raf.del(offset, length, (e) => resolve(e ?? null)))
      if (!err) return true
      if (!cannotPunch(err)) throw wrap(this.name, 'punch a hole in', err)!
      return false
    }
    const args = ['--punch-hole', '--keep-size', '--offset', String(offset), '--length', String(length), this.name]
    const err = await new Promise<Error | null>((resolve) => {
      execFile('fallocate', args, { timeout: PUNCH_TOOL_MS, killSignal: 'SIGKILL' }, (e) => resolve(e))
    })
    if (!err) return true
    // no fallocate(1) here, or a filesystem that cannot punch (its message says so)
    if (systemCode(err) === 'ENOENT' || /not supported/i.test(err.message)) return false
    throw wrap(this.name, 'punch a hole in', err)!
  }

  sync (): Promise<void> {
    if (!this.raf.fd) return Promise.resolve()
    return new Promise((resolve, reject) => {
      fdatasync(this.raf.fd, (err) => {
        const e = wrap(this.name, 'sync', err)
        if (e) reject(e); else resolve()
      })
    })
  }

  allocated (): Promise<number> {
    return new Promise((resolve, reject) => {
      this.raf.stat((err, st) => {
        if (err) {
          if ((err as any).code === 'ENOENT') return resolve(0)
          return reject(wrap(this.name, 'stat', err))
        }
        resolve(st!.blocks * STAT_BLOCK)
      })
    })
  }

  close (): Promise<void> {
    return new Promise((resolve) => this.raf.close(() => resolve()))
  }
}

function cannotPunch (err: Error): boolean {
  const code = systemCode(err)
  return code === 'EOPNOTSUPP' || code === 'ENOTSUP' || code === 'ENOSYS'
}

// Creates `dir` (and its missing parents) private to us, or makes an existing
// one private. STORAGE_INSECURE when other users can write to it, or when it
// belongs to another user (who could open it up again); root may own it.
export function privateFolder (dir: string): void {
  try {
    mkdirSync(dir, { recursive: true, mode: PRIVATE_FOLDER_MODE })
  } catch (err) {
    throw wrap(dir, 'create', err as Error)!
  }
  securePath(dir)
}

function securePath (dir: string): void {
  let st
  try {
    st = statSync(dir)
  } catch (err) {
    throw wrap(dir, 'stat', err as Error)!
  }
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0')
  const uid = process.getuid?.() ?? -1
  if (uid > 0 && st.uid !== uid && st.uid !== 0) {
    throw HyperfsError.STORAGE_INSECURE(`${dir} belongs to another user (uid ${st.uid}), who could read the secret keys kept there; use a folder of your own`)
  }
  if ((st.mode & WRITABLE_BY_OTHERS) !== 0) {
    throw HyperfsError.STORAGE_INSECURE(`${dir} is writable by other users (mode ${mode}), who could replace the keys and data kept there; ` +
      `if nobody has, make it private with: chmod 700 ${dir}`)
  }
  if ((st.mode & OPEN_TO_OTHERS) !== 0) {
    try {
      chmodSync(dir, PRIVATE_FOLDER_MODE)
    } catch (err) {
      throw wrap(dir, 'chmod', err as Error)!
    }
  }
}

export interface FileStorageOptions {
  // The storage folder this directory lies in: every folder from it down to
  // the directory is made private (or refused), not only the last one.
  root?: string
}

export class FileStorage implements Storage {
  readonly directory: string
  private readonly root: string
  private secured = false

  constructor (directory: string, opts: FileStorageOptions = {}) {
    this.directory = directory
    this.root = opts.root ?? directory
  }

  private secure (): void {
    if (this.secured) return
    privateFolder(this.directory)
    const rel = relative(this.root, this.directory)
    if (rel !== '' && !rel.startsWith('..') && !isAbsolute(rel)) {
      const parts = rel.split(sep)
      let dir = this.root
      securePath(dir)
      for (const part of parts.slice(0, -1)) securePath(dir = join(dir, part))
    }
    this.secured = true
  }

  async open (name: string, opts: { lock?: boolean } = {}): Promise<StorageFile> {
    const path = join(this.directory, name)
    this.secure()
    // random-access-file only creates a file on its first write; create it now
    // so that opening (and locking) a new core works the same as an old one
    try {
      const fh = await fsOpen(path, 'a', PRIVATE_FILE_MODE)
      try {
        if (((await fh.stat()).mode & OPEN_TO_OTHERS) !== 0) await fh.chmod(PRIVATE_FILE_MODE)
      } finally {
        await fh.close()
      }
    } catch (err) {
      throw wrap(path, 'create', err as Error)
    }
    const raf = new RandomAccessFile(path, { lock: opts.lock === true })
    return new Promise((resolve, reject) => {
      raf.open((err) => {
        const e = wrap(path, 'open', err)
        if (e) reject(e); else resolve(new FileStorageFile(path, raf))
      })
    })
  }

  async exists (name: string): Promise<boolean> {
    try {
      await access(join(this.directory, name))
      return true
    } catch {
      return false
    }
  }

  async destroy (): Promise<void> {
    await rm(this.directory, { recursive: true, force: true })
  }
}

class MemoryFile implements StorageFile {
  readonly name: string
  private buf = Buffer.alloc(0)
  private len = 0

  constructor (name: string) {
    this.name = name
  }

  async read (offset: number, length: number): Promise<Buffer> {
    if (offset + length > this.len) {
      throw HyperfsError.STORAGE_CORRUPT(`${this.name}: cannot read ${length} bytes at ${offset} (file too short)`)
    }
    return Buffer.from(this.buf.subarray(offset, offset + length))
  }

  async write (offset: number, data: Uint8Array): Promise<void> {
    const end = offset + data.byteLength
    if (end > this.buf.byteLength) {
      const next = Buffer.alloc(Math.max(end, this.buf.byteLength * 2))
      this.buf.copy(next, 0, 0, this.len)
      this.buf = next
    }
    this.buf.set(data, offset)
    if (end > this.len) this.len = end
  }

  async writev (offset: number, data: Uint8Array[]): Promise<void> {
    await this.write(offset, Buffer.concat(data))
  }

  readInto (offset: number, target: Uint8Array, targetOffset: number, length: number): number {
    const n = Math.max(0, Math.min(length, this.len - offset))
    target.set(this.buf.subarray(offset, offset + n), targetOffset)
    return n
  }

  async size (): Promise<number> { return this.len }

  async truncate (length: number): Promise<void> {
    if (length < this.len) this.buf.fill(0, length, this.len)
    this.len = length
  }

  // memory has no holes: the bytes read as zeros, as a hole would
  async punch (offset: number, length: number): Promise<boolean> {
    this.buf.fill(0, Math.min(offset, this.len), Math.min(offset + length, this.len))
    return true
  }

  async sync (): Promise<void> {}

  async allocated (): Promise<number> { return this.len }

  async close (): Promise<void> {}
}

// Keeps its files across close/reopen of a core, like a directory would.
export class MemoryStorage implements Storage {
  private files = new Map<string, MemoryFile>()
  private locked = new Set<string>()

  async exists (name: string): Promise<boolean> {
    return this.files.has(name)
  }

  async open (name: string, opts: { lock?: boolean } = {}): Promise<StorageFile> {
    let f = this.files.get(name)
    if (!f) { f = new MemoryFile(name); this.files.set(name, f) }
    if (opts.lock) {
      if (this.locked.has(name)) throw HyperfsError.STORAGE_LOCKED(`${name} is in use`)
      this.locked.add(name)
      const file = f
      const locked = this.locked
      return {
        name,
        read: (o, l) => file.read(o, l),
        write: (o, d) => file.write(o, d),
        writev: (o, d) => file.writev(o, d),
        readInto: (o, t, to, l) => file.readInto(o, t, to, l),
        size: () => file.size(),
        truncate: (l) => file.truncate(l),
        punch: (o, l) => file.punch(o, l),
        sync: () => file.sync(),
        allocated: () => file.allocated(),
        close: async () => { locked.delete(name) }
      }
    }
    return f
  }
}

export function toStorage (s: StorageOption): Storage {
  return typeof s === 'string' ? new FileStorage(s) : s
}
