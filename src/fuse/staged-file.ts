// The bytes of one file while it is open for writing. Writes, truncates and
// appends land here; the drive only sees the file changed when it is
// committed (flush/fsync/release), so a reader of the drive never sees half a
// save.
//
// The stage holds only the bytes written. The rest comes from its base: the
// file as the drive held it when the stage began, or at its last commit,
// read on demand through the reader the filesystem gives (one that reads a
// version of the drive that does not move). A new file, or one opened with
// O_TRUNC, has none. So opening a 64 MiB file and writing a byte stages a
// byte, not a copy of the file. The base may become an old version's content
// (the file changed outside the mount): its giver keeps it from gc until the
// stage lets go of it (StageBase.release).
//
// What the file holds: written ranges (dirty: sorted, apart) are the stage's;
// other bytes below `keep` (the smallest size the file had since its base)
// are the base's; the rest, zeros. The same three make what a commit sends:
// a drive that can change part of a file takes only the written ranges.
//
// Small stages live in memory. Past `spillThreshold` bytes they move to a
// temp file, which is unlinked right after it is opened: the kernel frees it
// when we close it or when the process dies, so a kill -9 leaves nothing.
// The temp file is sparse and holds only the written ranges, so a write at
// 5 GiB costs one block, not 5 GiB. Bytes of the store outside written
// ranges are zeros (a truncate clears what it cuts), which joins rely on.
import { open, unlink, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { HyperfsError } from '../errors.js'

export interface StagedFileOptions {
  spillThreshold: number // bytes kept in memory before moving to a temp file
  tmpDir: string
}

// The content a stage changes: `size` bytes, read on demand.
export interface StageBase {
  size: number
  // fills target[targetOffset, targetOffset + length) with bytes [start, start + length)
  read (target: Buffer, targetOffset: number, start: number, length: number): Promise<void>
  // called once the stage no longer reads from it (after a rebase, once the
  // reads under way are done; or at close): what kept its bytes may let go
  release? (): void
}

const CHUNK = 1024 * 1024
// dirty ranges kept apart; past this the two closest are joined (the bytes
// between them are staged too, from the base, and sent again: right, only
// less sparing)
const MAX_DIRTY_RANGES = 1024

export interface StagedChanges {
  keep: number // bytes [0, keep) not in a dirty range are the base's
  size: number
  dirty: Array<[number, number]> // [start, end), sorted, apart
}

export class StagedFile {
  readonly #opts: StagedFileOptions
  #base: StageBase | null
  #mem: Buffer | null = Buffer.alloc(0)
  #file: FileHandle | null = null
  #size: number
  #closed = false
  #dirty: Array<[number, number]> = []
  #keep: number
  #reads = 0 // reads under way
  #retired: FileHandle[] = [] // temp files a rebase let go of, closed once no read uses them
  #retiredBases: StageBase[] = [] // and bases, released then

  constructor (opts: StagedFileOptions, base: StageBase | null = null) {
    this.#opts = opts
    this.#base = base
    this.#size = base?.size ?? 0
    this.#keep = this.#size
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
    await this.#store(data, offset)
    if (end > this.#size) this.#size = end
    await this.#markDirty(offset, end)
    return data.byteLength
  }

  // Reads may run while a write or a commit changes the stage: each works on
  // the stage as it was when it began (a commit's rebase closes the old temp
  // file only once the reads that use it are done).
  async read (target: Buffer, offset: number, length: number): Promise<number> {
    this.#assertOpen()
    const n = Math.max(0, Math.min(length, this.#size - offset))
    const end = offset + n
    const at = { mem: this.#mem, file: this.#file, dirty: this.#dirty, keep: this.#keep, base: this.#base }
    this.#reads++
    try {
      let pos = offset
      let i = 0
      while (i < at.dirty.length && at.dirty[i][1] <= pos) i++
      while (pos < end) {
        const r = at.dirty[i]
        if (r && r[0] <= pos) {
          const stop = Math.min(end, r[1])
          await readStored(at, target, pos - offset, pos, stop - pos)
          pos = stop
          i++
          continue
        }
        const gap = r ? Math.min(end, r[0]) : end
        const fromBase = Math.min(gap, at.keep)
        if (pos < fromBase) {
          await at.base!.read(target, pos - offset, pos, fromBase - pos)
          pos = fromBase
        }
        if (pos < gap) {
          target.fill(0, pos - offset, gap - offset)
          pos = gap
        }
      }
      return n
    } finally {
      if (--this.#reads === 0) await this.#closeRetired()
    }
  }

  async truncate (size: number): Promise<void> {
    this.#assertOpen()
    if (size < this.#size) {
      if (this.#file) await this.#file.truncate(size)
      else if (size < this.#mem!.length) this.#mem!.fill(0, size)
    }
    this.#size = size
    this.#keep = Math.min(this.#keep, size)
    this.#dirty = this.#dirty.filter(([s]) => s < size).map(([s, e]) => [s, Math.min(e, size)])
  }

  // What changed since the base.
  changes (): StagedChanges {
    return { keep: this.#keep, size: this.#size, dirty: this.#dirty.map(([s, e]) => [s, e]) }
  }

  // The content as it is now is what the drive holds (it was committed):
  // that is the base from here on, and the stage lets go of what it held.
  async rebase (base: StageBase | null): Promise<void> {
    this.#assertOpen()
    if (this.#file) this.#retired.push(this.#file)
    if (this.#base) this.#retiredBases.push(this.#base)
    this.#file = null
    this.#mem = Buffer.alloc(0)
    this.#dirty = []
    this.#base = base
    this.#size = this.#keep = base?.size ?? 0
    if (this.#reads === 0) await this.#closeRetired()
  }

  async #closeRetired (): Promise<void> {
    const files = this.#retired
    this.#retired = []
    for (const b of this.#retiredBases.splice(0)) b.release?.()
    for (const f of files) await f.close()
  }

  // Bytes the stage takes on the disk (its temp file's blocks; none in memory).
  async diskBytes (): Promise<number> {
    if (!this.#file) return 0
    return (await this.#file.stat()).blocks * 512
  }

  // The whole content, for drive.writeFile: a Buffer when it is all in
  // memory, otherwise chunks as they are read. The caller must not write
  // while iterating.
  content (): Buffer | AsyncIterable<Uint8Array> {
    return this.range(0, this.#size)
  }

  // Bytes [start, end), like content().
  range (start: number, end: number): Buffer | AsyncIterable<Uint8Array> {
    this.#assertOpen()
    const mem = this.#mem
    if (mem && end <= mem.length && this.#inStage(start, end)) return Buffer.from(mem.subarray(start, end))
    return this.#chunks(start, end)
  }

  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#mem = null
    if (this.#base) this.#retiredBases.push(this.#base)
    this.#base = null
    const file = this.#file
    this.#file = null
    if (file) await file.close()
    await this.#closeRetired()
  }

  // [start, end) is all the stage's own: written, or zeros past keep
  #inStage (start: number, end: number): boolean {
    if (start >= this.#keep) return true
    return this.#dirty.some(([s, e]) => s <= start && e >= Math.min(end, this.#keep))
  }

  async * #chunks (start: number, end: number): AsyncIterable<Uint8Array> {
    for (let pos = start; pos < end; pos += CHUNK) {
      const buf = Buffer.alloc(Math.min(CHUNK, end - pos))
      await this.read(buf, pos, buf.length)
      yield buf
    }
  }

  async #store (data: Uint8Array, offset: number): Promise<void> {
    if (this.#file) {
      let done = 0
      while (done < data.byteLength) {
        const { bytesWritten } = await this.#file.write(data, done, data.byteLength - done, offset + done)
        done += bytesWritten
      }
    } else {
      this.#mem!.set(data, offset)
    }
  }

  async #markDirty (start: number, end: number): Promise<void> {
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
      await this.#stageBase(out[best][1], out[best + 1][0])
      out.splice(best, 2, [out[best][0], out[best + 1][1]])
    }
    this.#dirty = out
  }

  // Stages the base's bytes of [start, end) (below keep; past it the store
  // holds zeros already), so that the range can join its written neighbours.
  async #stageBase (start: number, end: number): Promise<void> {
    for (let pos = start; pos < Math.min(end, this.#keep); pos += CHUNK) {
      const buf = Buffer.alloc(Math.min(CHUNK, this.#keep - pos, end - pos))
      await this.#base!.read(buf, 0, pos, buf.length)
      await this.#store(buf, pos)
    }
  }

  async #reserve (end: number): Promise<void> {
    if (this.#file) return
    const mem = this.#mem!
    if (end <= mem.length) return
    if (end > this.#opts.spillThreshold) return this.#spill()
    const grown = Buffer.alloc(Math.min(this.#opts.spillThreshold, Math.max(end, mem.length * 2, 4096)))
    mem.copy(grown)
    this.#mem = grown
  }

  // Moves what is staged to a temp file: the written ranges only.
  async #spill (): Promise<void> {
    const path = join(this.#opts.tmpDir, `hyperfs-stage-${randomUUID()}`)
    const file = await open(path, 'wx+', 0o600)
    await unlink(path)
    try {
      const mem = this.#mem!
      for (const [s, e] of this.#dirty) {
        for (let pos = s; pos < e; pos += CHUNK) await file.write(mem, pos, Math.min(CHUNK, e - pos), pos)
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

// Bytes [offset, offset + length) of a stage's store, as a read found it.
async function readStored (at: { mem: Buffer | null, file: FileHandle | null }, target: Buffer, targetOffset: number, offset: number, length: number): Promise<void> {
  if (!at.file) {
    at.mem!.copy(target, targetOffset, offset, offset + length)
    return
  }
  let done = 0
  while (done < length) {
    const { bytesRead } = await at.file.read(target, targetOffset + done, length - done, offset + done)
    if (bytesRead === 0) break // a hole at the end of the spill file reads as EOF; zero it
    done += bytesRead
  }
  if (done < length) target.fill(0, targetOffset + done, targetOffset + length)
}
