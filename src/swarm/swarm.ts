// A Hyperswarm@4-shaped swarm: join(topic) finds peers through the HyperDHT
// (and MDNS on the LAN) and emits one encrypted connection per remote key.
// - Duplicates (both sides dialled at once, or a reconnect racing an old
//   connection) are settled as Hyperswarm does, so the two ends agree: an
//   established old connection (bytes both ways) loses to a new one;
//   otherwise the connection whose initiator has the larger public key wins.
// - A lost connection to a peer we found ourselves is re-dialled with backoff
//   (1 s, 5 s, 15 s, 30 s, then given up until the next refresh finds it);
//   redialNow() skips the wait when a read finds no peer to ask.
// - maxPeers bounds open plus pending connections; firewall(publicKey) refuses
//   peers in both directions.
// - MDNS is on by default and adds a TCP listener with Noise XX; mdns: false
//   sends no multicast at all.
// - tcp (default on): the DHT server also listens on TCP, and a dial whose
//   UDX path fails falls back to TCP with the IK result when the remote is a
//   hyperfs server that advertised its port (dht/tcp-fallback.ts). Real
//   Hyperswarm peers never see the advertisement and keep UDX only.
// Owns: the HyperDHT (unless one was passed in), its server (and the server's
// TCP fallback listener), the discoveries, the MDNS responder and the LAN TCP
// listener.
import { EventEmitter } from 'node:events'
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { IPv4Address } from '../codec/index.js'
import type { PeerRecord } from '../codec/hyperdht-messages.js'
import { keyPair as newKeyPair, type KeyPair } from '../crypto/index.js'
import { HyperfsError, safetyCatch } from '../errors.js'
import { SecretStream } from '../net/secret-stream.js'
import { HyperDHT } from '../dht/hyper-dht.js'
import type { Server } from '../dht/server.js'
import { Mdns, type MdnsPeer } from './mdns.js'
import { PeerDiscovery } from './peer-discovery.js'
import { PeerInfo } from './peer-info.js'

const DEFAULT_MAX_PEERS = 64
const REFRESH_INTERVAL = 10 * 60 * 1000
const ERR_DUPLICATE = 'duplicate connection'
// redialNow() runs at most this often, so a reader that keeps starving cannot flood the DHT
const REDIAL_INTERVAL = 2000

export interface SwarmOptions {
  // required unless `dht` is given: host:port list of bootstrap nodes
  bootstrap?: Array<string | IPv4Address>
  host?: string
  port?: number
  keyPair?: KeyPair
  // LAN discovery over MDNS (default true)
  mdns?: boolean
  // address the MDNS TCP listener binds (default 0.0.0.0)
  lanHost?: string
  // TCP fallback on the DHT path, between hyperfs peers (default true)
  tcp?: boolean
  // false: every UDX path counts as failed, so only TCP connects (tests)
  udx?: boolean
  maxPeers?: number
  // true refuses the peer
  firewall?: (remotePublicKey: Buffer) => boolean
  // bring your own DHT (not destroyed with the swarm)
  dht?: HyperDHT
  // ms between topic refreshes
  refreshInterval?: number
  // passed to an owned HyperDHT (tests shorten record lifetimes here)
  dhtOptions?: Partial<ConstructorParameters<typeof HyperDHT>[0]>
}

export interface JoinOptions { server?: boolean, client?: boolean }

export interface SwarmStats {
  // tcp: DHT-path connections (either direction) that fell back to TCP
  connects: { client: { attempted: number, opened: number, failed: number }, server: { opened: number }, lan: { opened: number }, tcp: { opened: number } }
  duplicatesDropped: number
  firewalled: number
}

export class Swarm extends EventEmitter {
  readonly dht: HyperDHT
  readonly keyPair: KeyPair
  readonly maxPeers: number
  readonly connections = new Set<SecretStream>()
  readonly peers = new Map<string, PeerInfo>()
  readonly stats: SwarmStats = {
    connects: { client: { attempted: 0, opened: 0, failed: 0 }, server: { opened: 0 }, lan: { opened: 0 }, tcp: { opened: 0 } },
    duplicatesDropped: 0,
    firewalled: 0
  }

  destroyed = false
  private readonly ownsDht: boolean
  private readonly server: Server
  private readonly discoveries = new Map<string, PeerDiscovery>()
  private readonly byKey = new Map<string, SecretStream>()
  private readonly connecting = new Map<string, { abort: AbortController, promise: Promise<void> }>()
  private readonly firewallFn: (remotePublicKey: Buffer) => boolean
  private readonly refreshInterval: number
  private listening: Promise<void> | null = null
  private lastRedial = -Infinity
  private readonly mdnsEnabled: boolean
  private readonly lanHost: string
  private mdns: Mdns | null = null
  private tcp: net.Server | null = null
  private lanStarting: Promise<void> | null = null
  private readonly lanSockets = new Set<net.Socket>()
  private readonly tcpFallback: boolean
  private readonly udx: boolean

  constructor (opts: SwarmOptions = {}) {
    super()
    this.keyPair = opts.keyPair ?? newKeyPair()
    if (opts.dht !== undefined) {
      this.dht = opts.dht
      this.ownsDht = false
    } else {
      if (!Array.isArray(opts.bootstrap)) throw HyperfsError.BAD_ARGUMENT('bootstrap must be an explicit list')
      this.dht = new HyperDHT({ bootstrap: opts.bootstrap, host: opts.host, port: opts.port, keyPair: this.keyPair, ...opts.dhtOptions })
      this.ownsDht = true
    }
    this.maxPeers = opts.maxPeers ?? DEFAULT_MAX_PEERS
    this.firewallFn = opts.firewall ?? (() => false)
    this.refreshInterval = opts.refreshInterval ?? REFRESH_INTERVAL
    this.mdnsEnabled = opts.mdns !== false
    this.lanHost = opts.lanHost ?? '0.0.0.0'
    this.tcpFallback = opts.tcp !== false
    this.udx = opts.udx !== false
    this.server = this.dht.createServer({
      firewall: (remotePublicKey) => this.refuses(remotePublicKey, false),
      tcp: this.tcpFallback
    })
    this.server.on('connection', (s: SecretStream) => {
      if (s.rawStream instanceof net.Socket) this.stats.connects.tcp.opened++
      this.onconnection(s, null)
    })
  }

  get publicKey (): Buffer {
    return this.keyPair.publicKey
  }

  join (topic: Uint8Array, opts: JoinOptions = {}): PeerDiscovery {
    if (this.destroyed) throw HyperfsError.REQUEST_DESTROYED('swarm destroyed')
    if (topic.byteLength !== 32) throw HyperfsError.BAD_ARGUMENT('topic must be 32 bytes')
    const t = Buffer.from(topic)
    const key = t.toString('hex')
    const server = opts.server !== false
    const client = opts.client !== false
    if (!server && !client) throw HyperfsError.BAD_ARGUMENT('join needs server or client')
    let d = this.discoveries.get(key)
    if (d !== undefined) {
      d.isServer = server
      d.isClient = client
    } else {
      d = new PeerDiscovery({
        dht: this.dht,
        keyPair: this.keyPair,
        relayAddresses: () => this.server.relayAddresses,
        ensureListening: () => this.listen(),
        onpeer: (peer, topic) => this.onpeer(peer, topic)
      }, t, { server, client, refreshInterval: this.refreshInterval })
      this.discoveries.set(key, d)
    }
    d.refresh().catch(safetyCatch)
    if (this.mdnsEnabled) this.lanJoin(t, server).catch(safetyCatch)
    return d
  }

  async leave (topic: Uint8Array): Promise<void> {
    const key = Buffer.from(topic).toString('hex')
    const d = this.discoveries.get(key)
    if (d === undefined) return
    this.discoveries.delete(key)
    this.mdns?.remove(Buffer.from(topic))
    await d.destroy()
  }

  // every joined topic announced/looked up, and the connections that found settled
  async flush (): Promise<void> {
    this.mdns?.update()
    await Promise.all([...this.discoveries.values()].map((d) => d.flushed()))
    for (let i = 0; i < 3 && this.connecting.size > 0; i++) {
      await Promise.allSettled([...this.connecting.values()].map((c) => c.promise))
    }
  }

  // start the DHT server without joining a topic (peers can dial our key)
  listen (): Promise<void> {
    if (this.listening === null) this.listening = this.server.listen(this.keyPair)
    return this.listening
  }

  // A read waits with no peer to ask: dial the peers we look for that are not
  // connected, and look the client topics up again, now rather than after
  // their backoff or the next refresh.
  redialNow (): void {
    const now = Date.now()
    if (this.destroyed || now - this.lastRedial < REDIAL_INTERVAL) return
    this.lastRedial = now
    for (const info of this.peers.values()) {
      if (info.banned || this.byKey.has(info.key) || !this.looksFor(info)) continue
      info.attempts = 0
      this.dial(info).catch(safetyCatch)
    }
    for (const d of this.discoveries.values()) if (d.isClient) d.refresh().catch(safetyCatch)
  }

  private looksFor (info: PeerInfo): boolean {
    return [...info.topics.keys()].some((t) => this.discoveries.get(t)?.isClient === true)
  }

  // dial one peer by key (no topic)
  joinPeer (publicKey: Uint8Array): void {
    const info = this.upsertPeer(publicKey)
    if (info !== null) this.dial(info).catch(safetyCatch)
  }

  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    for (const c of this.connecting.values()) c.abort.abort()
    for (const p of this.peers.values()) p.clearReconnect()
    await Promise.allSettled([...this.discoveries.values()].map((d) => d.destroy()))
    this.discoveries.clear()
    for (const s of [...this.connections]) s.destroy()
    await Promise.allSettled([...this.connecting.values()].map((c) => c.promise))
    if (this.lanStarting !== null) await this.lanStarting.catch(safetyCatch)
    if (this.mdns !== null) await this.mdns.destroy()
    for (const s of this.lanSockets) s.destroy()
    if (this.tcp !== null) await new Promise<void>((resolve) => (this.tcp as net.Server).close(() => resolve()))
    await this.server.close()
    if (this.ownsDht) await this.dht.destroy()
    this.emit('close')
  }

  // --- peers and dialling ---

  private refuses (publicKey: Buffer, outgoing: boolean): boolean {
    if (publicKey.equals(this.keyPair.publicKey)) return true
    const info = this.peers.get(publicKey.toString('hex'))
    let refused = info?.banned === true
    if (!refused) {
      try { refused = this.firewallFn(publicKey) } catch { refused = true }
    }
    // incoming connections past maxPeers are refused too (Hyperswarm does the same)
    if (!refused && !outgoing && this.connections.size + this.connecting.size >= this.maxPeers) refused = true
    if (refused) this.stats.firewalled++
    return refused
  }

  private upsertPeer (publicKey: Uint8Array): PeerInfo | null {
    const key = Buffer.from(publicKey).toString('hex')
    if (Buffer.from(publicKey).equals(this.keyPair.publicKey)) return null
    let info = this.peers.get(key)
    if (info === undefined) {
      info = new PeerInfo(publicKey)
      this.peers.set(key, info)
    }
    return info
  }

  private async onpeer (peer: PeerRecord, topic: Buffer): Promise<void> {
    const info = this.upsertPeer(peer.publicKey)
    if (info === null) return
    info.relayAddresses = peer.relayAddresses
    info.topics.set(topic.toString('hex'), topic)
    info.attempts = 0
    await this.dial(info)
  }

  private async dial (info: PeerInfo): Promise<void> {
    const key = info.key
    if (this.destroyed || this.byKey.has(key) || this.connecting.has(key)) return
    if (this.connections.size + this.connecting.size >= this.maxPeers) return
    if (this.refuses(info.publicKey, true)) return
    info.clearReconnect()
    const abort = new AbortController()
    const promise = (async () => {
      this.stats.connects.client.attempted++
      let stream: SecretStream
      try {
        stream = await this.dht.connect(info.publicKey, {
          keyPair: this.keyPair,
          relayAddresses: info.relayAddresses,
          signal: abort.signal,
          tcp: this.tcpFallback,
          udx: this.udx
        })
      } catch (err) {
        this.stats.connects.client.failed++
        this.emit('connect-error', err, info)
        if (!abort.signal.aborted && info.lanAddress !== null) {
          // UDX could not get through: try the LAN address over TCP
          try {
            stream = await this.dialLan(info.publicKey, info.lanAddress)
          } catch {
            this.scheduleReconnect(info)
            return
          }
        } else {
          if (!abort.signal.aborted) this.scheduleReconnect(info)
          return
        }
      }
      if (abort.signal.aborted || this.destroyed) {
        stream.destroy()
        return
      }
      this.stats.connects.client.opened++
      if (stream.rawStream instanceof net.Socket) this.stats.connects.tcp.opened++
      info.attempts = 0
      this.onconnection(stream, info)
    })()
    this.connecting.set(key, { abort, promise })
    try {
      await promise
    } finally {
      if (this.connecting.get(key)?.promise === promise) this.connecting.delete(key)
    }
  }

  private scheduleReconnect (info: PeerInfo): void {
    if (this.destroyed || info.banned || info.reconnectTimer !== null) return
    if (!this.looksFor(info)) return
    const delay = info.nextBackoff()
    if (delay < 0) return
    info.attempts++
    info.reconnectTimer = setTimeout(() => {
      info.reconnectTimer = null
      this.dial(info).catch(safetyCatch)
    }, delay)
    info.reconnectTimer.unref()
  }

  // Every connection, dialled or accepted, DHT or LAN, passes here once.
  private onconnection (stream: SecretStream, dialled: PeerInfo | null): void {
    stream.on('error', () => {})
    if (this.destroyed) {
      stream.destroy()
      return
    }
    const remoteKey = stream.remotePublicKey as Buffer
    const key = remoteKey.toString('hex')
    let existing = this.byKey.get(key)
    // one already torn down (e.g. a UDX stream its TCP fallback replaced) is
    // gone, even while its close is still pending
    if (existing !== undefined && existing.destroyed) {
      this.byKey.delete(key)
      this.connections.delete(existing)
      existing = undefined
    }
    if (existing !== undefined) {
      const outdated = existing.rawBytesRead > 0 && existing.rawBytesWritten > 0
      const expectedInitiator = Buffer.compare(this.keyPair.publicKey, remoteKey) > 0
      const keepNew = outdated || expectedInitiator === stream.isInitiator
      this.stats.duplicatesDropped++
      if (!keepNew) {
        stream.destroy(HyperfsError.PROTOCOL_ERROR(ERR_DUPLICATE))
        return
      }
      this.byKey.delete(key)
      this.connections.delete(existing)
      existing.destroy(HyperfsError.PROTOCOL_ERROR(ERR_DUPLICATE))
    }
    // an accepted connection wins over our own pending dial when it is the expected one
    if (dialled === null) {
      const pending = this.connecting.get(key)
      if (pending !== undefined) {
        const expectedInitiator = Buffer.compare(this.keyPair.publicKey, remoteKey) > 0
        if (expectedInitiator) {
          this.stats.duplicatesDropped++
          stream.destroy(HyperfsError.PROTOCOL_ERROR(ERR_DUPLICATE))
          return
        }
        pending.abort.abort()
      }
      this.stats.connects.server.opened++
    }
    const info = dialled ?? this.upsertPeer(remoteKey) as PeerInfo
    info.client = dialled !== null
    this.byKey.set(key, stream)
    this.connections.add(stream)
    stream.once('close', () => {
      this.connections.delete(stream)
      if (this.byKey.get(key) === stream) {
        this.byKey.delete(key)
        if (!this.destroyed) this.scheduleReconnect(info)
      }
      this.emit('update')
    })
    this.emit('connection', stream, info)
    this.emit('update')
  }

  // --- LAN (MDNS + TCP) ---

  private async lanJoin (topic: Buffer, server: boolean): Promise<void> {
    if (this.lanStarting === null) this.lanStarting = this.startLan()
    await this.lanStarting
    if (this.destroyed || this.mdns === null) return
    if (server) this.mdns.announce(topic)
    else this.mdns.find(topic)
  }

  private async startLan (): Promise<void> {
    const tcp = net.createServer((socket) => this.onlanSocket(socket))
    this.tcp = tcp
    tcp.on('error', () => {})
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(0, this.lanHost, () => resolve())
    })
    if (this.destroyed) return
    const port = (tcp.address() as net.AddressInfo).port
    this.mdns = new Mdns(this.keyPair.publicKey, port, (p) => this.onlanPeer(p))
  }

  private onlanSocket (socket: net.Socket): void {
    if (this.destroyed) { socket.destroy(); return }
    this.trackLan(socket)
    const stream = new SecretStream(false, socket as Duplex, { keyPair: this.keyPair, keepAlive: this.dht.connectionKeepAlive })
    stream.on('error', () => {})
    stream.opened.then((ok) => {
      if (!ok) return
      if (this.refuses(stream.remotePublicKey as Buffer, false)) {
        stream.destroy()
        return
      }
      this.stats.connects.lan.opened++
      this.onconnection(stream, null)
    }, () => {})
  }

  private onlanPeer (p: MdnsPeer): void {
    const info = this.upsertPeer(p.publicKey)
    if (info === null) return
    info.lanAddress = { host: p.host, port: p.port }
    info.topics.set(p.topic.toString('hex'), p.topic)
    const key = info.key
    if (this.destroyed || this.byKey.has(key) || this.connecting.has(key)) return
    if (this.connections.size + this.connecting.size >= this.maxPeers || this.refuses(info.publicKey, true)) return
    const abort = new AbortController()
    const promise = this.dialLan(info.publicKey, info.lanAddress).then((stream) => {
      if (abort.signal.aborted || this.destroyed) { stream.destroy(); return }
      this.stats.connects.lan.opened++
      this.onconnection(stream, info)
    }, () => {})
    this.connecting.set(key, { abort, promise })
    promise.finally(() => { if (this.connecting.get(key)?.promise === promise) this.connecting.delete(key) }).catch(safetyCatch)
  }

  private dialLan (publicKey: Buffer, addr: IPv4Address): Promise<SecretStream> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(addr.port, addr.host)
      this.trackLan(socket)
      const timer = setTimeout(() => socket.destroy(HyperfsError.REQUEST_TIMEOUT('lan connect')), 10_000)
      const stream = new SecretStream(true, socket as Duplex, { keyPair: this.keyPair, remotePublicKey: publicKey, keepAlive: this.dht.connectionKeepAlive })
      stream.on('error', () => {})
      stream.opened.then((ok) => {
        clearTimeout(timer)
        if (ok && stream.remotePublicKey?.equals(publicKey) === true) resolve(stream)
        else {
          stream.destroy()
          reject(HyperfsError.HANDSHAKE_FAILED('lan peer is not the advertised key'))
        }
      }, (err) => { clearTimeout(timer); reject(err) })
    })
  }

  private trackLan (socket: net.Socket): void {
    this.lanSockets.add(socket)
    socket.on('error', () => {})
    socket.once('close', () => this.lanSockets.delete(socket))
  }
}
