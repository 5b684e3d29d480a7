// The UDP transport of dht-rpc (docs/wire.md §7): two udx-native sockets, requests
// with tids, retries, and response matching.
// - Server socket: the one whose address is our node id. Client socket: the
//   one a firewalled node sends from. A reply always leaves on the socket the
//   request arrived on; PING_NAT answers arrive on the server socket, which is
//   how a node learns that its server port is reachable.
// - tid: u16 counter from a random start, wrapping at 65536, skipping tids
//   still in flight. Responses match on tid alone (as in the real dht-rpc): a
//   multi-homed or NATed peer may answer from another address than we used.
// - A request is resent every `timeout` ms (1 s) until it has been sent
//   retries + 1 times, then fails with REQUEST_TIMEOUT.
// - Sends are paced by a congestion window (at most maxWindow per 750 ms slot,
//   2·maxWindow over the last four slots); excess requests wait in a queue.
// - Incoming requests are rate limited per host:port, so one peer cannot make
//   us spend unbounded work; excess is dropped and counted.
// - Tokens: the 750 ms drain tick rotates the token secrets every 10 ticks.
// IO knows nothing of routing: the owner supplies our id, ephemerality and the
// closest-nodes lookup through IOContext.
import UDX, { type UDXSocket } from 'udx-native'
import { encode, DecodeError, type IPv4Address } from '../codec/index.js'
import { decodeDhtPacket, requestMessage, REQUEST_HEADER, type RequestMessage, type ResponseMessage } from '../codec/dht-messages.js'
import { HyperfsError, safetyCatch } from '../errors.js'
import { IncomingRequest, type Peer, type ReplyTransport, type SocketKind } from './incoming-request.js'
import { nodeId } from './node-id.js'
import { Tokens } from './tokens.js'
import { equalBytes } from './routing-table.js'

export const ERROR_UNKNOWN_COMMAND = 1
export const ERROR_INVALID_TOKEN = 2

const DRAIN_INTERVAL = 750
const ROTATE_TICKS = 10
const DEFAULT_MAX_WINDOW = 80
const DEFAULT_TIMEOUT = 1000
const DEFAULT_RETRIES = 3
const DEFAULT_RATE_LIMIT = 100 // requests per address per 750 ms slot
const MAX_RATE_ENTRIES = 16384
const OVERFLOW_KEY = '*'

export interface DhtResponse {
  tid: number
  from: Peer
  to: IPv4Address
  token: Buffer | null
  closerNodes: IPv4Address[] | null
  error: number
  value: Buffer | null
  rtt: number
  socket: SocketKind
}

export interface OutgoingRequest {
  token?: Uint8Array | null
  internal?: boolean
  command: number
  target?: Uint8Array | null
  value?: Uint8Array | null
}

export interface RequestOptions {
  signal?: AbortSignal
  // total sends = retries + 1; 0 disables retrying
  retries?: number
  // ms to wait for an answer before resending
  timeout?: number
  socket?: SocketKind
  ttl?: number
  // bypass the congestion window (queries that must not queue behind others)
  force?: boolean
  // called each time a send went unanswered for `timeout` ms
  oncycle?: () => void
}

export interface IOContext {
  readonly ephemeral: boolean
  readonly id: Uint8Array
  closest (target: Uint8Array): IPv4Address[]
}

export interface IOHandlers {
  onrequest (req: IncomingRequest, external: boolean): void
  onresponse (res: DhtResponse, external: boolean): void
  ontimeout (to: Peer): void
}

export interface IOOptions {
  host?: string
  port?: number
  // fall back to a random port if `port`..`port+4` are taken
  anyPort?: boolean
  firewalled?: boolean
  maxWindow?: number
  rateLimit?: number
}

export interface IOStats {
  requests: { active: number, total: number, responses: number, timeouts: number, retries: number }
  received: { requests: number, responses: number }
  dropped: { malformed: number, unmatched: number, rateLimited: number, invalidToken: number }
}

interface Inflight {
  tid: number
  to: Peer
  buffer: Buffer
  socket: SocketKind
  ttl: number
  sent: number
  retries: number
  timeout: number
  timestamp: number
  timer: NodeJS.Timeout | null
  queued: boolean
  oncycle: (() => void) | null
  resolve: (res: DhtResponse) => void
  reject: (err: Error) => void
  cleanup: () => void
}

export type { Peer, SocketKind, ReplyOptions } from './incoming-request.js'
export { IncomingRequest } from './incoming-request.js'

export class IO implements ReplyTransport {
  readonly tokens = new Tokens()
  readonly stats: IOStats = {
    requests: { active: 0, total: 0, responses: 0, timeouts: 0, retries: 0 },
    received: { requests: 0, responses: 0 },
    dropped: { malformed: 0, unmatched: 0, rateLimited: 0, invalidToken: 0 }
  }

  firewalled: boolean
  readonly context: IOContext
  // 1-byte datagrams are holepunch probes; the holepuncher listens here
  onprobe: ((socket: SocketKind, host: string, port: number) => void) | null = null

  private readonly udx: UDX
  private readonly handlers: IOHandlers
  private readonly host: string
  private readonly port: number
  private readonly anyPort: boolean
  private readonly rateLimit: number
  private readonly congestion: CongestionWindow
  private serverSocket: UDXSocket | null = null
  private clientSocket: UDXSocket | null = null
  private readonly inflight = new Map<number, Inflight>()
  private readonly pending: Inflight[] = []
  private readonly rates = new Map<string, number>()
  private tid = Math.floor(Math.random() * 65536)
  private rotateTicks = ROTATE_TICKS
  private drainTimer: NodeJS.Timeout | null = null
  private binding: Promise<void> | null = null
  private destroying: Promise<void> | null = null

  constructor (udx: UDX, context: IOContext, handlers: IOHandlers, opts: IOOptions = {}) {
    this.udx = udx
    this.context = context
    this.handlers = handlers
    this.host = opts.host ?? '0.0.0.0'
    this.port = opts.port ?? 0
    this.anyPort = opts.anyPort !== false
    this.firewalled = opts.firewalled !== false
    this.rateLimit = opts.rateLimit ?? DEFAULT_RATE_LIMIT
    this.congestion = new CongestionWindow(opts.maxWindow ?? DEFAULT_MAX_WINDOW)
  }

  get destroyed (): boolean {
    return this.destroying !== null
  }

  bind (): Promise<void> {
    if (this.binding === null) this.binding = this.bindSockets()
    return this.binding
  }

  private async bindSockets (): Promise<void> {
    const server = this.udx.createSocket()
    const client = this.udx.createSocket()
    try {
      // like dht-rpc: a fixed port also tries the next four before giving up
      const candidates = this.port === 0 ? [0] : [0, 1, 2, 3, 4].map((i) => this.port + i)
      let bindError: unknown = null
      for (const p of candidates) {
        try { server.bind(p, this.host); break } catch (err) { bindError ??= err }
      }
      if (!server.bound) {
        if (!this.anyPort) throw bindError
        server.bind(0, this.host)
      }
      client.bind(0, this.host)
    } catch (err) {
      await Promise.allSettled([server.close(), client.close()])
      throw err
    }
    this.serverSocket = server
    this.clientSocket = client
    server.on('message', (buf, rinfo) => this.onmessage('server', buf, rinfo.host, rinfo.port, rinfo.family))
    client.on('message', (buf, rinfo) => this.onmessage('client', buf, rinfo.host, rinfo.port, rinfo.family))
    this.drainTimer = setInterval(() => this.drain(), DRAIN_INTERVAL)
    this.drainTimer.unref()
    if (this.destroying !== null) await this.closeSockets()
  }

  serverAddress (): IPv4Address | null {
    const a = this.serverSocket?.address()
    return a ? { host: a.host, port: a.port } : null
  }

  clientAddress (): IPv4Address | null {
    const a = this.clientSocket?.address()
    return a ? { host: a.host, port: a.port } : null
  }

  // the udx socket of a kind: hyperdht runs its UDX streams over these
  udxSocket (kind: SocketKind): UDXSocket | null {
    return kind === 'server' ? this.serverSocket : this.clientSocket
  }

  // the socket requests leave from: firewalled nodes keep the server port quiet
  get defaultSocket (): SocketKind {
    return this.firewalled ? 'client' : 'server'
  }

  get inflightCount (): number {
    return this.inflight.size
  }

  // our id is sent only by persistent nodes and only from the server socket
  idFor (socket: SocketKind): Uint8Array | null {
    return !this.context.ephemeral && socket === 'server' ? this.context.id : null
  }

  send (socket: SocketKind, buffer: Buffer, to: IPv4Address, ttl = 0): void {
    const s = socket === 'server' ? this.serverSocket : this.clientSocket
    if (s === null || this.destroying !== null) return
    try {
      s.trySend(buffer, to.port, to.host, ttl)
    } catch {
      // an unsendable address (e.g. IPv6 in an IPv4 slot) is the peer's problem, not ours
    }
  }

  request (to: IPv4Address, req: OutgoingRequest, opts: RequestOptions = {}): Promise<DhtResponse> {
    if (this.destroying !== null) return Promise.reject(HyperfsError.REQUEST_DESTROYED('dht io destroyed'))
    const signal = opts.signal
    if (signal?.aborted) return Promise.reject(HyperfsError.REQUEST_CANCELLED())
    const tid = this.nextTid()
    if (tid === -1) return Promise.reject(HyperfsError.REQUEST_TIMEOUT('no free tid'))
    const socket = opts.socket ?? this.defaultSocket
    const peer: Peer = { id: null, host: to.host, port: to.port }
    const buffer = encode(requestMessage, {
      tid,
      to: { host: to.host, port: to.port },
      id: this.idFor(socket),
      token: req.token ?? null,
      internal: req.internal === true,
      command: req.command,
      target: req.target ?? null,
      value: req.value ?? null
    })

    return new Promise<DhtResponse>((resolve, reject) => {
      const entry: Inflight = {
        tid,
        to: peer,
        buffer,
        socket,
        ttl: opts.ttl ?? 0,
        sent: 0,
        retries: opts.retries ?? DEFAULT_RETRIES,
        timeout: opts.timeout ?? DEFAULT_TIMEOUT,
        timestamp: Date.now(),
        timer: null,
        queued: false,
        oncycle: opts.oncycle ?? null,
        resolve,
        reject,
        cleanup: () => {}
      }
      if (signal) {
        const onabort = (): void => this.finish(entry, HyperfsError.REQUEST_CANCELLED())
        signal.addEventListener('abort', onabort, { once: true })
        entry.cleanup = () => signal.removeEventListener('abort', onabort)
      }
      this.inflight.set(tid, entry)
      this.stats.requests.active++
      this.stats.requests.total++
      if (opts.force === true || !this.congestion.isFull()) this.transmit(entry)
      else {
        entry.queued = true
        this.pending.push(entry)
      }
    })
  }

  private nextTid (): number {
    for (let i = 0; i < 65536; i++) {
      const tid = this.tid
      this.tid = (this.tid + 1) & 0xffff
      if (!this.inflight.has(tid)) return tid
    }
    return -1
  }

  private transmit (entry: Inflight): void {
    entry.queued = false
    entry.sent++
    this.congestion.send()
    this.send(entry.socket, entry.buffer, entry.to, entry.ttl)
    entry.timer = setTimeout(() => this.oncycle(entry), entry.timeout)
  }

  private oncycle (entry: Inflight): void {
    entry.timer = null
    if (entry.oncycle !== null) entry.oncycle()
    if (entry.sent > entry.retries) {
      this.stats.requests.timeouts++
      this.finish(entry, HyperfsError.REQUEST_TIMEOUT(`${entry.to.host}:${entry.to.port}`))
      this.handlers.ontimeout(entry.to)
      return
    }
    this.stats.requests.retries++
    if (this.congestion.isFull()) {
      entry.queued = true
      this.pending.push(entry)
    } else {
      this.transmit(entry)
    }
  }

  // removes a request from flight and settles it (error) — responses settle in onresponse
  private finish (entry: Inflight, err: Error): void {
    if (this.inflight.get(entry.tid) !== entry) return
    this.inflight.delete(entry.tid)
    if (entry.timer !== null) clearTimeout(entry.timer)
    entry.timer = null
    if (entry.queued) {
      const i = this.pending.indexOf(entry)
      if (i !== -1) this.pending.splice(i, 1)
    }
    entry.cleanup()
    this.stats.requests.active--
    this.congestion.recv()
    entry.reject(err)
  }

  private drain (): void {
    if (--this.rotateTicks === 0) {
      this.rotateTicks = ROTATE_TICKS
      this.tokens.rotate()
    }
    this.rates.clear()
    this.congestion.drain()
    while (this.pending.length > 0 && !this.congestion.isFull()) {
      const entry = this.pending.shift() as Inflight
      this.transmit(entry)
    }
  }

  private ratelimited (host: string, port: number): boolean {
    let key = host + ':' + port
    if (!this.rates.has(key) && this.rates.size >= MAX_RATE_ENTRIES) key = OVERFLOW_KEY
    const n = (this.rates.get(key) ?? 0) + 1
    this.rates.set(key, n)
    return n > this.rateLimit
  }

  private onmessage (socket: SocketKind, buf: Buffer, host: string, port: number, family: number): void {
    // 1-byte datagrams are holepunch probes, not RPC
    if (buf.byteLength < 2 || this.destroying !== null) {
      if (buf.byteLength === 1 && this.onprobe !== null && this.destroying === null) this.onprobe(socket, host, port)
      return
    }
    if (family !== 4 || !(port > 0 && port < 65536)) return
    if (buf[0] === REQUEST_HEADER && this.ratelimited(host, port)) {
      this.stats.dropped.rateLimited++
      return
    }

    let packet
    try {
      packet = decodeDhtPacket(buf)
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      this.stats.dropped.malformed++
      return
    }

    const external = socket !== this.defaultSocket
    if (packet.type === 'request') this.onrequest(socket, packet.message, host, port, external)
    else this.onresponse(socket, packet.message, host, port, external)
  }

  private onrequest (socket: SocketKind, m: RequestMessage, host: string, port: number, external: boolean): void {
    this.stats.received.requests++
    const from: Peer = { id: validateId(m.id, host, port), host, port }
    const req = new IncomingRequest(this, m, from, socket)
    if (req.token !== null && !this.tokens.verify(host, req.token)) {
      this.stats.dropped.invalidToken++
      // like dht-rpc: the error carries a fresh token so the peer can retry
      req.error(ERROR_INVALID_TOKEN, { token: true })
      return
    }
    this.handlers.onrequest(req, external)
  }

  private onresponse (socket: SocketKind, m: ResponseMessage, host: string, port: number, external: boolean): void {
    this.stats.received.responses++
    const entry = this.inflight.get(m.tid)
    // a tid we never sent, or already settled: late duplicate or forgery
    if (entry === undefined || entry.sent === 0) {
      this.stats.dropped.unmatched++
      return
    }
    this.inflight.delete(m.tid)
    if (entry.timer !== null) clearTimeout(entry.timer)
    entry.timer = null
    entry.cleanup()
    this.stats.requests.active--
    this.stats.requests.responses++
    this.congestion.recv()

    const res: DhtResponse = {
      tid: m.tid,
      from: { id: validateId(m.id, host, port), host, port },
      to: m.to,
      token: copy(m.token),
      closerNodes: m.closerNodes,
      error: m.error,
      value: copy(m.value),
      rtt: Date.now() - entry.timestamp,
      socket
    }
    this.handlers.onresponse(res, external)
    entry.resolve(res)
  }

  async destroy (): Promise<void> {
    if (this.destroying !== null) return this.destroying
    this.destroying = this.teardown()
    return this.destroying
  }

  private async teardown (): Promise<void> {
    for (const entry of [...this.inflight.values()]) this.finish(entry, HyperfsError.REQUEST_DESTROYED())
    this.pending.length = 0
    if (this.binding !== null) {
      try { await this.binding } catch (err) { safetyCatch(err) }
    }
    await this.closeSockets()
  }

  private async closeSockets (): Promise<void> {
    if (this.drainTimer !== null) clearInterval(this.drainTimer)
    this.drainTimer = null
    const closing: Array<Promise<void>> = []
    if (this.serverSocket !== null) closing.push(this.serverSocket.close())
    if (this.clientSocket !== null) closing.push(this.clientSocket.close())
    await Promise.allSettled(closing)
  }
}

// Sends per 750 ms slot, over the last four slots: bounds our burst rate
// without tracking peers.
class CongestionWindow {
  private slot = 0
  private total = 0
  private readonly window = [0, 0, 0, 0]

  constructor (private readonly max: number) {}

  isFull (): boolean {
    return this.total >= 2 * this.max || this.window[this.slot] >= this.max
  }

  send (): void {
    this.total++
    this.window[this.slot]++
  }

  // an answered request frees room in the current slot
  recv (): void {
    if (this.window[this.slot] > 0) {
      this.window[this.slot]--
      this.total--
    }
  }

  drain (): void {
    this.slot = (this.slot + 1) & 3
    this.total -= this.window[this.slot]
    this.window[this.slot] = 0
  }
}

function validateId (id: Uint8Array | null, host: string, port: number): Buffer | null {
  if (id === null) return null
  const expected = nodeId(host, port)
  return equalBytes(expected, id) ? expected : null
}

// datagrams are views into udx's shared receive buffer; keep only copies
function copy (b: Uint8Array | null): Buffer | null {
  return b === null ? null : Buffer.from(b)
}
