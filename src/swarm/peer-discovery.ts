// One joined topic (hyperswarm's PeerDiscovery): as a server it announces
// {our key, our server's relays} to the nodes closest to the topic; as a
// client it connects to every peer record the LOOKUP (or the announce's
// lookup walk) returns. Refreshed every `refreshInterval`. flushed() resolves
// once the current announce/lookup is done and the connection attempts it
// started have settled.
import type { KeyPair } from '../crypto/index.js'
import { decodeLookup, type HyperDHT } from '../dht/hyper-dht.js'
import type { PeerRecord } from '../codec/hyperdht-messages.js'
import { safetyCatch } from '../errors.js'

const UNANNOUNCE_TIMEOUT = 3000

export interface DiscoveryHost {
  readonly dht: HyperDHT
  readonly keyPair: KeyPair
  relayAddresses (): ReturnType<HyperDHT['createServer']>['relayAddresses']
  ensureListening (): Promise<void>
  onpeer (peer: PeerRecord, topic: Buffer): Promise<void>
}

export class PeerDiscovery {
  readonly topic: Buffer
  isServer: boolean
  isClient: boolean
  destroyed = false
  private readonly host: DiscoveryHost
  private readonly refreshInterval: number
  private current: Promise<void> | null = null
  private timer: NodeJS.Timeout | null = null
  private attempts: Array<Promise<void>> = []
  private announced = false

  constructor (host: DiscoveryHost, topic: Buffer, opts: { server: boolean, client: boolean, refreshInterval: number }) {
    this.host = host
    this.topic = topic
    this.isServer = opts.server
    this.isClient = opts.client
    this.refreshInterval = opts.refreshInterval
  }

  refresh (): Promise<void> {
    if (this.destroyed) return Promise.resolve()
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    const run = this.run().finally(() => {
      if (this.current === run) this.current = null
      this.schedule()
    })
    this.current = run
    return run
  }

  async flushed (): Promise<void> {
    // a refresh may start while we wait: settle whatever is newest, a few times at most
    for (let i = 0; i < 3 && this.current !== null; i++) await this.current.catch(safetyCatch)
    await Promise.allSettled(this.attempts)
  }

  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
    if (this.current !== null) await this.current.catch(safetyCatch)
    if (this.announced && !this.host.dht.destroyed) {
      // bounded: a leave must not hang on a network that is already gone
      await this.host.dht.unannounce(this.topic, this.host.keyPair, { signal: AbortSignal.timeout(UNANNOUNCE_TIMEOUT) }).catch(safetyCatch)
    }
  }

  private schedule (): void {
    if (this.destroyed || this.current !== null) return
    this.timer = setTimeout(() => { this.refresh().catch(safetyCatch) }, this.refreshInterval * (0.9 + Math.random() * 0.2))
    this.timer.unref()
  }

  private async run (): Promise<void> {
    const dht = this.host.dht
    if (this.isServer) await this.host.ensureListening()
    if (this.destroyed) return
    this.attempts = []
    const q = this.isServer
      ? dht.announce(this.topic, this.host.keyPair, this.host.relayAddresses())
      : dht.lookup(this.topic)
    for await (const reply of q) {
      if (this.destroyed) break
      if (!this.isClient) continue
      const r = decodeLookup(reply)
      if (r === null) continue
      for (const peer of r.peers) this.attempts.push(this.host.onpeer(peer, this.topic))
    }
    await q.finished().catch(safetyCatch)
    if (this.isServer) this.announced = true
  }
}
