// A Storage over another one that counts the reads of each file and lets a
// test hold or fail writes (`hold` may return a promise the write waits for,
// after it is in `events`, before it reaches the file).
import type { Storage, StorageFile } from '../../src/core/storage.js'

export type WriteHook = (name: string, bytes: number) => Promise<void> | void

export class SpyStorage implements Storage {
  readonly inner: Storage
  // reads (read and readInto) per file name
  readonly reads = new Map<string, number>()
  // "<name> write <bytes>" when a write starts, "<name> wrote" once it landed
  readonly events: string[] = []
  hold: WriteHook | null = null

  constructor (inner: Storage) {
    this.inner = inner
  }

  readsOf (name: string): number {
    return this.reads.get(name) ?? 0
  }

  async open (name: string, opts?: { lock?: boolean }): Promise<StorageFile> {
    const f = await this.inner.open(name, opts)
    const count = (): void => { this.reads.set(name, this.readsOf(name) + 1) }
    const written = async (bytes: number, write: () => Promise<void>): Promise<void> => {
      this.events.push(`${name} write ${bytes}`)
      if (this.hold) await this.hold(name, bytes)
      await write()
      this.events.push(`${name} wrote`)
    }
    return {
      name: f.name,
      read: (o, l) => { count(); return f.read(o, l) },
      readInto: (o, t, to, l) => { count(); return f.readInto(o, t, to, l) },
      write: (o, d) => written(d.byteLength, () => f.write(o, d)),
      writev: (o, d) => written(d.reduce((s, b) => s + b.byteLength, 0), () => f.writev(o, d)),
      size: () => f.size(),
      truncate: (l) => f.truncate(l),
      punch: (o, l) => f.punch(o, l),
      sync: () => f.sync(),
      allocated: () => f.allocated(),
      close: () => f.close()
    }
  }

  exists (name: string): Promise<boolean> {
    return this.inner.exists ? this.inner.exists(name) : Promise.resolve(true)
  }
}
