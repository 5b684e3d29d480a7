// A listening server's self announce (docs/wire.md §8.2): a FIND_PEER query on
// H(serverPk), then a signed ANNOUNCE {pk, no relays} with the token of each of
// the 3 closest replies. Those nodes become the server's relays: they route
// PEER_HANDSHAKE to it. Repeated every `refreshInterval`; on stop, the relays
// get a signed UNANNOUNCE.
import type { IPv4Address } from '../codec/index.js'
import { encode } from '../codec/index.js'
import { announceMessage } from '../codec/hyperdht-messages.js'
import type { KeyPair } from '../crypto/index.js'
import { COMMANDS, NS } from './hyperdht-constants.js'
import { signAnnounce } from './persistent.js'
import type { DhtResponse } from './io.js'
import type { HyperDHT } from './hyper-dht.js'
import { safetyCatch } from '../errors.js'

const RELAYS = 3

export interface RelayInfo { relayAddress: IPv4Address, peerAddress: IPv4Address }

export class Announcer {
  relays: RelayInfo[] = []
  relayAddresses: IPv4Address[] = []
  private stopped = false
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private readonly dht: HyperDHT
  private readonly keyPair: KeyPair
  private readonly target: Buffer
  private readonly refreshInterval: number

  constructor (dht: HyperDHT, keyPair: KeyPair, target: Buffer, refreshInterval: number) {
    this.dht = dht
    this.keyPair = keyPair
    this.target = target
    this.refreshInterval = refreshInterval
  }

  isRelay (addr: IPv4Address): boolean {
    return this.relays.some((r) => r.relayAddress.host === addr.host && r.relayAddress.port === addr.port)
  }

  async start (): Promise<void> {
    await this.refresh()
    this.schedule()
  }

  refresh (): Promise<void> {
    if (this.running === null) {
      this.running = this.update().finally(() => { this.running = null })
    }
    return this.running
  }

  async stop (): Promise<void> {
    this.stopped = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    if (this.running !== null) await this.running.catch(safetyCatch)
    await Promise.allSettled(this.relays.map((r) => this.unannounce(r.relayAddress)))
  }

  private schedule (): void {
    if (this.stopped) return
    this.timer = setTimeout(() => {
      this.refresh().catch(safetyCatch).finally(() => this.schedule())
    }, this.refreshInterval)
    this.timer.unref()
  }

  private async update (): Promise<void> {
    if (this.stopped || this.dht.destroyed) return
    const q = this.dht.query({ target: this.target, command: COMMANDS.FIND_PEER })
    try { await q.finished() } catch (err) { safetyCatch(err) }
    if (this.stopped) return
    const relays: RelayInfo[] = []
    const relayAddresses: IPv4Address[] = []
    if (!this.dht.firewalled) {
      const addr = this.dht.remoteAddress()
      if (addr !== null) relayAddresses.push(addr)
    }
    const best = q.closestReplies.filter((r) => r.token !== null && r.from.id !== null).slice(0, RELAYS)
    await Promise.allSettled(best.map(async (reply) => {
      if (!await this.announce(reply)) return
      if (relayAddresses.length < RELAYS) relayAddresses.push({ host: reply.from.host, port: reply.from.port })
      relays.push({ relayAddress: { host: reply.from.host, port: reply.from.port }, peerAddress: reply.to })
    }))
    if (this.stopped) return
    this.relays = relays
    this.relayAddresses = relayAddresses
  }

  private async announce (reply: DhtResponse): Promise<boolean> {
    const peer = { publicKey: this.keyPair.publicKey, relayAddresses: [] }
    const signature = signAnnounce(this.target, reply.token as Buffer, reply.from.id as Buffer, peer, this.keyPair)
    const value = encode(announceMessage, { peer, refresh: null, signature, bump: 0 })
    try {
      const res = await this.dht.request(reply.from, { token: reply.token, command: COMMANDS.ANNOUNCE, target: this.target, value })
      return res.error === 0
    } catch {
      return false
    }
  }

  private async unannounce (to: IPv4Address): Promise<void> {
    if (this.dht.destroyed) return
    // a fresh token first: the one from the announce may have rotated out
    const res = await this.dht.request(to, { command: COMMANDS.FIND_PEER, target: this.target }, { retries: 1 })
    if (res.token === null || res.from.id === null) return
    const peer = { publicKey: this.keyPair.publicKey, relayAddresses: [] }
    const signature = signAnnounce(this.target, res.token, res.from.id, peer, this.keyPair, NS.UNANNOUNCE)
    const value = encode(announceMessage, { peer, refresh: null, signature, bump: 0 })
    await this.dht.request(to, { token: res.token, command: COMMANDS.UNANNOUNCE, target: this.target, value }, { retries: 1 })
  }
}
