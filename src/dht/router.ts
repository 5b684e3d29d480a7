// PEER_HANDSHAKE and PEER_HOLEPUNCH routing (docs/wire.md §8.3, §8.5), as hyperdht's
// router does it. A node keeps a forward per target H(serverPk): either a
// server listening on this node (hooks set) or the address of a server that
// announced itself here (relay set). Routing rules:
//   handshake FROM_CLIENT at the server  -> reply REPLY
//   handshake FROM_CLIENT at a relay     -> relay FROM_RELAY (peerAddress = client) to the server,
//                                           or, knowing no route, reply with closer nodes only
//   handshake FROM_RELAY at the server   -> relay FROM_SERVER (same tid) back to the relay
//   handshake FROM_RELAY at a non-server -> relay FROM_SECOND_RELAY to the server (relayAddress = from)
//   handshake FROM_SERVER at the relay   -> respond REPLY to the client (peerAddress = server)
//   holepunch FROM_CLIENT -> FROM_RELAY to peerAddress; FROM_RELAY at server -> FROM_SERVER; FROM_SERVER -> REPLY
// A relay re-sends the request with the same tid, so the client's pending
// request is answered by the final response. Forwards for announced servers
// expire with the record; a listening server's forward stays until it closes.
import type { IPv4Address } from '../codec/index.js'
import { encode } from '../codec/index.js'
import { handshakeMessage, holepunchMessage, tryDecode, MODE } from '../codec/hyperdht-messages.js'
import type { IncomingRequest, SocketKind } from './io.js'

export interface ServerHooks {
  onhandshake (m: { noise: Buffer, peerAddress: IPv4Address | null }, req: IncomingRequest): Promise<{ noise: Buffer, socket?: SocketKind } | null>
  onholepunch (m: { id: number, payload: Buffer, peerAddress: IPv4Address }, req: IncomingRequest): Promise<{ payload: Buffer, socket?: SocketKind } | null>
}

export interface Forward {
  relay: IPv4Address | null
  record: Buffer
  server: ServerHooks | null
  time: number
}

export interface RouterStats {
  relayedHandshakes: number
  relayedHolepunches: number
  dropped: { badHandshake: number, badHolepunch: number }
}

export interface RouterOptions {
  maxSize?: number
  maxAge?: number
}

export class Router {
  readonly stats: RouterStats = { relayedHandshakes: 0, relayedHolepunches: 0, dropped: { badHandshake: 0, badHolepunch: 0 } }
  private readonly forwards = new Map<string, Forward>()
  private readonly maxSize: number
  private readonly maxAge: number

  constructor (opts: RouterOptions = {}) {
    this.maxSize = opts.maxSize ?? 10000
    this.maxAge = opts.maxAge ?? 20 * 60 * 1000
  }

  get size (): number {
    return this.forwards.size
  }

  set (target: string, f: Omit<Forward, 'time'>): void {
    this.forwards.delete(target)
    this.expire()
    // evict the oldest announced forward; listening servers are never evicted
    if (this.forwards.size >= this.maxSize) {
      for (const [k, v] of this.forwards) {
        if (v.server === null) { this.forwards.delete(k); break }
      }
    }
    this.forwards.set(target, { ...f, time: Date.now() })
  }

  get (target: string): Forward | null {
    const f = this.forwards.get(target)
    if (f === undefined) return null
    if (f.server === null && Date.now() - f.time > this.maxAge) {
      this.forwards.delete(target)
      return null
    }
    return f
  }

  delete (target: string): void {
    this.forwards.delete(target)
  }

  clear (): void {
    this.forwards.clear()
  }

  private expire (): void {
    const cutoff = Date.now() - this.maxAge
    for (const [k, v] of this.forwards) {
      if (v.time > cutoff) break
      if (v.server === null) this.forwards.delete(k)
    }
  }

  async onhandshake (req: IncomingRequest): Promise<void> {
    const hs = tryDecode(handshakeMessage, req.value)
    if (hs === null || req.target === null) {
      this.stats.dropped.badHandshake++
      return
    }
    const { mode, peerAddress, relayAddress } = hs
    const noise = Buffer.from(hs.noise)
    const f = this.get(hex(req.target))
    const relay = f?.relay ?? null

    if (f !== null && f.server !== null) {
      const reply = noise.byteLength > 0 ? await f.server.onhandshake({ noise, peerAddress }, req) : null
      if (reply === null) return
      const opts = { socket: reply.socket, closerNodes: false, token: false }
      if (mode === MODE.FROM_CLIENT) {
        req.reply(encode(handshakeMessage, { mode: MODE.REPLY, noise: reply.noise, peerAddress: null, relayAddress: null }), opts)
      } else if (mode === MODE.FROM_RELAY) {
        req.relay(encode(handshakeMessage, { mode: MODE.FROM_SERVER, noise: reply.noise, peerAddress, relayAddress: null }), req.from, opts)
      } else if (mode === MODE.FROM_SECOND_RELAY && relayAddress !== null) {
        req.relay(encode(handshakeMessage, { mode: MODE.FROM_SERVER, noise: reply.noise, peerAddress, relayAddress: null }), relayAddress, opts)
      }
      return
    }

    switch (mode) {
      case MODE.FROM_CLIENT:
        if (noise.byteLength === 0) return
        if (relay === null && relayAddress === null) {
          req.reply(null, { token: false, closerNodes: true })
          return
        }
        this.stats.relayedHandshakes++
        req.relay(encode(handshakeMessage, { mode: MODE.FROM_RELAY, noise, peerAddress: req.from, relayAddress: null }), (relayAddress ?? relay) as IPv4Address)
        return
      case MODE.FROM_RELAY:
        if (relay === null || noise.byteLength === 0) return
        req.relay(encode(handshakeMessage, { mode: MODE.FROM_SECOND_RELAY, noise, peerAddress, relayAddress: req.from }), relay)
        return
      case MODE.FROM_SERVER:
        if (peerAddress === null || noise.byteLength === 0) return
        req.reply(encode(handshakeMessage, { mode: MODE.REPLY, noise, peerAddress: req.from, relayAddress: null }), { to: peerAddress, closerNodes: false, token: false })
    }
  }

  async onholepunch (req: IncomingRequest): Promise<void> {
    const hp = tryDecode(holepunchMessage, req.value)
    if (hp === null || req.target === null) {
      this.stats.dropped.badHolepunch++
      return
    }
    const { mode, id, peerAddress } = hp
    const payload = Buffer.from(hp.payload)
    const f = this.get(hex(req.target))
    switch (mode) {
      case MODE.FROM_CLIENT: {
        const to = peerAddress ?? f?.relay ?? null
        if (to === null) return
        this.stats.relayedHolepunches++
        req.relay(encode(holepunchMessage, { mode: MODE.FROM_RELAY, id, payload, peerAddress: req.from }), to)
        return
      }
      case MODE.FROM_RELAY: {
        if (f === null || f.server === null || peerAddress === null) return
        const reply = await f.server.onholepunch({ id, payload, peerAddress }, req)
        if (reply === null) return
        req.relay(encode(holepunchMessage, { mode: MODE.FROM_SERVER, id: 0, payload: reply.payload, peerAddress }), req.from, { socket: reply.socket })
        return
      }
      case MODE.FROM_SERVER:
        if (peerAddress === null) return
        req.reply(encode(holepunchMessage, { mode: MODE.REPLY, id, payload, peerAddress: req.from }), { to: peerAddress, closerNodes: false, token: false })
    }
  }
}

export function hex (b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
}
