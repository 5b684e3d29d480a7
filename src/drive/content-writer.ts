// Appends one file's bytes to the content core as consecutive blockSize blocks
// (the last one shorter), so that a Stat's (offset, blocks, byteOffset) range
// holds exactly that file. A writer holds the content lock from open() to
// finish()/abort(): two files written at once cannot interleave their blocks.
// Blocks go out in appends of up to APPEND_BYTES to amortise signing.
import type { Hypercore } from '../core/hypercore.js'
import type { Mutex } from '../core/mutex.js'

const APPEND_BYTES = 1024 * 1024

export interface ContentRange {
  offset: number
  blocks: number
  byteOffset: number
  size: number
}

export class ContentWriter {
  private core: Hypercore
  private blockSize: number
  private release: () => void
  private pieces: Buffer[] = []
  private pending = 0
  private ready: Buffer[] = []
  private readyBytes = 0
  private range: ContentRange
  private done = false

  private constructor (core: Hypercore, blockSize: number, release: () => void) {
    this.core = core
    this.blockSize = blockSize
    this.release = release
    this.range = { offset: core.length, blocks: 0, byteOffset: core.byteLength, size: 0 }
  }

  static async open (core: Hypercore, blockSize: number, lock: Mutex): Promise<ContentWriter> {
    let release!: () => void
    const held = new Promise<void>((resolve) => { release = resolve })
    await new Promise<void>((resolve) => { lock.run(() => { resolve(); return held }) })
    return new ContentWriter(core, blockSize, release)
  }

  async write (data: Uint8Array): Promise<void> {
    if (data.byteLength === 0) return
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    this.pieces.push(buf)
    this.pending += buf.byteLength
    this.range.size += buf.byteLength
    while (this.pending >= this.blockSize) this.cut(this.blockSize)
    if (this.readyBytes >= APPEND_BYTES) await this.flush()
  }

  private cut (n: number): void {
    const all = this.pieces.length === 1 ? this.pieces[0] : Buffer.concat(this.pieces)
    this.ready.push(all.subarray(0, n))
    this.readyBytes += n
    const rest = all.subarray(n)
    this.pieces = rest.byteLength ? [rest] : []
    this.pending = rest.byteLength
  }

  private async flush (): Promise<void> {
    if (this.ready.length === 0) return
    const blocks = this.ready
    this.ready = []
    this.readyBytes = 0
    await this.core.append(blocks)
    this.range.blocks += blocks.length
  }

  async finish (): Promise<ContentRange> {
    try {
      if (this.pending > 0) this.cut(this.pending)
      await this.flush()
      return { ...this.range }
    } finally {
      this.abort()
    }
  }

  // Releases the lock. Blocks already appended stay in the core, unreferenced.
  abort (): void {
    if (this.done) return
    this.done = true
    this.release()
  }
}
