// An in-memory connected pair of byte streams for tests: what one side writes
// the other reads, with backpressure, and closing one end closes the other.
// Delivery is on the next tick, as with a socket: the real secret-stream breaks
// when its raw stream answers synchronously from inside its own write.
import { Duplex } from 'node:stream'

class PairEnd extends Duplex {
  other: PairEnd | null = null
  sync = false
  private waiting: (() => void) | null = null

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const deliver = (): void => {
      const other = this.other
      if (other === null || other.destroyed) { cb(); return }
      if (other.push(chunk)) cb()
      else other.waiting = cb
    }
    if (this.sync) deliver()
    else process.nextTick(deliver)
  }

  override _read (): void {
    const cb = this.waiting
    this.waiting = null
    cb?.()
  }

  override _final (cb: (err?: Error | null) => void): void {
    process.nextTick(() => {
      this.other?.push(null)
      cb()
    })
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    const other = this.other
    this.other = null
    const waiting = this.waiting
    this.waiting = null
    waiting?.()
    if (other && !other.destroyed) other.destroy()
    cb(err)
  }
}

// sync: deliver from inside write(), to test reentrancy
export function duplexPair (opts: { sync?: boolean } = {}): [Duplex, Duplex] {
  const a = new PairEnd()
  const b = new PairEnd()
  a.sync = b.sync = !!opts.sync
  a.other = b
  b.other = a
  return [a, b]
}
