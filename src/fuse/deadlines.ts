// One timer for every pending deadline. A FUSE host answers thousands of
// ops a second; a setTimeout per op (and its clearTimeout) was a measurable
// part of each read. Here an op only joins a set, and one interval, running
// while anything is pending, expires what has overrun. A deadline therefore
// fires up to `tick` ms late, which is nothing against timeouts of seconds.

interface Entry {
  at: number
  onExpire: () => void
}

export class Deadlines {
  readonly #tick: number
  readonly #pending = new Set<Entry>()
  #timer: ReturnType<typeof setInterval> | null = null

  constructor (opts: { tick: number }) {
    this.#tick = opts.tick
  }

  get size (): number {
    return this.#pending.size
  }

  // Calls onExpire once `ms` have passed, unless the returned cancel() came first.
  add (ms: number, onExpire: () => void): () => void {
    const entry: Entry = { at: Date.now() + ms, onExpire }
    this.#pending.add(entry)
    if (this.#timer === null) {
      this.#timer = setInterval(() => this.#sweep(), this.#tick)
      // pending deadlines alone must not keep a process alive
      this.#timer.unref()
    }
    return () => { this.#remove(entry) }
  }

  // Forgets every deadline without firing it.
  clear (): void {
    this.#pending.clear()
    this.#stop()
  }

  #remove (entry: Entry): void {
    if (this.#pending.delete(entry) && this.#pending.size === 0) this.#stop()
  }

  #sweep (): void {
    const now = Date.now()
    for (const entry of this.#pending) {
      if (entry.at > now) continue
      this.#remove(entry)
      entry.onExpire()
    }
  }

  #stop (): void {
    if (this.#timer === null) return
    clearInterval(this.#timer)
    this.#timer = null
  }
}
