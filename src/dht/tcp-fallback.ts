// TCP fallback for hyperfs-to-hyperfs connections when no UDX path works.
// The Noise IK handshake relayed through the DHT has already authenticated
// both keys and agreed tx/rx/hash, so TCP carries no second handshake: the
// client opens a socket to the server's advertised TCP port and starts the
// secret-stream from the IK result. Its first frame is the one every hyperdht
// stream starts with (docs/wire.md §5.3, §10 trap 8):
//   uint24 56 ‖ id = H[hash](NS_INITIATOR) (32) ‖ secretstream header (24)
// The server reads that id to find which handshake the socket belongs to.
// The id is no secret (the hash covers public transcript bytes), but a socket
// that claims someone else's id gets nowhere: every later frame must decrypt
// under keys only the two peers hold, and a stream that fails is destroyed.
// Owns: the server's TCP listener, its unclaimed sockets and the sessions
// waiting for a socket.
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { IPv4Address } from '../codec/index.js'
import { HyperfsError, isHyperfsError } from '../errors.js'
import { SecretStream, type HandshakeResult } from '../net/secret-stream.js'

// the client gives UDX this long to open before it dials TCP; the server keeps
// a session claimable for longer than any client waits in total
export const SESSION_TTL = 30_000
const CLAIM_TIMEOUT = 10_000
const DIAL_TIMEOUT = 5_000
const MAX_SESSIONS = 1024
const MAX_CANDIDATES = 4
const PREFIX = 3 + 32
const ID_FRAME_LENGTH = 32 + 24

interface Session {
  handshake: HandshakeResult
  // the UDX stream the server already emitted for this handshake, if any
  udx: () => SecretStream | null
  timer: NodeJS.Timeout
}

export interface TcpListenerOptions {
  host: string
  // tried first; any free port when it is taken
  port: number
  keepAlive: number
  onconnection: (stream: SecretStream, replaces: SecretStream | null) => void
}

export class TcpListener {
  port = 0
  private readonly opts: TcpListenerOptions
  private readonly server: net.Server
  private readonly sessions = new Map<string, Session>()
  private readonly unclaimed = new Set<net.Socket>()
  private closed = false

  constructor (opts: TcpListenerOptions) {
    this.opts = opts
    this.server = net.createServer((socket) => this.onsocket(socket))
    this.server.on('error', () => {})
  }

  async listen (): Promise<number> {
    const tryPort = (port: number): Promise<void> => new Promise((resolve, reject) => {
      const onerror = (err: Error): void => reject(err)
      this.server.once('error', onerror)
      this.server.listen(port, this.opts.host, () => {
        this.server.removeListener('error', onerror)
        resolve()
      })
    })
    try {
      await tryPort(this.opts.port)
    } catch {
      await tryPort(0)
    }
    this.port = (this.server.address() as net.AddressInfo).port
    return this.port
  }

  // A handshake finished: its client may come over TCP within SESSION_TTL.
  expect (handshake: HandshakeResult, udx: () => SecretStream | null): boolean {
    if (this.closed || this.sessions.size >= MAX_SESSIONS) return false
    const key = SecretStream.id(handshake.hash, true).toString('hex')
    if (this.sessions.has(key)) return true
    const timer = setTimeout(() => this.sessions.delete(key), SESSION_TTL)
    timer.unref()
    this.sessions.set(key, { handshake, udx, timer })
    return true
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const s of this.sessions.values()) clearTimeout(s.timer)
    this.sessions.clear()
    for (const socket of this.unclaimed) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private onsocket (socket: net.Socket): void {
    if (this.closed) { socket.destroy(); return }
    this.unclaimed.add(socket)
    socket.on('error', () => {})
    const chunks: Buffer[] = []
    let have = 0
    const timer = setTimeout(() => socket.destroy(), CLAIM_TIMEOUT)
    const done = (): void => {
      clearTimeout(timer)
      this.unclaimed.delete(socket)
      socket.removeListener('data', ondata)
      socket.removeListener('close', done)
    }
    const ondata = (chunk: Buffer): void => {
      chunks.push(chunk)
      have += chunk.byteLength
      if (have < PREFIX) return
      done()
      const head = Buffer.concat(chunks)
      const session = this.claim(head)
      if (session === null) { socket.destroy(); return }
      socket.pause()
      socket.unshift(head)
      this.start(socket, session)
    }
    socket.on('data', ondata)
    socket.once('close', done)
  }

  // the first frame must be the 56-byte id frame of a handshake we expect
  private claim (head: Buffer): Session | null {
    if (head.readUIntLE(0, 3) !== ID_FRAME_LENGTH) return null
    const key = head.subarray(3, PREFIX).toString('hex')
    const session = this.sessions.get(key)
    if (session === undefined) return null
    this.sessions.delete(key)
    clearTimeout(session.timer)
    return session
  }

  private start (socket: net.Socket, session: Session): void {
    const stream = new SecretStream(false, socket as Duplex, { handshake: session.handshake, keepAlive: this.opts.keepAlive })
    stream.on('error', () => {})
    socket.resume()
    this.opts.onconnection(stream, session.udx())
  }
}

// Dial the server's TCP port on each address it may be reached at, one at a
// time, and start the secret-stream from the IK result once a socket connects.
export async function dialTcp (hosts: string[], port: number, handshake: HandshakeResult, opts: { keepAlive: number, signal?: AbortSignal }): Promise<SecretStream> {
  const tried = new Set<string>()
  let last: Error = HyperfsError.PEER_CONNECTION_FAILED('no tcp address')
  for (const host of hosts) {
    if (tried.has(host)) continue
    if (tried.size >= MAX_CANDIDATES) break
    tried.add(host)
    if (opts.signal?.aborted === true) throw HyperfsError.REQUEST_CANCELLED()
    try {
      const socket = await connectSocket({ host, port }, opts.signal)
      return new SecretStream(true, socket as Duplex, { handshake, keepAlive: opts.keepAlive })
    } catch (err) {
      if (isHyperfsError(err, 'REQUEST_CANCELLED')) throw err
      last = err as Error
    }
  }
  throw last
}

function connectSocket (addr: IPv4Address, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(addr.port, addr.host)
    const finish = (err: Error | null): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onabort)
      socket.removeListener('error', finish)
      socket.removeListener('connect', onconnect)
      if (err === null) { resolve(socket); return }
      socket.on('error', () => {})
      socket.destroy()
      reject(err)
    }
    const onconnect = (): void => finish(null)
    const onabort = (): void => finish(HyperfsError.REQUEST_CANCELLED())
    const timer = setTimeout(() => finish(HyperfsError.REQUEST_TIMEOUT('tcp connect to ' + addr.host + ':' + addr.port)), DIAL_TIMEOUT)
    socket.once('connect', onconnect)
    socket.once('error', finish)
    signal?.addEventListener('abort', onabort, { once: true })
  })
}
