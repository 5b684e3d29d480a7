// Turns a Writable's pushes into an AsyncIterable for writeFile(), with
// backpressure: a chunk's write callback runs once the consumer has taken it.
export class ChunkQueue implements AsyncIterable<Uint8Array> {
  private items: Array<{ chunk: Uint8Array, cb: (err?: Error | null) => void }> = []
  private ended = false
  private failed: Error | null = null
  private wake: (() => void) | null = null

  push (chunk: Uint8Array, cb: (err?: Error | null) => void): void {
    if (this.failed) return cb(this.failed)
    this.items.push({ chunk, cb })
    this.notify()
  }

  end (): void {
    this.ended = true
    this.notify()
  }

  // the consumer failed: refuse what is queued and what comes
  fail (err: Error): void {
    this.failed = err
    for (const it of this.items.splice(0)) it.cb(err)
    this.notify()
  }

  private notify (): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<Uint8Array> {
    while (true) {
      if (this.failed) return
      const it = this.items.shift()
      if (it) {
        it.cb()
        yield it.chunk
        continue
      }
      if (this.ended) return
      await new Promise<void>((resolve) => { this.wake = resolve })
    }
  }
}
