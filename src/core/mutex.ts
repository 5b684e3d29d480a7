// Runs async critical sections one at a time, in call order. A failed section
// does not poison the ones queued behind it.
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve()

  run<T> (fn: () => Promise<T>): Promise<T> {
    const next = this.tail.then(fn, fn)
    this.tail = next.catch(() => {})
    return next
  }
}
