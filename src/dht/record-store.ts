// Peer records announced to this node (hyperdht's record cache), bounded in
// count and age. A record is keyed by (target, announcer public key); a
// re-announce replaces it and restarts its clock. Entries live in one
// insertion-ordered map, so the oldest is always first: expiry and eviction
// both pop from the front, and memory never exceeds maxSize records.
export interface RecordStoreOptions {
  // most records held in total (default 65536)
  maxSize?: number
  // ms a record lives without a re-announce (default 20 min, as hyperdht)
  maxAge?: number
  // most records kept per target (default 256; lookups return 20)
  maxPerTarget?: number
}

interface Entry {
  target: string
  publicKey: string
  record: Buffer
  time: number
}

export class RecordStore {
  readonly maxSize: number
  readonly maxAge: number
  readonly maxPerTarget: number
  private readonly entries = new Map<string, Entry>()
  private readonly byTarget = new Map<string, Set<string>>()
  private readonly now: () => number

  constructor (opts: RecordStoreOptions = {}, clock: { now: () => number } = Date) {
    this.maxSize = opts.maxSize ?? 65536
    this.maxAge = opts.maxAge ?? 20 * 60 * 1000
    this.maxPerTarget = opts.maxPerTarget ?? 256
    this.now = () => clock.now()
  }

  get size (): number {
    this.expire()
    return this.entries.size
  }

  add (target: string, publicKey: Uint8Array, record: Uint8Array): void {
    const pk = Buffer.from(publicKey).toString('hex')
    const key = target + ':' + pk
    this.expire()
    if (this.entries.has(key)) this.delete(key)
    let set = this.byTarget.get(target)
    if (set !== undefined && set.size >= this.maxPerTarget) {
      // drop this target's oldest record: set iteration is insertion order
      this.delete(set.values().next().value as string)
      set = this.byTarget.get(target)
    }
    while (this.entries.size >= this.maxSize) this.delete(this.entries.keys().next().value as string)
    this.entries.set(key, { target, publicKey: pk, record: Buffer.from(record), time: this.now() })
    if (set === undefined) {
      set = new Set()
      this.byTarget.set(target, set)
    }
    set.add(key)
  }

  remove (target: string, publicKey: Uint8Array): void {
    this.delete(target + ':' + Buffer.from(publicKey).toString('hex'))
  }

  // up to `limit` records for a target, newest first
  get (target: string, limit: number): Buffer[] {
    this.expire()
    const set = this.byTarget.get(target)
    if (set === undefined) return []
    const keys = [...set]
    const out: Buffer[] = []
    for (let i = keys.length - 1; i >= 0 && out.length < limit; i--) out.push((this.entries.get(keys[i]) as Entry).record)
    return out
  }

  clear (): void {
    this.entries.clear()
    this.byTarget.clear()
  }

  private expire (): void {
    const cutoff = this.now() - this.maxAge
    for (const [key, e] of this.entries) {
      if (e.time > cutoff) break
      this.delete(key)
    }
  }

  private delete (key: string): void {
    const e = this.entries.get(key)
    if (e === undefined) return
    this.entries.delete(key)
    const set = this.byTarget.get(e.target)
    if (set === undefined) return
    set.delete(key)
    if (set.size === 0) this.byTarget.delete(e.target)
  }
}
