// What the swarm knows about one remote peer: its key, where it was last
// found (relays from a LOOKUP record, or a LAN address from MDNS), the topics
// it was found under, and the reconnect backoff. Owned by Swarm.
import type { IPv4Address } from '../codec/index.js'

const BACKOFF = [1000, 5000, 15000, 30000]

export class PeerInfo {
  readonly publicKey: Buffer
  relayAddresses: IPv4Address[] = []
  lanAddress: IPv4Address | null = null
  readonly topics = new Map<string, Buffer>()
  // true when we dialled the current connection
  client = false
  banned = false
  attempts = 0
  reconnectTimer: NodeJS.Timeout | null = null

  constructor (publicKey: Uint8Array) {
    this.publicKey = Buffer.from(publicKey)
  }

  get key (): string {
    return this.publicKey.toString('hex')
  }

  // ms to wait before the next attempt, or -1 once retries are used up
  nextBackoff (): number {
    return this.attempts < BACKOFF.length ? BACKOFF[this.attempts] * (0.75 + Math.random() * 0.5) : -1
  }

  ban (banned = true): void {
    this.banned = banned
  }

  clearReconnect (): void {
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
  }
}
