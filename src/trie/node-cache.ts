// Decoded trie nodes by block index. Nodes are immutable once appended, so a
// cache is never stale; it is shared by a trie and its checkouts. Bounded,
// evicting the oldest insertion first.
export class NodeCache<T> {
  private map = new Map<number, T>()
  readonly max: number

  constructor (max = 65536) {
    this.max = max
  }

  get (seq: number): T | undefined {
    return this.map.get(seq)
  }

  set (seq: number, node: T): void {
    if (this.map.size >= this.max) {
      const oldest = this.map.keys().next().value
      if (oldest !== undefined) this.map.delete(oldest)
    }
    this.map.set(seq, node)
  }

  clear (): void {
    this.map.clear()
  }
}
