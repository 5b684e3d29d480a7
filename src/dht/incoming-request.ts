// A request we received (docs/wire.md §7.1) and the ways to answer it. A reply goes
// out on the socket the request came in on, echoes its tid, and names the
// requester's address as we saw it in `to` (that is how peers learn their
// public address). reply() issues a token H[secret](requester host) unless
// told not to; error() does not. Both add our closest nodes to the target
// when the request had one. relay() forwards the request with the same tid to
// another node, which hyperdht's handshake and holepunch routing need.
import { encode, type IPv4Address } from '../codec/index.js'
import { requestMessage, responseMessage, type RequestMessage } from '../codec/dht-messages.js'
import type { Tokens } from './tokens.js'

export interface Peer {
  // verified id (H(host ‖ port)) or null if the peer sent none or a wrong one
  id: Buffer | null
  host: string
  port: number
}

export type SocketKind = 'server' | 'client'

export interface ReplyOptions {
  token?: boolean
  closerNodes?: boolean
  to?: IPv4Address
  socket?: SocketKind
}

// what a request needs from the transport that received it
export interface ReplyTransport {
  readonly tokens: Tokens
  readonly context: { closest (target: Uint8Array): IPv4Address[] }
  idFor (socket: SocketKind): Uint8Array | null
  send (socket: SocketKind, buffer: Buffer, to: IPv4Address, ttl?: number): void
}

// A request we received; handlers answer it with reply() or error().
export class IncomingRequest implements RequestMessage {
  readonly tid: number
  readonly from: Peer
  readonly to: IPv4Address
  readonly id: Buffer | null
  readonly token: Buffer | null
  readonly internal: boolean
  readonly command: number
  readonly target: Buffer | null
  readonly value: Buffer | null
  readonly socket: SocketKind

  private readonly io: ReplyTransport

  constructor (io: ReplyTransport, m: RequestMessage, from: Peer, socket: SocketKind) {
    this.io = io
    this.tid = m.tid
    this.from = from
    this.to = m.to
    this.id = from.id
    this.token = copy(m.token)
    this.internal = m.internal
    this.command = m.command
    this.target = copy(m.target)
    this.value = copy(m.value)
    this.socket = socket
  }

  // Success reply. By default it carries a token for the requester (needed
  // before a write such as ANNOUNCE) and, if the request had a target, our
  // closest nodes to it.
  reply (value: Uint8Array | null, opts: ReplyOptions = {}): void {
    this.sendReply(0, value, opts.token !== false, opts.closerNodes !== false, opts)
  }

  error (code: number, opts: ReplyOptions = {}): void {
    this.sendReply(code, null, opts.token === true, opts.closerNodes !== false, opts)
  }

  // Forwards this request to another node with the same tid, command and
  // target, no token and a new value (hyperdht relaying, docs/wire.md §8.3).
  relay (value: Uint8Array | null, to: IPv4Address, opts: { socket?: SocketKind } = {}): void {
    const socket = opts.socket ?? this.socket
    this.io.send(socket, encode(requestMessage, {
      tid: this.tid,
      to,
      id: this.io.idFor(socket),
      token: null,
      internal: this.internal,
      command: this.command,
      target: this.target,
      value
    }), to)
  }

  sendReply (error: number, value: Uint8Array | null, token: boolean, closerNodes: boolean, opts: ReplyOptions = {}): void {
    const socket = opts.socket ?? this.socket
    const to = opts.to ?? this.from
    const closer = closerNodes && this.target !== null ? this.io.context.closest(this.target) : null
    this.io.send(socket, encode(responseMessage, {
      tid: this.tid,
      to: { host: to.host, port: to.port },
      id: this.io.idFor(socket),
      token: token ? this.io.tokens.create(to.host) : null,
      closerNodes: closer,
      error,
      value
    }), to)
  }
}

function copy (b: Uint8Array | null): Buffer | null {
  return b === null ? null : Buffer.from(b)
}
