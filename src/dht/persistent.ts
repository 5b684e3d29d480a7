// The storing side of hyperdht (docs/wire.md §8.2): FIND_PEER, LOOKUP, ANNOUNCE and
// UNANNOUNCE, served only by persistent nodes (the owner checks).
//   signable = NS.ANNOUNCE (or NS.UNANNOUNCE) ‖ H(target ‖ our id ‖ token ‖ encode(peer) ‖ refresh?)
// The token is the one we issued to the announcer in an earlier reply; io has
// already verified it. An announce for target H(pk) is a server announcing
// itself: we become one of its relays and keep a forward for PEER_HANDSHAKE.
// Any other target is a topic: the record goes into the bounded store, newest
// first in LOOKUP replies (at most 20 per reply). Bad values and signatures
// are dropped without an answer and counted.
import { encode, type IPv4Address } from '../codec/index.js'
import { announceMessage, lookupReplyOut, peerRecord, tryDecode, type AnnounceMessage } from '../codec/hyperdht-messages.js'
import { hash, verify, sign, type KeyPair } from '../crypto/index.js'
import type { IncomingRequest } from './io.js'
import { NS } from './hyperdht-constants.js'
import { RecordStore, type RecordStoreOptions } from './record-store.js'
import { Router, hex } from './router.js'

const MAX_BUMP_DRIFT = 60_000
const MAX_RELAY_ADDRESSES = 3
// an honest announce is ~100 bytes; 3 relays and a refresh stay well under this
const MAX_ANNOUNCE_BYTES = 1024
const LOOKUP_LIMIT = 20

export interface PersistentStats {
  announces: number
  unannounces: number
  lookups: number
  dropped: { badAnnounce: number, badSignature: number, oversized: number }
}

export class Persistent {
  readonly records: RecordStore
  readonly stats: PersistentStats = { announces: 0, unannounces: 0, lookups: 0, dropped: { badAnnounce: 0, badSignature: 0, oversized: 0 } }
  private readonly bumps = new Map<string, number>()
  private readonly router: Router
  private readonly id: () => Uint8Array | null

  constructor (router: Router, id: () => Uint8Array | null, opts: RecordStoreOptions = {}) {
    this.router = router
    this.id = id
    this.records = new RecordStore(opts)
  }

  onfindpeer (req: IncomingRequest): void {
    if (req.target === null) return
    const f = this.router.get(hex(req.target))
    req.reply(f !== null ? f.record : null)
  }

  onlookup (req: IncomingRequest): void {
    if (req.target === null) return
    this.stats.lookups++
    const k = hex(req.target)
    const records: Uint8Array[] = this.records.get(k, LOOKUP_LIMIT)
    const f = this.router.get(k)
    if (f !== null && records.length < LOOKUP_LIMIT) records.push(f.record)
    req.reply(records.length > 0 ? encode(lookupReplyOut, { records, bump: this.bumps.get(k) ?? 0 }) : null)
  }

  onannounce (req: IncomingRequest): void {
    const id = this.id()
    if (req.target === null || req.token === null || id === null) return
    const ann = this.decode(req)
    if (ann === null) return
    const { peer, signature } = ann
    // refresh-only announces (no peer) are not used by hyperswarm; we do not keep refresh state
    if (peer === null) return
    if (signature === null || !verify(signable(req.target, req.token, id, ann, NS.ANNOUNCE), signature, peer.publicKey)) {
      this.stats.dropped.badSignature++
      return
    }
    this.stats.announces++
    if (peer.relayAddresses.length > MAX_RELAY_ADDRESSES) peer.relayAddresses = peer.relayAddresses.slice(0, MAX_RELAY_ADDRESSES)
    const k = hex(req.target)
    const record = encode(peerRecord, peer)
    if (hash(peer.publicKey).equals(req.target)) {
      const existing = this.router.get(k)
      // never let an announce overwrite a server listening on this node
      if (existing === null || existing.server === null) this.router.set(k, { relay: { host: req.from.host, port: req.from.port }, record, server: null })
      this.records.remove(k, peer.publicKey)
    } else {
      const bump = ann.bump
      if (bump > (this.bumps.get(k) ?? 0) && bump <= Date.now() + MAX_BUMP_DRIFT && this.bumps.size < this.records.maxSize) this.bumps.set(k, bump)
      this.records.add(k, peer.publicKey, record)
    }
    req.reply(null, { token: false, closerNodes: false })
  }

  onunannounce (req: IncomingRequest): void {
    const id = this.id()
    if (req.target === null || req.token === null || id === null) return
    const ann = this.decode(req)
    if (ann === null || ann.peer === null || ann.signature === null) return
    if (!verify(signable(req.target, req.token, id, ann, NS.UNANNOUNCE), ann.signature, ann.peer.publicKey)) {
      this.stats.dropped.badSignature++
      return
    }
    this.stats.unannounces++
    this.unannounce(req.target, ann.peer.publicKey)
    req.reply(null, { token: false, closerNodes: false })
  }

  unannounce (target: Uint8Array, publicKey: Uint8Array): void {
    const k = hex(target)
    const f = this.router.get(k)
    if (hash(publicKey).equals(target) && f !== null && f.server === null) this.router.delete(k)
    this.records.remove(k, publicKey)
  }

  destroy (): void {
    this.records.clear()
    this.bumps.clear()
  }

  private decode (req: IncomingRequest): AnnounceMessage | null {
    if (req.value !== null && req.value.byteLength > MAX_ANNOUNCE_BYTES) {
      this.stats.dropped.oversized++
      return null
    }
    const ann = tryDecode(announceMessage, req.value)
    if (ann === null) this.stats.dropped.badAnnounce++
    return ann
  }
}

export function signable (target: Uint8Array, token: Uint8Array, id: Uint8Array, ann: { peer: { publicKey: Uint8Array, relayAddresses: IPv4Address[] } | null, refresh?: Uint8Array | null }, ns: Buffer): Buffer {
  const out = Buffer.allocUnsafe(64)
  ns.copy(out, 0)
  hash([target, id, token, encode(peerRecord, ann.peer ?? { publicKey: Buffer.alloc(32), relayAddresses: [] }), ann.refresh ?? Buffer.alloc(0)], out.subarray(32))
  return out
}

export function signAnnounce (target: Uint8Array, token: Uint8Array, id: Uint8Array, peer: { publicKey: Uint8Array, relayAddresses: IPv4Address[] }, keyPair: KeyPair, ns: Buffer = NS.ANNOUNCE): Buffer {
  return sign(signable(target, token, id, { peer }, ns), keyPair.secretKey)
}
