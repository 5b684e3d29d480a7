// What replication needs from the transport, as types only: a protomux-style
// multiplexer over a Noise stream. replication/ never imports net/; the caller
// (Hypercore#replicate, the store, the swarm) hands in an object of this shape.
import type { Codec } from '../codec/index.js'

export interface WireMessage<T = any> {
  send (value: T): boolean
}

export interface WireChannel {
  readonly messages: WireMessage[]
  readonly opened: boolean
  readonly closed: boolean
  open (handshake: unknown): void
  close (): void
  cork (): void
  uncork (): void
}

export interface WireChannelOptions {
  protocol: string
  id: Uint8Array
  aliases?: string[]
  handshake: Codec<any>
  messages: Array<{ encoding: Codec<any>, onmessage: (m: any, ch: any) => unknown }>
  onopen: (remoteHandshake: any) => unknown
  onclose: () => unknown
}

export interface SecureStreamLike {
  readonly isInitiator: boolean
  readonly handshakeHash: Buffer | null
  readonly remotePublicKey: Buffer | null
  destroyed: boolean
  destroy (err?: Error): void
}

export interface MuxLike {
  readonly stream: SecureStreamLike
  createChannel (opts: WireChannelOptions): WireChannel | null
  pair (target: { protocol: string, id?: Uint8Array | null }, handler: (id: Uint8Array | null) => unknown): void
  unpair (target: { protocol: string, id?: Uint8Array | null }): void
  handlerFor (target: { protocol: string, id?: Uint8Array | null }): ((id: Uint8Array | null) => unknown) | null
  cork (): void
  uncork (): void
}
