// Byte storage under a core: one named file per concern (header, state, tree,
// data, bitfield). Files on disk go through random-access-file; memory files
// exist for tests. Errors are coded and name the file.
import RandomAccessFile from 'random-access-file'
import { join } from 'node:path'
import { rm, mkdir, open as fsOpen } from 'node:fs/promises'
import { readSync, writeSync, writevSync } from 'node:fs'

const SYNC_LIMIT = 16 * 1024 * 1024
const IOV_MAX = 1024
import { HyperfsError } from '../errors.js'

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
  close (): Promise<void>
}

export interface Storage {
  open (name: string, opts?: { lock?: boolean }): Promise<StorageFile>
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

  close (): Promise<void> {
    return new Promise((resolve) => this.raf.close(() => resolve()))
  }
}

export class FileStorage implements Storage {
  readonly directory: string

  constructor (directory: string) {
    this.directory = directory
  }

  async open (name: string, opts: { lock?: boolean } = {}): Promise<StorageFile> {
    const path = join(this.directory, name)
    // random-access-file only creates a file on its first write; create it now
    // so that opening (and locking) a new core works the same as an old one
    try {
      await mkdir(this.directory, { recursive: true })
      await (await fsOpen(path, 'a')).close()
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

  async close (): Promise<void> {}
}

// Keeps its files across close/reopen of a core, like a directory would.
export class MemoryStorage implements Storage {
  private files = new Map<string, MemoryFile>()
  private locked = new Set<string>()

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
        close: async () => { locked.delete(name) }
      }
    }
    return f
  }
}

export function toStorage (s: StorageOption): Storage {
  return typeof s === 'string' ? new FileStorage(s) : s
}
