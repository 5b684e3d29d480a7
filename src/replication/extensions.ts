// Replication extensions (docs/wire.md §6, message 9): named side channels on
// a core's `hypercore/alpha` channel, as Hypercore 11's registerExtension has
// them. The wire message is `string name ‖ raw message`, where an empty name
// means the name of the last extension message sent in that direction (each
// Peer keeps its own last names). The message bytes are the handler's
// encoding of the value; the default is compact-encoding `buffer` (uint
// length ‖ bytes), so a plain Buffer travels length-prefixed inside the raw
// part, as it does between real peers.
//
// The registry is the core's (one per Replicator): a name registered once is
// heard from every peer, those connected now and those that come later. A
// message for a name nobody registered is dropped, as is one whose value does
// not decode: an extension is optional, so a peer's odd message costs it
// nothing but that message.
import { encode, decode, type Codec } from '../codec/state.js'
import { buffer } from '../codec/primitives.js'
import { DecodeError } from '../codec/decode-error.js'
import { safetyCatch } from '../errors.js'
import type { Peer } from './peer.js'

export interface ExtensionHandlers<T = Buffer> {
  encoding?: Codec<T>
  onmessage?: (message: T, peer: Peer) => void
}

export interface Extension<T = Buffer> {
  readonly name: string
  send (message: T, peer: Peer): void
  broadcast (message: T): void
  destroy (): void
}

interface Registered {
  name: string
  encoding: Codec<any>
  handlers: ExtensionHandlers<any>
  ext: Extension<any>
}

export class Extensions {
  private byName = new Map<string, Registered>()
  private peers: () => readonly Peer[]

  constructor (peers: () => readonly Peer[]) {
    this.peers = peers
  }

  // Registering a name again replaces its handlers (and encoding), as Hypercore
  // does; the extension object handed out first stays valid.
  register<T = Buffer> (name: string, handlers: ExtensionHandlers<T> = {}): Extension<T> {
    const existing = this.byName.get(name)
    if (existing) {
      existing.handlers = handlers
      existing.encoding = handlers.encoding ?? buffer
      return existing.ext
    }
    const reg: Registered = { name, encoding: handlers.encoding ?? buffer, handlers, ext: null as unknown as Extension<T> }
    reg.ext = {
      name,
      send: (message: T, peer: Peer) => { peer.sendExtension(name, encode(reg.encoding, message)) },
      broadcast: (message: T) => {
        const bytes = encode(reg.encoding, message)
        for (const peer of this.peers()) peer.sendExtension(name, bytes)
      },
      destroy: () => { if (this.byName.get(name) === reg) this.byName.delete(name) }
    }
    this.byName.set(name, reg)
    return reg.ext
  }

  has (name: string): boolean {
    return this.byName.has(name)
  }

  // A message (already resolved to its name by the peer) for an extension.
  onmessage (name: string, bytes: Buffer, peer: Peer): void {
    const reg = this.byName.get(name)
    if (!reg || !reg.handlers.onmessage) return
    let value: unknown
    try {
      // trailing bytes are tolerated, as Hypercore's decoder does
      value = decode(reg.encoding, bytes, true)
    } catch (err) {
      if (err instanceof DecodeError) return
      throw err
    }
    try {
      reg.handlers.onmessage(value, peer)
    } catch (err) {
      safetyCatch(err) // a handler's failure is not the peer's fault: the connection stays
    }
  }
}
