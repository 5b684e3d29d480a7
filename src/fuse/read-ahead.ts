// Read-ahead for one open file handle, between the FUSE read op and the drive
// (rclone's vfs cache sits in the same place). The kernel asks for 128 KiB at
// a time; over a network each of those would be a round trip. So while a
// reader moves forward we fetch ahead of it, and the window doubles each time
// the reader is served from prefetch (ready or still in flight), up to `max`.
//
// A read far from where the reader was is a jump: every prefetch in flight is
// aborted (their AbortSignal fires, so the drive can drop the requests), the
// window falls back to `min`, and the new position is fetched first.
//
// Reads may arrive out of order (libfuse runs several threads and the kernel
// issues its own read-ahead), so "near the frontier" counts as sequential.
//
// Bytes are copied once, from the fetched chunk into the caller's (the
// kernel's) buffer, and a read whose bytes are all here answers synchronously.
// Prefetch asks for pieces of at most `piece` bytes rather than one window:
// a drive returns a piece as one buffer, where a whole window would be
// concatenated from many, and big short-lived buffers are what made the
// garbage collector the largest cost of a sequential read.

import { HyperfsError } from '../errors.js'

// `timeout`: ms this fetch may take; the reader's remaining budget (see read())
export type FetchRange = (start: number, length: number, signal: AbortSignal, timeout?: number) => Promise<Buffer>

export interface ReadAheadOptions {
  min: number // first prefetch window, bytes (0 disables read-ahead)
  max: number // the window never grows past this
  piece?: number // largest single prefetch request (default 1 MiB)
  timeout?: number // ms one read may wait in all, prefetch it waits on included (default: no bound)
}

export interface ReadAheadServices {
  now?: () => number // ms clock, injectable for tests
}

const DEFAULT_PIECE = 1024 * 1024

interface Chunk {
  start: number
  end: number
  controller: AbortController
  promise: Promise<Buffer | null> // null when the fetch failed or was aborted
  ready: boolean
  data: Buffer | null // what promise gave, once ready
}

export class ReadAhead {
  readonly #fetch: FetchRange
  readonly #opts: ReadAheadOptions
  #size: number
  #chunks: Chunk[] = []
  #next = 0 // where a sequential reader reads next
  #window: number
  readonly #now: () => number

  constructor (fetch: FetchRange, size: number, opts: ReadAheadOptions, services: ReadAheadServices = {}) {
    this.#fetch = fetch
    this.#size = size
    this.#opts = opts
    this.#window = opts.min
    this.#now = services.now ?? Date.now
  }

  get size (): number {
    return this.#size
  }

  get window (): number {
    return this.#window
  }

  // The file changed (a commit, or a stat found it longer): cached bytes are stale.
  reset (size: number): void {
    this.#size = size
    this.#dropAll()
  }

  close (): void {
    this.#dropAll()
  }

  // Copies the bytes [offset, offset + length) that the file has into
  // target and gives their count: now when they are all here, else later.
  read (offset: number, length: number, target: Buffer): number | Promise<number> {
    const end = Math.min(offset + length, this.#size)
    if (offset >= end) return 0

    const sequential = this.#isSequential(offset)
    if (!sequential) {
      this.#dropAll()
      this.#window = this.#opts.min
    }
    this.#next = sequential ? Math.max(this.#next, end) : end

    const copied = this.#copyReady(offset, end, target)
    if (copied === end - offset) {
      this.#window = Math.min(this.#opts.max, this.#window * 2)
      this.#after(sequential)
      return copied
    }
    return this.#readSlow(offset, offset + copied, end, target, sequential, copied > 0, this.#now() + (this.#opts.timeout ?? Infinity))
  }

  // Copies from chunks that have arrived, from `offset` on, until a byte is not here.
  #copyReady (offset: number, end: number, target: Buffer): number {
    let pos = offset
    while (pos < end) {
      const chunk = this.#chunks.find((c) => c.start <= pos && pos < c.end)
      const buf = chunk?.ready ? chunk.data : null
      if (!chunk || !buf || buf.length <= pos - chunk.start) break
      pos += buf.copy(target, pos - offset, pos - chunk.start, Math.min(buf.length, end - chunk.start))
    }
    return pos - offset
  }

  // One read has one budget (until): a prefetch it waited on that failed
  // does not earn the fetch after it a fresh timeout, so the reader gets its
  // error within the timeout, not after a multiple of it.
  async #readSlow (offset: number, pos: number, end: number, target: Buffer, sequential: boolean, hit: boolean, until: number): Promise<number> {
    while (pos < end) {
      const chunk = this.#chunks.find((c) => c.start <= pos && pos < c.end)
      if (chunk) {
        const buf = await chunk.promise
        const from = pos - chunk.start
        if (buf && buf.length > from) {
          pos += buf.copy(target, pos - offset, from, Math.min(buf.length, end - chunk.start))
          // Waiting on prefetch in flight grows the window too: over a
          // network the reader always waits, and a window that stayed small
          // would keep too few requests in flight to fill the link.
          hit = true
          continue
        }
        // failed, aborted or short: forget it and fetch directly below
        this.#chunks = this.#chunks.filter((c) => c !== chunk)
        if (buf) break // the drive had less than the size said: end of file
      }
      // the reader waits on this one, so it is never aborted by a jump
      const gapEnd = Math.min(end, ...this.#chunks.filter((c) => c.start > pos).map((c) => c.start))
      const left = until - this.#now()
      if (left <= 0) throw HyperfsError.REQUEST_TIMEOUT(`read at ${pos}: no bytes within the read's timeout`)
      const buf = await this.#fetch(pos, gapEnd - pos, new AbortController().signal, Number.isFinite(left) ? left : undefined)
      if (buf.length === 0) break
      pos += buf.copy(target, pos - offset, 0, Math.min(buf.length, end - pos))
    }

    if (hit) this.#window = Math.min(this.#opts.max, this.#window * 2)
    this.#after(sequential)
    return pos - offset
  }

  #after (sequential: boolean): void {
    if (sequential) this.#prefetch()
    this.#evict()
  }

  #isSequential (offset: number): boolean {
    if (offset === this.#next) return true
    const frontier = this.#chunks.reduce((m, c) => Math.max(m, c.end), this.#next)
    const slack = Math.max(this.#window, 256 * 1024)
    return offset >= this.#next - slack && offset <= frontier + slack
  }

  // Keep up to one window of bytes requested beyond where the reader is.
  #prefetch (): void {
    if (this.#window <= 0) return
    const frontier = this.#chunks.reduce((m, c) => Math.max(m, c.end), this.#next)
    const ahead = frontier - this.#next
    // top up only when half the window is used, so requests stay large
    if (ahead > this.#window / 2 || frontier >= this.#size) return
    const start = frontier
    const end = Math.min(this.#size, this.#next + this.#window)
    if (end <= start) return
    const piece = this.#opts.piece ?? DEFAULT_PIECE
    for (let from = start; from < end; from += piece) this.#chunks.push(this.#startFetch(from, Math.min(end, from + piece)))
  }

  #startFetch (start: number, end: number): Chunk {
    const controller = new AbortController()
    const chunk: Chunk = { start, end, controller, ready: false, data: null, promise: Promise.resolve(null) }
    chunk.promise = this.#fetch(start, end - start, controller.signal).then(
      (buf) => { chunk.ready = true; chunk.data = buf; return buf },
      () => { chunk.ready = true; return null } // the reader refetches what it needs and sees that error
    )
    return chunk
  }

  // Bytes well behind the reader are not read again by a sequential reader.
  #evict (): void {
    const keepFrom = this.#next - Math.max(this.#window, 256 * 1024)
    if (!this.#chunks.some((c) => c.end <= keepFrom)) return
    for (const c of this.#chunks) if (c.end <= keepFrom) c.controller.abort()
    this.#chunks = this.#chunks.filter((c) => c.end > keepFrom)
  }

  #dropAll (): void {
    for (const c of this.#chunks) c.controller.abort()
    this.#chunks = []
  }
}
