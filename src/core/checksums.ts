// The checksums sidecar of a core: per block, the CRC-32 and length of its
// bytes (codec/core-storage.ts), so that the first read of a block after open
// can be checked at CRC speed instead of hashing it up to the signed tree.
//
// Why a CRC is enough: an entry is only ever recorded from bytes in memory
// that were just checked against the tree (an append hashing them into it, a
// peer's block passing its proof, a local read or verify that hashed it). A
// later read whose bytes have the same length and CRC is, short of a 2^-32
// accident, those same bytes, so the CRC carries a check already made to
// later reads. It guards against accidental damage (a failing disk, a stray
// write), not against someone who can write to the storage folder: they
// could replace the keys as well.
//
// What keeps that true:
//   - an entry names the bytes of block i of the current tree. A truncation
//     rewrites blocks past its length, so their entries are cut off, and
//     synced, before the truncation commits; clear() zeroes the entries of
//     the blocks it drops before it punches their bytes (a block fetched
//     again brings its own entry, recorded after its proof);
//   - entries are written after the bytes they describe (an append's after
//     its state commit, so none names bytes of an append that never
//     committed). A kill between the two leaves the entry missing, or zeroed
//     (a block fetched again after clear()): the next read falls back to the
//     full check and records it. A damaged entry likewise costs a hash,
//     never a wrong byte;
//   - an error reading this file counts as "no entry" too, and one writing
//     an entry leaves it missing or old.
//
// Entries are read a page at a time, synchronously (the zero-copy read cannot
// wait), and a few pages are kept; writes are queued in call order, so a
// zeroing is never overtaken by an entry recorded before it.
import { crc32 } from './crc32.js'
import { CHECKSUM_ENTRY_SIZE, MAX_CHECKSUMMED_BLOCK, type ChecksumEntry, encodeChecksumEntry, decodeChecksumEntry } from '../codec/index.js'
import { safetyCatch } from '../errors.js'
import type { StorageFile } from './storage.js'

const PAGE_ENTRIES = 512 // entries read at once: 4 KiB
const PAGE_BYTES = PAGE_ENTRIES * CHECKSUM_ENTRY_SIZE
const MAX_PAGES = 64 // pages kept in memory (256 KiB); a read moves on and rarely needs one again
const ZERO_CHUNK = 64 * 1024 // bytes of zeros written at once when a range is cleared

export class Checksums {
  private readonly file: StorageFile
  private pages = new Map<number, Buffer>()
  // entries recorded but not yet handed to the file, by block
  private pending = new Map<number, Buffer>()
  private flushQueued = false
  // ranges [start, end) whose zeros are not on disk yet: a page read from the
  // file meanwhile still holds the old entries there
  private zeroing: Array<[number, number]> = []
  private tail: Promise<void> = Promise.resolve()

  constructor (file: StorageFile) {
    this.file = file
  }

  // Whether `bytes` are the bytes the entry of block `index` was recorded
  // from: false when there is no entry, or it differs.
  matches (index: number, bytes: Uint8Array): boolean {
    const e = this.entry(index)
    return e !== null && e.length === bytes.byteLength && e.crc === crc32(bytes)
  }

  // Records the entry of block `index` from `bytes`, which the caller has
  // just checked against the tree, after they were written to the data file.
  record (index: number, bytes: Uint8Array): void {
    if (bytes.byteLength > MAX_CHECKSUMMED_BLOCK) return
    const crc = crc32(bytes)
    const e = this.entry(index)
    if (e !== null && e.crc === crc && e.length === bytes.byteLength) return
    const entry = Buffer.allocUnsafe(CHECKSUM_ENTRY_SIZE)
    encodeChecksumEntry({ crc, length: bytes.byteLength }, entry, 0)
    this.pending.set(index, entry)
    const page = this.pages.get(Math.floor(index / PAGE_ENTRIES))
    if (page) entry.copy(page, (index % PAGE_ENTRIES) * CHECKSUM_ENTRY_SIZE)
    this.scheduleFlush()
  }

  private entry (index: number): ChecksumEntry | null {
    const pending = this.pending.get(index)
    if (pending) return decodeChecksumEntry(pending, 0)
    const page = this.page(Math.floor(index / PAGE_ENTRIES))
    return page ? decodeChecksumEntry(page, (index % PAGE_ENTRIES) * CHECKSUM_ENTRY_SIZE) : null
  }

  // Records entries for blocks from `index` on, one per buffer.
  recordAll (index: number, blocks: Uint8Array[]): void {
    for (let i = 0; i < blocks.length; i++) this.record(index + i, blocks[i])
  }

  // Zeroes the entries of blocks [start, end); resolves once that is written.
  zero (start: number, end: number): Promise<void> {
    if (start >= end) return this.tail
    this.forget(start, end)
    const range: [number, number] = [start, end]
    this.zeroing.push(range)
    return this.enqueue(async () => {
      // past the end of the file there are no entries to zero (and a core
      // from before the sidecar has none at all)
      const stop = Math.min(end * CHECKSUM_ENTRY_SIZE, await this.file.size())
      const zeros = Buffer.alloc(Math.max(0, Math.min(ZERO_CHUNK, stop - start * CHECKSUM_ENTRY_SIZE)))
      for (let at = start * CHECKSUM_ENTRY_SIZE; at < stop; at += zeros.byteLength) {
        await this.file.write(at, zeros.subarray(0, Math.min(zeros.byteLength, stop - at)))
      }
    }, range)
  }

  // Drops the entries of blocks `length` and up (a truncation); resolves once
  // the file is cut there.
  truncate (length: number): Promise<void> {
    this.forget(length, Infinity)
    const range: [number, number] = [length, Infinity]
    this.zeroing.push(range)
    return this.enqueue(async () => {
      if (await this.file.size() > length * CHECKSUM_ENTRY_SIZE) await this.file.truncate(length * CHECKSUM_ENTRY_SIZE)
    }, range)
  }

  // Resolves once everything recorded so far is written and synced.
  async sync (): Promise<void> {
    this.takePending()
    await this.enqueue(() => this.file.sync(), null)
  }

  // Resolves once everything recorded so far is handed to the file.
  flush (): Promise<void> {
    this.takePending()
    return this.tail
  }

  private forget (start: number, end: number): void {
    for (const i of [...this.pending.keys()]) if (i >= start && i < end) this.pending.delete(i)
    for (const [p, page] of this.pages) {
      const from = Math.max(start, p * PAGE_ENTRIES)
      const to = Math.min(end, (p + 1) * PAGE_ENTRIES)
      if (from < to) page.fill(0, (from - p * PAGE_ENTRIES) * CHECKSUM_ENTRY_SIZE, (to - p * PAGE_ENTRIES) * CHECKSUM_ENTRY_SIZE)
    }
  }

  // Entries are written at most once per turn of the event loop, in runs of
  // consecutive blocks.
  private scheduleFlush (): void {
    if (this.flushQueued) return
    this.flushQueued = true
    setImmediate(() => {
      this.flushQueued = false
      this.takePending()
    })
  }

  // Queues the write of what is pending now, behind any zeroing queued before.
  private takePending (): void {
    if (this.pending.size === 0) return
    const entries = [...this.pending].sort((a, b) => a[0] - b[0])
    this.pending.clear()
    this.enqueue(async () => {
      for (let k = 0; k < entries.length;) {
        const first = entries[k][0]
        const run: Buffer[] = []
        while (k < entries.length && entries[k][0] === first + run.length) run.push(entries[k++][1])
        await this.file.writev(first * CHECKSUM_ENTRY_SIZE, run)
      }
    }, null).catch(safetyCatch) // entries that did not reach the disk are recorded again on a later full check
  }

  // Runs `op` after every op queued before it; the queue goes on past a
  // failure, which the caller of `op` hears about.
  private enqueue (op: () => Promise<void>, range: [number, number] | null): Promise<void> {
    const done = this.tail.then(op).finally(() => {
      if (range) this.zeroing = this.zeroing.filter((r) => r !== range)
    })
    this.tail = done.then(noop, noop)
    return done
  }

  private page (p: number): Buffer | null {
    let page = this.pages.get(p)
    if (page) return page
    page = Buffer.alloc(PAGE_BYTES)
    try {
      this.file.readInto(p * PAGE_BYTES, page, 0, PAGE_BYTES)
    } catch (err) {
      safetyCatch(err)
      return null
    }
    for (const [s, e] of this.zeroing) {
      const from = Math.max(s, p * PAGE_ENTRIES)
      const to = Math.min(e, (p + 1) * PAGE_ENTRIES)
      if (from < to) page.fill(0, (from - p * PAGE_ENTRIES) * CHECKSUM_ENTRY_SIZE, (to - p * PAGE_ENTRIES) * CHECKSUM_ENTRY_SIZE)
    }
    if (this.pages.size >= MAX_PAGES) this.pages.delete(this.pages.keys().next().value!)
    this.pages.set(p, page)
    return page
  }
}

function noop (): void {}
