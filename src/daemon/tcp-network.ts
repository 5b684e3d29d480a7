// Peers by address, until the swarm does discovery: TCP listeners whose every
// accepted socket replicates the whole store (responder), and dialled peers
// (initiator) that are redialled whenever the connection drops. The backoff
// of a configured peer stays within a few seconds, so reads resume soon after
// it comes back, and redialNow() skips the wait when a read finds no peer.
// A peer whose data fails verification is backed off from for longer, and
// longer each time in a row, and this is logged; one that dialled us is
// refused at accept for as long (peer-penalties.ts, by remote address).
// Replication itself belongs to the Store; this file only owns sockets and
// timers.
import { createServer, connect, type Server, type Socket } from 'node:net'
import type { EventEmitter } from 'node:events'
import { type Address, formatAddress } from './daemon-config.js'
import type { Logger } from './logger.js'
import { HyperfsError } from '../errors.js'
import { isPeerFault } from '../replication/replicator.js'
import { PeerPenalties, backoff } from './peer-penalties.js'

export type Replicate = (socket: Socket, isInitiator: boolean) => void

const INBOUND = 'tcp-in ' // penalty ids of sockets that dialled us, by remote address

const DIAL_TIMEOUT = 5000 // SYNs unanswered this long: start over (a link back up answers the next one)
const BACKOFF_MIN = 500
const BACKOFF_MAX = 2000 // a configured peer is worth a dial every few seconds

interface Dialled {
  address: Address
  socket: Socket | null
  connected: boolean
  attempts: number
  faults: number // connections in a row that ended on bad data from the peer
  fault: Error | null // why the current connection is ending, if the peer is to blame
  timer: NodeJS.Timeout | null
  first: Promise<void> // settles after the first attempt, whatever its outcome
}

export interface TcpNetworkStatus {
  listening: string[]
  peers: Array<{ address: string, connected: boolean, attempts: number, faults: number }>
  connections: number
  refused: number // accepted sockets closed at once: their address sent bad data lately
  penalised: string[] // addresses that dialled us and are shut out now
}

export class TcpNetwork {
  private replicate: Replicate
  private logger: Logger
  private servers = new Map<string, { server: Server, bound: Address }>()
  private dialled = new Map<string, Dialled>()
  private sockets = new Set<Socket>()
  private closed = false
  private readonly penalties: PeerPenalties
  private refused = 0

  constructor (services: { replicate: Replicate, logger: Logger, penalties?: PeerPenalties }) {
    this.replicate = services.replicate
    this.logger = services.logger
    this.penalties = services.penalties ?? new PeerPenalties()
  }

  get connections (): number {
    return this.sockets.size
  }

  // Resolves with the bound address (port 0 picks a free one). Listening twice
  // on the same address is a no-op.
  async listen (address: Address): Promise<Address> {
    const id = formatAddress(address)
    const have = this.servers.get(id) ?? [...this.servers.values()].find((s) => formatAddress(s.bound) === id)
    if (have) return have.bound
    const server = createServer((socket) => this.accept(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(HyperfsError.from('LISTEN_FAILED', `cannot listen on ${id}: ${err.code ?? err.message}`, err))
      })
      server.listen(address.port, address.host, () => resolve())
    })
    server.on('error', (err) => this.logger.warn(`listener ${id}: ${err.message}`))
    const a = server.address()
    const bound = a && typeof a === 'object' ? { host: a.address, port: a.port } : address
    this.servers.set(id, { server, bound })
    this.logger.info(`listening on ${formatAddress(bound)}`)
    return bound
  }

  // Keeps a connection to `address` up. Resolves once the first attempt has
  // connected or failed, so callers can wait for configured peers before
  // they decide a drive is nowhere to be found.
  addPeer (address: Address): Promise<void> {
    const id = formatAddress(address)
    let d = this.dialled.get(id)
    if (!d) {
      let settle!: () => void
      const first = new Promise<void>((resolve) => { settle = resolve })
      d = { address, socket: null, connected: false, attempts: 0, faults: 0, fault: null, timer: null, first }
      this.dialled.set(id, d)
      this.dial(d, settle)
    }
    return d.first
  }

  // every configured peer has been tried once
  async ready (): Promise<void> {
    await Promise.all([...this.dialled.values()].map((d) => d.first))
  }

  status (): TcpNetworkStatus {
    return {
      listening: [...this.servers.values()].map((s) => formatAddress(s.bound)),
      peers: [...this.dialled.values()].map((d) => ({ address: formatAddress(d.address), connected: d.connected, attempts: d.attempts, faults: d.faults })),
      connections: this.sockets.size,
      refused: this.refused,
      penalised: this.penalties.active().filter((id) => id.startsWith(INBOUND))
    }
  }

  // A read waits on a core with no peer: every configured peer that is down
  // is dialled at once instead of at the end of its backoff, except one that
  // was sending bad data.
  redialNow (): void {
    if (this.closed) return
    for (const d of this.dialled.values()) {
      if (d.timer === null || d.faults > 0) continue
      clearTimeout(d.timer)
      d.timer = null
      this.dial(d, () => {})
    }
  }

  private dial (d: Dialled, settle: () => void): void {
    if (this.closed) { settle(); return }
    const id = formatAddress(d.address)
    d.attempts++
    const socket = connect({ host: d.address.host, port: d.address.port })
    d.socket = socket
    socket.setTimeout(DIAL_TIMEOUT, () => socket.destroy(HyperfsError.REQUEST_TIMEOUT(`no answer from ${id}`)))
    socket.once('connect', () => {
      socket.setTimeout(0)
      d.connected = true
      d.attempts = 0
      this.adopt(socket, true, `to ${id}`, (err) => { d.fault = err })
      settle()
    })
    socket.on('error', (err) => {
      if (!d.connected) this.logger.warn(`peer ${id}: ${(err as NodeJS.ErrnoException).code ?? err.message}`)
    })
    socket.once('close', () => {
      const wasConnected = d.connected
      d.connected = false
      d.socket = null
      settle()
      if (this.closed) return
      const fault = d.fault
      d.fault = null
      let delay: number
      if (fault) {
        d.faults++
        delay = backoff(d.faults)
        this.logger.warn(`peer ${id} sent data that does not verify (${fault.message}); ${d.faults} time${d.faults === 1 ? '' : 's'} in a row, next dial in ${Math.round(delay / 1000)} s`)
      } else {
        if (wasConnected) d.faults = 0
        delay = Math.min(BACKOFF_MAX, BACKOFF_MIN * 2 ** Math.min(d.attempts, 10))
      }
      const jittered = Math.round(delay * (0.75 + Math.random() / 2))
      d.timer = setTimeout(() => { d.timer = null; this.dial(d, () => {}) }, jittered)
    })
  }

  // A socket that dialled us. Its address is shut out for a while after it
  // sent bad data: closed before a byte of the handshake, and logged once
  // per shut-out so a peer that keeps dialling cannot flood the log.
  private accept (socket: Socket): void {
    const id = INBOUND + (socket.remoteAddress ?? '?')
    if (this.penalties.refuses(id)) {
      this.refused++
      socket.destroy()
      return
    }
    this.adopt(socket, false, `from ${socket.remoteAddress}:${socket.remotePort}`, (err) => {
      const p = this.penalties.record(id)
      this.logger.warn(`connection from ${socket.remoteAddress}:${socket.remotePort} sent data that does not verify (${err.message}); ${p.faults} time${p.faults === 1 ? '' : 's'} in a row, ${socket.remoteAddress} refused for ${Math.round(backoff(p.faults) / 1000)} s`)
    })
  }

  private adopt (socket: Socket, isInitiator: boolean, what: string, onfault: (err: Error) => void): void {
    if (this.closed) { socket.destroy(); return }
    this.sockets.add(socket)
    socket.setNoDelay(true)
    socket.on('error', () => {}) // 'close' follows; the dialler logs its own failures
    socket.once('close', () => {
      this.sockets.delete(socket)
      this.logger.info(`connection ${what} closed`)
    })
    this.logger.info(`connection ${what}`)
    try {
      this.replicate(socket, isInitiator)
    } catch (err) {
      this.logger.error(`replicate ${what}: ${(err as Error).message}`)
      socket.destroy()
      return
    }
    // the encrypted stream on the socket (protocol-stream.ts leaves it there)
    // ends with the peer's fault when its data does not verify
    const secret = (socket as Socket & { noiseStream?: EventEmitter }).noiseStream
    secret?.once('error', (err: Error) => {
      if (isPeerFault(err)) onfault(err)
    })
  }

  async close (): Promise<void> {
    this.closed = true
    for (const d of this.dialled.values()) if (d.timer) clearTimeout(d.timer)
    for (const s of this.sockets) s.destroy()
    for (const d of this.dialled.values()) d.socket?.destroy()
    await Promise.all([...this.servers.values()].map(({ server }) => new Promise<void>((resolve) => server.close(() => resolve()))))
    this.servers.clear()
  }
}
