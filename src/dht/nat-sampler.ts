// Learns our public address from the `to` field of responses (docs/wire.md §7.1: the
// responder writes the requester's address as it saw it). A host:port wins
// once enough of the recent samples agree; if only the host agrees the port
// is reported as 0, which means "randomised by a NAT" (firewall state RANDOM).
// The window is small and fixed, so memory stays bounded.

const WINDOW = 16

export class NatSampler {
  host: string | null = null
  port = 0
  size = 0

  private readonly samples: Array<{ host: string, port: number }> = []

  add (host: string, port: number): void {
    if (this.samples.length === WINDOW) this.samples.shift()
    this.samples.push({ host, port })
    this.size++
    this.update()
  }

  // how many samples must agree: all of them while few, a majority-ish later,
  // tolerating a stray sample from a node that saw us through another path
  private threshold (): number {
    const n = this.samples.length
    return n < 4 ? n : n < 8 ? n - 1 : n < 12 ? n - 2 : n - 3
  }

  private update (): void {
    const pairs = new Map<string, number>()
    const hosts = new Map<string, number>()
    let best: { key: string, hits: number } | null = null
    let bestHost: { host: string, hits: number } | null = null
    for (const s of this.samples) {
      const key = s.host + ':' + s.port
      const p = (pairs.get(key) ?? 0) + 1
      pairs.set(key, p)
      if (best === null || p > best.hits) best = { key, hits: p }
      const h = (hosts.get(s.host) ?? 0) + 1
      hosts.set(s.host, h)
      if (bestHost === null || h > bestHost.hits) bestHost = { host: s.host, hits: h }
    }
    const t = this.threshold()
    if (best !== null && best.hits >= t) {
      const i = best.key.lastIndexOf(':')
      this.host = best.key.slice(0, i)
      this.port = Number(best.key.slice(i + 1))
    } else if (bestHost !== null && bestHost.hits >= t) {
      this.host = bestHost.host
      this.port = 0
    } else {
      this.host = null
      this.port = 0
    }
  }
}
