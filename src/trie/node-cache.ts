// Decoded trie nodes by block index. Nodes are immutable once appended, so a
// cache is never stale; it is shared by a trie and its checkouts. Bounded in
// entries and in bytes (a node's size is up to its writer, who may send a few
// huge ones), evicting the oldest insertion first.
const MAX_ENTRIES = 65536
const MAX_BYTES = 64 * 1024 * 1024

export class NodeCache<T> {
  private map = new Map<number, { value: T, bytes: number }>()
  private bytes = 0
  readonly max: number
  readonly maxBytes: number
  private weigh: (value: T) => number

  constructor (opts: { max?: number, maxBytes?: number, weigh?: (value: T) => number } = {}) {
    this.max = opts.max ?? MAX_ENTRIES
    this.maxBytes = opts.maxBytes ?? MAX_BYTES
    this.weigh = opts.weigh ?? (() => 0)
  }

  get size (): number {
    return this.map.size
  }

  get byteSize (): number {
    return this.bytes
  }

  get (seq: number): T | undefined {
    return this.map.get(seq)?.value
  }

  set (seq: number, value: T): void {
    const bytes = this.weigh(value)
    const prev = this.map.get(seq)
    if (prev) { this.map.delete(seq); this.bytes -= prev.bytes }
    if (bytes > this.maxBytes) return
    while (this.map.size > 0 && (this.map.size >= this.max || this.bytes + bytes > this.maxBytes)) {
      const [oldest, e] = this.map.entries().next().value!
      this.map.delete(oldest)
      this.bytes -= e.bytes
    }
    this.map.set(seq, { value, bytes })
    this.bytes += bytes
  }

  clear (): void {
    this.map.clear()
    this.bytes = 0
  }
}
