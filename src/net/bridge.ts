// Two cross-connected duplexes: what one side writes the other reads. A core
// replicated with a boolean (`core.replicate(true)`) runs its secret-stream on
// one end and hands the other end to the caller to pipe to a peer, the way
// hypercore's replicate(isInitiator) returns the raw side of its stream.
import { Duplex } from 'node:stream'

class End extends Duplex {
  other: End | null = null
  private pending: (() => void) | null = null

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const other = this.other!
    if (other.push(chunk)) cb()
    else other.pending = () => cb()
  }

  override _read (): void {
    const p = this.pending
    this.pending = null
    if (p) p()
  }

  override _final (cb: (err?: Error | null) => void): void {
    this.other!.push(null)
    cb()
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    const other = this.other
    this.other = null
    if (other && !other.destroyed) other.destroy()
    cb(err)
  }
}

export function bridge (): [Duplex, Duplex] {
  const a = new End()
  const b = new End()
  a.other = b
  b.other = a
  return [a, b]
}
