// HyperDHT on top of our dht-rpc node (docs/wire.md §8): the peer commands
// (FIND_PEER, LOOKUP, ANNOUNCE, UNANNOUNCE; PEER_HANDSHAKE and PEER_HOLEPUNCH
// routing), servers that accept Noise IK connections, and connect(). Only
// persistent nodes store records; ephemeral ones answer UNKNOWN_COMMAND, as
// the real one does. Connections run UDX streams over the DHT's own sockets.
// Owns: the router, the record store, the servers, the raw streams.
import type { UDXStream, UDXStreamOptions } from 'udx-native'
import { encode, type IPv4Address } from '../codec/index.js'
import { announceMessage, lookupReply, peerRecord, tryDecode, type PeerRecord } from '../codec/hyperdht-messages.js'
import { hash, keyPair as newKeyPair, type KeyPair } from '../crypto/index.js'
import type { SecretStream } from '../net/secret-stream.js'
import { DHTNode, type DHTNodeOptions, type DHTNodeServices } from './dht-node.js'
import { COMMANDS, NS } from './hyperdht-constants.js'
import { ERROR_UNKNOWN_COMMAND, type DhtResponse, type IncomingRequest, type SocketKind } from './io.js'
import { Persistent, signAnnounce } from './persistent.js'
import type { Query, QueryOptions } from './query.js'
import type { RecordStoreOptions } from './record-store.js'
import { Router } from './router.js'
import { Server, type ServerOptions } from './server.js'
import { connect, type ConnectOptions } from './connect.js'
import { safetyCatch } from '../errors.js'

export interface HyperDHTOptions extends DHTNodeOptions {
  keyPair?: KeyPair
  // bounds (and, for tests, lifetime) of stored records
  records?: RecordStoreOptions
  // most forwards (servers announced to us) kept
  maxForwards?: number
  connectionKeepAlive?: number
  // IP TTL of the first holepunch probes: enough hops to open our NAT, too few
  // to reach the remote NAT before it has opened its own (default 5)
  punchTTL?: number
}

export interface HyperDHTStats {
  dropped: { badHandshake: number, badHolepunch: number }
}

export interface LookupResult {
  from: DhtResponse['from']
  to: IPv4Address
  token: Buffer | null
  peers: PeerRecord[]
  bump: number
}

export class HyperDHT extends DHTNode {
  readonly defaultKeyPair: KeyPair
  readonly router: Router
  readonly persistent: Persistent
  readonly servers = new Set<Server>()
  readonly connectionKeepAlive: number
  readonly punchTTL: number
  readonly hyperStats: HyperDHTStats = { dropped: { badHandshake: 0, badHolepunch: 0 } }
  private readonly rawStreams = new Map<number, UDXStream>()
  private readonly probeListeners = new Set<(kind: SocketKind, host: string, port: number) => void>()

  constructor (opts: HyperDHTOptions, services: DHTNodeServices = {}) {
    super(opts, services)
    this.defaultKeyPair = opts.keyPair ?? newKeyPair()
    this.connectionKeepAlive = opts.connectionKeepAlive ?? 5000
    this.punchTTL = opts.punchTTL ?? 5
    this.router = new Router({ maxSize: opts.maxForwards, maxAge: opts.records?.maxAge })
    this.persistent = new Persistent(this.router, () => this.id, opts.records)
    this.handle(COMMANDS.PEER_HANDSHAKE, (req) => this.router.onhandshake(req))
    this.handle(COMMANDS.PEER_HOLEPUNCH, (req) => this.router.onholepunch(req))
    const stored = (fn: (req: IncomingRequest) => void) => (req: IncomingRequest): void => {
      if (this.id === null) req.error(ERROR_UNKNOWN_COMMAND, { closerNodes: req.target !== null })
      else fn(req)
    }
    this.handle(COMMANDS.FIND_PEER, stored((req) => this.persistent.onfindpeer(req)))
    this.handle(COMMANDS.LOOKUP, stored((req) => this.persistent.onlookup(req)))
    this.handle(COMMANDS.ANNOUNCE, stored((req) => this.persistent.onannounce(req)))
    this.handle(COMMANDS.UNANNOUNCE, stored((req) => this.persistent.onunannounce(req)))
    this.io.onprobe = (kind, host, port) => {
      for (const fn of [...this.probeListeners]) fn(kind, host, port)
    }
  }

  static keyPair (seed?: Uint8Array): KeyPair {
    return newKeyPair(seed)
  }

  static hash (data: Uint8Array): Buffer {
    return hash(data)
  }

  addProbeListener (fn: (kind: SocketKind, host: string, port: number) => void): void {
    this.probeListeners.add(fn)
  }

  removeProbeListener (fn: (kind: SocketKind, host: string, port: number) => void): void {
    this.probeListeners.delete(fn)
  }

  // A UDX stream with a fresh random id, closed with the node.
  createRawStream (opts: UDXStreamOptions = {}): UDXStream {
    let id = 0
    for (let i = 0; i < 64; i++) {
      id = (Math.random() * 0x100000000) >>> 0
      if (!this.rawStreams.has(id)) break
    }
    const stream = this.udx.createStream(id, { framed: true, ...opts })
    this.rawStreams.set(id, stream)
    stream.on('close', () => { if (this.rawStreams.get(id) === stream) this.rawStreams.delete(id) })
    stream.on('error', () => {})
    return stream
  }

  createServer (opts: ServerOptions = {}): Server {
    return new Server(this, opts)
  }

  connect (remotePublicKey: Uint8Array, opts: ConnectOptions = {}): Promise<SecretStream> {
    return connect(this, remotePublicKey, opts)
  }

  // FIND_PEER query on H(publicKey): replies with a value come from the server's relays
  findPeer (publicKey: Uint8Array, opts: QueryOptions = {}): Query {
    return this.query({ target: hash(publicKey), command: COMMANDS.FIND_PEER }, opts)
  }

  lookup (target: Uint8Array, opts: QueryOptions = {}): Query {
    return this.query({ target, command: COMMANDS.LOOKUP }, opts)
  }

  // LOOKUP on the topic, then a signed ANNOUNCE to each of the closest replies
  announce (target: Uint8Array, keyPair: KeyPair, relayAddresses: IPv4Address[] = [], opts: QueryOptions & { bump?: number } = {}): Query {
    const peer = { publicKey: keyPair.publicKey, relayAddresses: relayAddresses.slice(0, 3) }
    return this.lookup(target, {
      ...opts,
      commit: async (reply) => {
        if (reply.token === null || reply.from.id === null) return
        const signature = signAnnounce(target, reply.token, reply.from.id, peer, keyPair)
        const value = encode(announceMessage, { peer, refresh: null, signature, bump: opts.bump ?? 0 })
        return this.request(reply.from, { token: reply.token, target, command: COMMANDS.ANNOUNCE, value })
      }
    })
  }

  // LOOKUP on the topic, and a signed UNANNOUNCE to every node that holds our record
  async unannounce (target: Uint8Array, keyPair: KeyPair, opts: QueryOptions = {}): Promise<void> {
    this.persistent.unannounce(target, keyPair.publicKey)
    const peer = { publicKey: keyPair.publicKey, relayAddresses: [] }
    const sends: Array<Promise<unknown>> = []
    const q = this.lookup(target, opts)
    for await (const reply of q) {
      const r = decodeLookup(reply)
      if (r === null || reply.token === null || reply.from.id === null) continue
      if (!r.peers.some((p) => Buffer.from(p.publicKey).equals(keyPair.publicKey))) continue
      const signature = signAnnounce(target, reply.token, reply.from.id, peer, keyPair, NS.UNANNOUNCE)
      const value = encode(announceMessage, { peer, refresh: null, signature, bump: 0 })
      sends.push(this.request(reply.from, { token: reply.token, target, command: COMMANDS.UNANNOUNCE, value }).catch(safetyCatch))
    }
    await Promise.all(sends)
  }

  override async destroy (): Promise<void> {
    if (this.destroyed) return
    await Promise.allSettled([...this.servers].map((s) => s.close()))
    for (const s of [...this.rawStreams.values()]) s.destroy()
    this.rawStreams.clear()
    this.probeListeners.clear()
    this.router.clear()
    this.persistent.destroy()
    await super.destroy()
  }
}

// The peer records of a LOOKUP reply, or null for a reply without (valid) records.
export function decodeLookup (reply: DhtResponse): LookupResult | null {
  const l = tryDecode(lookupReply, reply.value)
  if (l === null) return null
  return { from: reply.from, to: reply.to, token: reply.token, peers: l.peers, bump: l.bump }
}

export function decodeFindPeer (reply: DhtResponse): PeerRecord | null {
  return tryDecode(peerRecord, reply.value)
}
