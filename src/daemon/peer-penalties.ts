// Peers that sent data that does not verify, and how long each is shut out.
// A peer is known by what the network layer can check before it replicates:
// the remote address of a TCP socket that dialled us (its Noise key is fresh
// for every connection), or the Noise public key of a swarm peer (its
// identity in the DHT). Each fault in a row doubles the time; a connection
// that ends without a fault does not reset it, since a liar can always close
// politely. The table is bounded, so a flood of identities cannot grow the
// daemon: past MAX_PENALISED, the entry whose shut-out ends first goes.
export const FAULT_BACKOFF_MIN = 5000 // after the first fault
export const FAULT_BACKOFF_MAX = 10 * 60_000
const MAX_PENALISED = 4096
const MAX_DOUBLINGS = 16 // 2 ** 16 × 5 s is past the cap anyway; keeps the power finite

export interface Penalty {
  faults: number // in a row
  until: number // ms since the epoch
}

export class PeerPenalties {
  private readonly table = new Map<string, Penalty>()
  private readonly now: () => number

  constructor (opts: { now?: () => number } = {}) {
    this.now = opts.now ?? Date.now
  }

  get size (): number {
    return this.table.size
  }

  // Counts a fault of `id` and returns its new shut-out.
  record (id: string): Penalty {
    const old = this.table.get(id)
    const faults = (old?.faults ?? 0) + 1
    const until = this.now() + backoff(faults)
    this.table.delete(id) // re-insert: the Map's order is then the order of last fault
    this.table.set(id, { faults, until })
    if (this.table.size > MAX_PENALISED) this.evict()
    return { faults, until }
  }

  // true while `id` is shut out
  refuses (id: string): boolean {
    const p = this.table.get(id)
    return p !== undefined && p.until > this.now()
  }

  // ids shut out now, for status
  active (): string[] {
    const now = this.now()
    return [...this.table].filter(([, p]) => p.until > now).map(([id]) => id)
  }

  private evict (): void {
    let first: string | null = null
    let firstUntil = Infinity
    for (const [id, p] of this.table) {
      if (p.until < firstUntil) { first = id; firstUntil = p.until }
    }
    if (first !== null) this.table.delete(first)
  }
}

export function backoff (faults: number): number {
  return Math.min(FAULT_BACKOFF_MAX, FAULT_BACKOFF_MIN * 2 ** Math.min(faults - 1, MAX_DOUBLINGS))
}
