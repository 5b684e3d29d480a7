// A hyperdht server (docs/wire.md §8.4, §8.5, server side): listen(keyPair) announces
// H(pk) to 3 relays and answers the Noise IK handshakes they route to us.
// Per handshake:
//   1. decrypt msg1; a failure is counted and dropped (no answer)
//   2. the firewall hook may refuse the client by its key
//   3. open a UDX stream and reply with our payload: firewall OPEN when our
//      DHT address is reachable, addresses, our stream id, secretStream
//   4. connect: at once if the client is OPEN or reached us directly;
//      otherwise wait for the client's first UDX packet (we are OPEN), or
//      holepunch (both behind NATs)
// The UDX stream is wrapped in a SecretStream as the responder, from the IK
// result. Retransmitted msg1s (same bytes) get the same reply.
// With tcp on, a client whose msg1 carries the hyperfs-only tcp field (a real
// client never sends it) is told our TCP port and may bring the same session
// over TCP when UDX fails (tcp-fallback.ts); a real client's reply is unchanged.
import { EventEmitter } from 'node:events'
import type { UDXSocket, UDXStream } from 'udx-native'
import type { IPv4Address } from '../codec/index.js'
import type { NoisePayload } from '../codec/hyperdht-messages.js'
import { hash, type KeyPair } from '../crypto/index.js'
import { HyperfsError, safetyCatch } from '../errors.js'
import { SecretStream } from '../net/secret-stream.js'
import { Announcer } from './announcer.js'
import { FIREWALL, PAYLOAD_ERROR } from './hyperdht-constants.js'
import type { IncomingRequest, SocketKind } from './io.js'
import { PeerHandshake, emptyPayload, type PeerHandshakeResult } from './peer-handshake.js'
import { Holepuncher } from './holepuncher.js'
import { hex } from './router.js'
import { TcpListener } from './tcp-fallback.js'
import type { HyperDHT } from './hyper-dht.js'

const HANDSHAKE_CLEAR_WAIT = 10_000
const CONNECT_TIMEOUT = 10_000
const MAX_PENDING = 1024

export type ServerFirewall = (remotePublicKey: Buffer, payload: NoisePayload, clientAddress: IPv4Address) => boolean | Promise<boolean>

export interface ServerOptions {
  firewall?: ServerFirewall
  // false: never holepunch (only direct connections)
  holepunch?: boolean
  // ms between self announces (default 5 min)
  refreshInterval?: number
  // accept the TCP fallback of hyperfs clients; port: tried first (default:
  // our UDP port number), any free port when taken
  tcp?: boolean | { host?: string, port?: number }
}

export interface ServerStats {
  handshakes: number
  connections: number
  tcpConnections: number
  dropped: { badHandshake: number, firewalled: number, overloaded: number }
}

interface Pending {
  id: number
  key: string
  rawStream: UDXStream | null
  remote: NoisePayload | null
  result: PeerHandshakeResult | null
  reply: Buffer | null
  punch: Holepuncher | null
  timer: NodeJS.Timeout | null
  clearing: NodeJS.Timeout | null
  // the UDX stream emitted for this handshake (a TCP claim replaces it)
  stream: SecretStream | null
}

export class Server extends EventEmitter {
  readonly dht: HyperDHT
  readonly stats: ServerStats = { handshakes: 0, connections: 0, tcpConnections: 0, dropped: { badHandshake: 0, firewalled: 0, overloaded: 0 } }
  keyPair: KeyPair | null = null
  target: Buffer | null = null
  closed = false
  private announcer: Announcer | null = null
  private readonly firewall: ServerFirewall
  private readonly holepunch: boolean
  private readonly refreshInterval: number
  private readonly connects = new Map<string, Promise<Pending | null>>()
  private readonly slots: Array<Pending | null> = []
  private listening: Promise<void> | null = null
  private readonly tcpOptions: { host?: string, port?: number } | null
  private tcp: TcpListener | null = null

  constructor (dht: HyperDHT, opts: ServerOptions = {}) {
    super()
    this.dht = dht
    this.firewall = opts.firewall ?? (() => false)
    this.holepunch = opts.holepunch !== false
    this.refreshInterval = opts.refreshInterval ?? 5 * 60 * 1000
    this.tcpOptions = opts.tcp === true ? {} : typeof opts.tcp === 'object' ? opts.tcp : null
  }

  // our TCP fallback port, 0 when not listening on TCP
  get tcpPort (): number {
    return this.tcp?.port ?? 0
  }

  get publicKey (): Buffer | null {
    return this.keyPair?.publicKey ?? null
  }

  get relayAddresses (): IPv4Address[] {
    return this.announcer?.relayAddresses ?? []
  }

  get relays (): Array<{ relayAddress: IPv4Address, peerAddress: IPv4Address }> {
    return this.announcer?.relays ?? []
  }

  listen (keyPair: KeyPair = this.dht.defaultKeyPair): Promise<void> {
    if (this.listening !== null) return Promise.reject(HyperfsError.INVALID_OPERATION('already listening'))
    if (this.closed || this.dht.destroyed) return Promise.reject(HyperfsError.REQUEST_DESTROYED('server closed'))
    this.listening = this.start(keyPair)
    return this.listening
  }

  private async start (keyPair: KeyPair): Promise<void> {
    for (const s of this.dht.servers) {
      if (s !== this && s.keyPair !== null && s.keyPair.publicKey.equals(keyPair.publicKey)) throw HyperfsError.INVALID_OPERATION('key pair already listening')
    }
    this.keyPair = keyPair
    this.target = hash(keyPair.publicKey)
    this.dht.servers.add(this)
    this.announcer = new Announcer(this.dht, keyPair, this.target, this.refreshInterval)
    const record = Buffer.concat([keyPair.publicKey, Buffer.from([0])]) // {pk, relayAddresses: []}
    this.dht.router.set(hex(this.target), {
      relay: null,
      record,
      server: {
        onhandshake: (m, req) => this.onhandshake(m.noise, m.peerAddress, req),
        onholepunch: (m, req) => this.onholepunch(m.id, m.payload, m.peerAddress, req)
      }
    })
    await this.dht.fullyBootstrapped()
    if (this.closed) return
    // before the announce: no handshake can reach us earlier
    if (this.tcpOptions !== null) await this.listenTcp(this.tcpOptions)
    if (this.closed) return
    await this.announcer.start()
    if (!this.closed) this.emit('listening')
  }

  private async listenTcp (opts: { host?: string, port?: number }): Promise<void> {
    const udp = this.dht.address()
    const tcp = new TcpListener({
      host: opts.host ?? udp?.host ?? '0.0.0.0',
      // the same number as UDP: one port to forward on a NAT for both paths
      port: opts.port ?? udp?.port ?? 0,
      keepAlive: this.dht.connectionKeepAlive,
      onconnection: (stream, replaces) => this.ontcp(stream, replaces)
    })
    this.tcp = tcp
    await tcp.listen()
  }

  private ontcp (stream: SecretStream, replaces: SecretStream | null): void {
    if (this.closed) { stream.destroy(); return }
    const emit = (): void => {
      if (this.closed) { stream.destroy(); return }
      this.stats.tcpConnections++
      this.emit('connection', stream)
    }
    // The client gave up on that UDX stream, so ours for the same session goes.
    // It is destroyed (not yet closed: a UDX close waits for an ack that a dead
    // path never brings) before its replacement is emitted, so a listener that
    // dedupes by key can tell the old one is on its way out.
    if (replaces !== null && !replaces.destroyed) replaces.destroy(HyperfsError.PEER_CONNECTION_FAILED('replaced by tcp'))
    emit()
  }

  // re-announce now (e.g. after a network change)
  refresh (): Promise<void> {
    return this.announcer?.refresh() ?? Promise.resolve()
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.listening !== null) await this.listening.catch(safetyCatch)
    if (this.target !== null) this.dht.router.delete(hex(this.target))
    this.dht.servers.delete(this)
    for (const p of this.slots) if (p !== null) this.clear(p, true)
    this.slots.length = 0
    this.connects.clear()
    if (this.tcp !== null) await this.tcp.close()
    if (this.announcer !== null) await this.announcer.stop()
    this.emit('close')
  }

  private async onhandshake (noise: Buffer, peerAddress: IPv4Address | null, req: IncomingRequest): Promise<{ noise: Buffer, socket?: SocketKind } | null> {
    if (this.closed) return null
    const k = noise.toString('hex')
    let p = this.connects.get(k)
    if (p === undefined) {
      if (this.connects.size >= MAX_PENDING) {
        this.stats.dropped.overloaded++
        return null
      }
      // set in the same tick: a flood of retransmits costs one decrypt
      p = this.addHandshake(k, noise, peerAddress ?? req.from, req, peerAddress === null)
      this.connects.set(k, p)
    }
    const pending = await p
    if (pending === null || pending.reply === null || this.closed) return null
    return { noise: pending.reply, socket: pending.punch?.socketKind }
  }

  private async addHandshake (k: string, noise: Buffer, clientAddress: IPv4Address, req: IncomingRequest, direct: boolean): Promise<Pending | null> {
    let id = this.slots.indexOf(null)
    if (id === -1) id = this.slots.push(null) - 1
    const pending: Pending = { id, key: k, rawStream: null, remote: null, result: null, reply: null, punch: null, timer: null, clearing: null, stream: null }
    this.slots[id] = pending
    const forget = (): null => {
      this.clearLater(pending)
      return null
    }

    const hs = new PeerHandshake(this.keyPair as KeyPair, null)
    let remote: NoisePayload
    try {
      remote = hs.recv(noise)
    } catch {
      this.stats.dropped.badHandshake++
      this.dht.hyperStats.dropped.badHandshake++
      return forget()
    }
    pending.remote = remote
    let refused = true
    try {
      refused = await this.firewall(hs.remotePublicKey as Buffer, remote, clientAddress)
    } catch (err) { safetyCatch(err) }
    if (refused || this.closed) {
      this.stats.dropped.firewalled++
      return forget()
    }
    this.stats.handshakes++

    const error = remote.version !== 1 ? PAYLOAD_ERROR.VERSION_MISMATCH : remote.udx === null ? PAYLOAD_ERROR.ABORTED : PAYLOAD_ERROR.NONE
    const ourAddress = this.dht.remoteAddress()
    const addresses4: IPv4Address[] = []
    if (ourAddress !== null) addresses4.push(ourAddress)

    if (error === PAYLOAD_ERROR.NONE) {
      pending.rawStream = this.dht.createRawStream({
        firewall: (socket, port, host) => {
          if (!(port > 0 && port < 65536)) return true
          this.onsocket(pending, socket, port, host)
          return false
        }
      })
    }

    const payload = emptyPayload()
    payload.error = error
    payload.firewall = ourAddress !== null ? FIREWALL.OPEN : FIREWALL.UNKNOWN
    payload.holepunch = ourAddress !== null || !this.holepunch ? null : { id, relays: this.relays }
    payload.addresses4 = addresses4
    payload.udx = { version: 1, reusableSocket: false, id: pending.rawStream?.id ?? 0, seq: 0 }
    payload.secretStream = { version: 1 }
    payload.relayAddresses = this.relayAddresses.length > 0 ? this.relayAddresses : null
    // only to a client that said it speaks the extension
    const tcp = error === PAYLOAD_ERROR.NONE && remote.tcp != null ? this.tcp : null
    if (tcp !== null) payload.tcp = { port: tcp.port }
    try {
      pending.reply = hs.send(payload)
    } catch {
      return forget()
    }
    pending.result = hs.final()
    if (tcp !== null) tcp.expect(pending.result, () => pending.stream)
    if (error !== PAYLOAD_ERROR.NONE) {
      forget()
      return pending
    }

    if (remote.firewall === FIREWALL.OPEN || direct) {
      const socket = direct ? this.dht.io.udxSocket(req.socket) : this.dht.socket
      if (socket !== null) this.onsocket(pending, socket, clientAddress.port, clientAddress.host)
      return pending
    }

    pending.timer = setTimeout(() => this.clear(pending, true), CONNECT_TIMEOUT)
    if (ourAddress !== null || !this.holepunch) return pending

    // both sides are behind NATs: punch, driven by the client's PEER_HOLEPUNCH rounds
    pending.punch = new Holepuncher(this.dht, false, remote.firewall, pending.result.holepunchSecret, {
      onconnect: (socket, port, host) => this.onsocket(pending, socket, port, host),
      onabort: () => this.clear(pending, true)
    })
    await pending.punch.ready()
    return pending
  }

  private async onholepunch (id: number, payload: Buffer, peerAddress: IPv4Address, req: IncomingRequest): Promise<{ payload: Buffer, socket?: SocketKind } | null> {
    const p = id < this.slots.length ? this.slots[id] : null
    if (p === null || p.punch === null || this.closed) return null
    const out = await p.punch.onremote(payload, peerAddress, req, this.announcer?.isRelay(req.from) ?? false)
    if (out === null) return null
    return { payload: out, socket: p.punch.socketKind }
  }

  private onsocket (p: Pending, socket: UDXSocket, port: number, host: string): void {
    const raw = p.rawStream
    if (raw === null || p.result === null || p.remote?.udx == null || this.closed) return
    p.rawStream = null
    if (p.timer !== null) clearTimeout(p.timer)
    p.timer = null
    this.clearLater(p)
    try {
      raw.connect(socket, p.remote.udx.id, port, host)
    } catch {
      raw.destroy()
      return
    }
    const stream = new SecretStream(false, raw as any, { handshake: p.result, keepAlive: this.dht.connectionKeepAlive })
    p.stream = stream
    this.stats.connections++
    this.emit('connection', stream)
  }

  private clearLater (p: Pending): void {
    if (p.clearing !== null) return
    p.clearing = setTimeout(() => this.clear(p, true), HANDSHAKE_CLEAR_WAIT)
    p.clearing.unref()
  }

  // frees the slot and the retransmit entry; destroy: also the unconnected stream
  private clear (p: Pending, destroy: boolean): void {
    if (p.timer !== null) clearTimeout(p.timer)
    p.timer = null
    if (p.clearing !== null) clearTimeout(p.clearing)
    p.clearing = null
    if (p.punch !== null) p.punch.destroy()
    p.punch = null
    if (destroy && p.rawStream !== null) p.rawStream.destroy()
    if (destroy) p.rawStream = null
    this.connects.delete(p.key)
    if (this.slots[p.id] === p) this.slots[p.id] = null
    while (this.slots.length > 0 && this.slots[this.slots.length - 1] === null) this.slots.pop()
  }
}
