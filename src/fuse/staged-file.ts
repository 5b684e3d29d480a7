// The bytes of one file while it is open for writing. Writes, truncates and
// appends land here; the drive only sees the whole file when it is committed
// (flush/fsync/release), so a reader of the drive never sees half a save.
//
// Small files live in memory. Past `spillThreshold` bytes the content moves to
// a temp file, which is unlinked right after it is opened: the kernel frees it
// when we close it or when the process dies, so a kill -9 leaves nothing.
// The temp file is sparse, so a write at 5 GiB costs one block, not 5 GiB.
//
// It also keeps what changed since markClean(): the byte ranges written
// (dirty), and the smallest size the file had (keep: bytes past it that are
// not dirty are zeros now, not the old content). A commit to a drive that
// can change part of a file sends only those.
import { open, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { HyperfsError } from '../errors.js'

export interface StagedFileOptions {
  spillThreshold: number // bytes kept in memory before moving to a temp file
  tmpDir: string
}

const CHUNK = 1024 * 1024
// dirty ranges kept apart; past this the two closest are joined (the bytes
// between them are sent again, which is right, only less sparing)
const MAX_DIRTY_RANGES = 1024

export interface StagedChanges {
  keep: number // bytes [0, keep) not in a dirty range are the committed ones
  size: number
  dirty: Array<[number, number]> // [start, end), sorted, apart
}

export class StagedFile {
  readonly #opts: StagedFileOptions
  #mem: Buffer | null = Buffer.alloc(0)
  #file: FileHandle | null = null
  #size = 0
  #closed = false
  #dirty: Array<[number, number]> = []
  #keep = 0

  constructor (opts: StagedFileOptions) {
    this.#opts = opts
  }

  get size (): number {
    return this.#size
  }

  get spilled (): boolean {
    return this.#file !== null
  }

  async write (data: Uint8Array, offset: number): Promise<number> {
    this.#assertOpen()
    const end = offset + data.byteLength
    await this.#reserve(end)
    if (this.#file) {
      let done = 0
      while (done < data.byteLength) {
        const { bytesWritten } = await this.#file.write(data, done, data.byteLength - done, offset + done)
        done += bytesWritten
      }
    } else {
      this.#mem!.set(data, offset)
    }
    if (end > this.#size) this.#size = end
    this.#markDirty(offset, end)
    return data.byteLength
  }

  async read (target: Buffer, offset: number, length: number): Promise<number> {
    this.#assertOpen()
    const n = Math.max(0, Math.min(length, this.#size - offset))
    if (n === 0) return 0
    if (this.#file) {
      let done = 0
      while (done < n) {
        const { bytesRead } = await this.#file.read(target, done, n - done, offset + done)
        if (bytesRead === 0) break // a hole at the end of the spill file reads as EOF; zero it
        done += bytesRead
      }
      if (done < n) target.fill(0, done, n)
      return n
    }
    this.#mem!.copy(target, 0, offset, offset + n)
    return n
  }

  async truncate (size: number): Promise<void> {
    this.#assertOpen()
    if (size > this.#size) await this.#reserve(size)
    if (this.#file) {
      await this.#file.truncate(size)
    } else if (size < this.#size) {
      // the capacity beyond size must read as zeros if the file grows again
      this.#mem!.fill(0, size, this.#size)
    }
    this.#size = size
    this.#keep = Math.min(this.#keep, size)
    this.#dirty = this.#dirty.filter(([s]) => s < size).map(([s, e]) => [s, Math.min(e, size)])
  }

  // What changed since the last markClean().
  changes (): StagedChanges {
    return { keep: this.#keep, size: this.#size, dirty: this.#dirty.map(([s, e]) => [s, e]) }
  }

  // The content as it is now is what the drive holds (it was loaded from it,
  // or committed to it).
  markClean (): void {
    this.#dirty = []
    this.#keep = this.#size
  }

  // The whole content, for drive.writeFile: a Buffer when small, otherwise
  // chunks read from the temp file. The caller must not write while iterating.
  content (): Buffer | AsyncIterable<Uint8Array> {
    this.#assertOpen()
    if (!this.#file) return Buffer.from(this.#mem!.subarray(0, this.#size))
    return this.#chunks(0, this.#size)
  }

  // Bytes [start, end), like content().
  range (start: number, end: number): Buffer | AsyncIterable<Uint8Array> {
    this.#assertOpen()
    if (!this.#file) return Buffer.from(this.#mem!.subarray(start, end))
    return this.#chunks(start, end)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#mem = null
    const file = this.#file
    this.#file = null
    if (file) await file.close()
  }

  async * #chunks (start: number, end: number): AsyncIterable<Uint8Array> {
    for (let pos = start; pos < end; pos += CHUNK) {
      const buf = Buffer.alloc(Math.min(CHUNK, end - pos))
      await this.read(buf, pos, buf.length)
      yield buf
    }
  }

  #markDirty (start: number, end: number): void {
    if (end <= start) return
    const out: Array<[number, number]> = []
    let s = start
    let e = end
    let placed = false
    for (const r of this.#dirty) {
      if (r[1] < s) { out.push(r); continue }
      if (r[0] > e) {
        if (!placed) { out.push([s, e]); placed = true }
        out.push(r)
        continue
      }
      s = Math.min(s, r[0])
      e = Math.max(e, r[1])
    }
    if (!placed) out.push([s, e])
    while (out.length > MAX_DIRTY_RANGES) {
      let best = 0
      for (let i = 1; i < out.length - 1; i++) if (out[i + 1][0] - out[i][1] < out[best + 1][0] - out[best][1]) best = i
      out.splice(best, 2, [out[best][0], out[best + 1][1]])
    }
    this.#dirty = out
  }

  async #reserve (end: number): Promise<void> {
    if (this.#file) return
    const mem = this.#mem!
    if (end <= mem.length) return
    if (end > this.#opts.spillThreshold) return this.#spill()
    const grown = Buffer.alloc(Math.min(this.#opts.spillThreshold, Math.max(end, mem.length * 2, 4096)))
    mem.copy(grown, 0, 0, this.#size)
    this.#mem = grown
  }

  async #spill (): Promise<void> {
    const path = join(this.#opts.tmpDir, `hyperfs-stage-${randomUUID()}`)
    const file = await open(path, 'wx+', 0o600)
    await unlink(path)
    try {
      const mem = this.#mem!
      for (let pos = 0; pos < this.#size; pos += CHUNK) {
        const n = Math.min(CHUNK, this.#size - pos)
        await file.write(mem, pos, n, pos)
      }
    } catch (err) {
      await file.close()
      throw err
    }
    this.#file = file
    this.#mem = null
  }

  #assertOpen (): void {
    if (this.#closed) throw HyperfsError.from('EBADF', 'staged file is closed')
  }
}
