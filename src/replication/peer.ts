// One peer for one core: the `hypercore/alpha` channel (protocol name, channel
// id = discovery key, handshake {seeks, capability}). The capability is
// H[handshakeHash](REPLICATE_{sender role} ‖ key); a wrong one ends the whole
// stream, so a peer that knows only the discovery key gets nothing.
// Messages, in type order: sync, request, cancel, data, noData, want, unwant,
// bitfield, range, extension. The Peer owns the per-connection state (what the
// remote has, our requests in flight, its requests to us); the Replicator owns
// what the core wants and picks peers.
import {
  handshake as handshakeCodec, syncMessage, requestMessage, cancelMessage, dataMessage, noDataMessage,
  wantMessage, unwantMessage, bitfieldMessage, rangeMessage, extensionMessage, HYPERCORE_PROTOCOL,
  type Sync, type Request, type Data, type NoData, type Want, type Bitfield as BitfieldMsg, type Range, type Cancel,
  type Extension
} from '../codec/index.js'
import { replicationCapability } from '../crypto/index.js'
import { Bitfield } from '../core/bitfield.js'
import { HyperfsError, isHyperfsError } from '../errors.js'
import type { Hypercore } from '../core/hypercore.js'
import type { Proof } from '../core/merkle-tree.js'
import type { MuxLike, WireChannel } from './types.js'
import type { Replicator } from './replicator.js'
import { ProofChain, type Chained } from './proof-chain.js'
import { ownCopy } from '../own-copy.js'

export const WANT_BATCH = 2 ** 21 // compat-mode want size (docs/wire.md §6.3)
const NOT_AVAILABLE = 1
const INVALID_REQUEST = 2
const MIN_WINDOW = 16
const MAX_WINDOW = 512
const MAX_REMOTE_REQUESTS = 4096
const RTT_STEP = 50 // ms
const MAX_RANGE = 1 << 24 // blocks one range or bitfield message may mark
// Block requests that go out corked into one mux batch frame at most: one
// frame (and one encryption) for a dispatch's requests instead of one each,
// and the remote's mux answers a batch as a batch. Small enough that a
// batch of answers to large blocks does not hold the first back for long.
export const REQUEST_BATCH = 128
// Bytes a received block may keep alive besides its own: one that sits in a
// frame carrying more (a batch of answers) is copied out, so that whoever
// keeps the block does not keep the whole frame.
const MAX_FRAME_SLACK = 4096
const MAX_REMOTE_PAGES = 4096 // 16 MiB of remote bitfield pages at most

export interface OutRequest extends Chained {
  id: number
  seq: number // order sent on this peer (set when tracked)
  peer: Peer
  block: number | null
  upgrade: boolean
  seek: number | null
  sent: number
  timer: NodeJS.Timeout | null
}

enum T { SYNC, REQUEST, CANCEL, DATA, NO_DATA, WANT, UNWANT, BITFIELD, RANGE, EXTENSION }

export class Peer {
  readonly replicator: Replicator
  readonly core: Hypercore
  readonly mux: MuxLike
  channel: WireChannel | null = null

  remoteOpened = false
  remoteSynced = false
  remoteFork = 0
  remoteLength = 0
  remoteCanUpgrade = false
  remoteHasManifest = false
  lengthAcked = 0
  remoteContiguous = 0
  remoteBitfield = new Bitfield({ maxPages: MAX_REMOTE_PAGES })
  private sentCanUpgrade = false

  inflight = new Map<number, OutRequest>()
  private freeIds: number[] = []
  private cooling: Array<{ id: number, after: number }> = []
  private sentSeq = 0
  private nextId = 1
  private remoteRequests = new Map<number, Request>()
  // block requests of this turn, sent together (flushOutbox)
  private outbox: Array<{ req: OutRequest, index: number, priority: number, shaky: boolean }> = []
  private chain: ProofChain<OutRequest>
  private wantsSent = new Set<number>()
  // Requests in flight at most: grown by one per answer and halved on a
  // timeout, and never below what the round trip needs: a peer RTT_STEP ms
  // away gets MIN_WINDOW more per step, so a far peer is not starved while
  // the window grows (the scaling hypercore applies to its inflight range).
  private aimd = 32
  get window (): number {
    const byRtt = MIN_WINDOW * Math.max(1, this.rtt / RTT_STEP)
    return Math.min(MAX_WINDOW, Math.max(this.aimd, Math.round(byRtt)))
  }

  rtt = 0 // smoothed round trip, ms
  destroyed = false
  // the extension names last sent and received: an empty name on the wire repeats them (docs/wire.md §6)
  private lastExtensionSent = ''
  private lastExtensionRecv = ''

  constructor (replicator: Replicator, mux: MuxLike) {
    this.replicator = replicator
    this.core = replicator.core
    this.mux = mux
    this.chain = new ProofChain(this.core)
  }

  open (): boolean {
    const core = this.core
    const m = (encoding: any, onmessage: (msg: any) => unknown) => ({ encoding, onmessage: (msg: any) => this.guard(onmessage.call(this, msg)) })
    const ch = this.mux.createChannel({
      protocol: HYPERCORE_PROTOCOL,
      aliases: ['hypercore'],
      id: core.discoveryKey!,
      handshake: handshakeCodec,
      messages: [
        m(syncMessage, this.onsync),
        m(requestMessage, this.onrequest),
        m(cancelMessage, this.oncancel),
        m(dataMessage, this.ondata),
        m(noDataMessage, this.onnodata),
        m(wantMessage, this.onwant),
        m(unwantMessage, () => {}),
        m(bitfieldMessage, this.onbitfield),
        m(rangeMessage, this.onrange),
        m(extensionMessage, this.onextension)
      ],
      onopen: (hs: any) => this.guard(this.onopen(hs)),
      onclose: () => this.onclose()
    })
    if (!ch) return false
    this.channel = ch
    const stream = this.mux.stream
    ch.open({ seeks: true, capability: replicationCapability(stream.isInitiator, core.key!, stream.handshakeHash!) })
    return true
  }

  // Handler errors end the connection: every error here is the remote's fault
  // (bad capability, proof, signature or message).
  private guard (p: unknown): unknown {
    if (p && typeof (p as Promise<unknown>).catch === 'function') {
      return (p as Promise<unknown>).catch((err) => this.fail(err))
    }
    return p
  }

  fail (err: Error): void {
    if (this.destroyed) return
    this.replicator.emitPeerError(this, err)
    this.mux.stream.destroy(err)
  }

  private send (type: T, value: unknown): void {
    if (this.channel && !this.channel.closed) this.channel.messages[type].send(value)
  }

  // ---- open / sync ----

  private async onopen ({ capability }: { capability: Buffer }) {
    const stream = this.mux.stream
    const expected = replicationCapability(!stream.isInitiator, this.core.key!, stream.handshakeHash!)
    if (!capability || !expected.equals(capability)) throw HyperfsError.INVALID_CAPABILITY('remote sent an invalid replication capability')
    if (this.remoteOpened) return
    this.remoteOpened = true
    this.channel!.cork()
    try {
      await this.sendSync()
      this.sendRangeIfContiguous(true)
    } finally {
      this.channel!.uncork()
    }
    this.replicator.addPeer(this)
  }

  private onclose (): void {
    this.destroyed = true
    for (const req of this.inflight.values()) if (req.timer) clearTimeout(req.timer)
    const lost = [...this.inflight.values(), ...this.chain.clear()]
    for (const req of this.inflight.values()) req.done = true
    this.inflight.clear()
    this.replicator.removePeer(this, lost)
  }

  async sendSync (): Promise<void> {
    const core = this.core
    const sameFork = core.fork === this.remoteFork
    const canUpgrade = sameFork && (this.remoteLength === 0 ? core.length > 0 : this.remoteLength < core.length && await core.upgradeable(this.remoteLength))
    this.sentCanUpgrade = canUpgrade
    this.send(T.SYNC, {
      fork: core.fork,
      length: core.length,
      remoteLength: sameFork ? this.remoteLength : 0,
      canUpgrade,
      uploading: true,
      downloading: true,
      hasManifest: core.manifest !== null,
      allowPush: false
    } satisfies Sync)
  }

  sendRangeIfContiguous (force = false): void {
    const contig = this.core.contiguousLength
    if (contig > 0 && contig === this.core.length && (force || this.remoteContiguous < contig)) {
      this.send(T.RANGE, { drop: false, start: 0, length: contig } satisfies Range)
    }
  }

  // our length grew (append or upgrade): tell the peer
  async onLocalUpdate (): Promise<void> {
    if (!this.remoteOpened || this.destroyed) return
    this.channel!.cork()
    try {
      this.sendRangeIfContiguous()
      await this.sendSync()
    } finally {
      this.channel!.uncork()
    }
  }

  // blocks we no longer hold (a range message with drop set)
  sendDrop (start: number, length: number): void {
    if (!this.remoteOpened || this.destroyed || length <= 0) return
    this.send(T.RANGE, { drop: true, start, length } satisfies Range)
  }

  // announce a single block we now hold (readers re-serve)
  sendHave (index: number): void {
    if (!this.remoteOpened || this.destroyed) return
    if (index < this.remoteContiguous || this.remoteBitfield.get(index)) return
    this.send(T.RANGE, { drop: false, start: index, length: 1 } satisfies Range)
  }

  private async onsync (msg: Sync) {
    const core = this.core
    const lengthChanged = msg.length !== this.remoteLength || msg.fork !== this.remoteFork || !this.remoteSynced
    this.remoteSynced = true
    this.remoteFork = msg.fork
    this.remoteLength = msg.length
    this.remoteCanUpgrade = msg.canUpgrade
    this.remoteHasManifest = msg.hasManifest
    this.lengthAcked = msg.fork === core.fork ? msg.remoteLength : 0
    // answer when the remote's view of us is stale, or to acknowledge a new length
    const wouldUpgrade = msg.fork === core.fork && core.length > msg.length && !this.sentCanUpgrade
    if (msg.remoteLength !== core.length || lengthChanged || wouldUpgrade) await this.sendSync()
    this.replicator.update()
  }

  // ---- our requests ----

  // requests in flight, and answers waiting for one in flight (proof-chain.ts):
  // both count against the window, so a peer that never answers the first
  // link of a chain cannot make us hold more than a window of its answers
  get pending (): number { return this.inflight.size + this.chain.held.size }

  hasBlock (index: number): boolean {
    return index < this.remoteLength && (index < this.remoteContiguous || this.remoteBitfield.get(index))
  }

  canUpgradeUs (): boolean {
    return this.remoteSynced && this.remoteFork === this.core.fork && this.remoteLength > this.core.length &&
      this.remoteCanUpgrade && this.lengthAcked === this.core.length
  }

  private newRequest (block: number | null, upgrade: boolean, seek: number | null): OutRequest {
    return { id: this.allocId(), peer: this, block, upgrade, seek, sent: Date.now(), timer: null, seq: 0, anchor: -1, dep: null, done: false, held: null }
  }

  private allocId (): number {
    return this.freeIds.pop() ?? this.nextId++
  }

  private track (req: OutRequest): void {
    req.seq = ++this.sentSeq
    this.inflight.set(req.id, req)
    const timeout = this.replicator.requestTimeout
    if (timeout > 0) {
      req.timer = setTimeout(() => this.onRequestTimeout(req), timeout)
      req.timer.unref?.()
    }
  }

  // A cancelled id cools down until an answer arrives to a request sent after
  // the cancel: the remote answers in order of processing, so by then no late
  // answer to the cancelled request can be mistaken for its successor.
  private finish (id: number, cancelled = false): OutRequest | null {
    const req = this.inflight.get(id)
    if (!req) return null
    this.inflight.delete(id)
    if (req.timer) clearTimeout(req.timer)
    if (cancelled) {
      this.cooling.push({ id, after: this.sentSeq })
    } else {
      this.freeIds.push(id)
      while (this.cooling.length > 0 && this.cooling[0].after < req.seq) this.freeIds.push(this.cooling.shift()!.id)
    }
    const rtt = Date.now() - req.sent
    this.rtt = this.rtt === 0 ? rtt : this.rtt * 0.875 + rtt * 0.125
    return req
  }

  private onRequestTimeout (req: OutRequest): void {
    if (this.inflight.get(req.id) !== req) return
    this.send(T.CANCEL, { request: req.id } satisfies Cancel)
    this.finish(req.id, true)
    this.settle(req)
    this.aimd = Math.max(MIN_WINDOW, this.aimd >> 1)
    this.replicator.onRequestFailed(this, req, true)
  }

  // ids are reused, so a request is only cancelled if it is still the one in
  // flight under its id
  cancel (req: OutRequest): void {
    if (this.inflight.get(req.id) !== req) return
    this.send(T.CANCEL, { request: req.id } satisfies Cancel)
    this.finish(req.id, true)
    this.settle(req)
  }

  // Tracked at once so the caller can record it before any answer can arrive;
  // sent once we know how many tree nodes to ask for. The requests one
  // dispatch makes are sent together (see flushOutbox). A block that failed
  // or timed out before is asked `shaky`: no other proof is made to rely on it.
  requestBlock (index: number, withUpgrade: boolean, priority: number, shaky = false): OutRequest {
    const core = this.core
    const req = this.newRequest(index, withUpgrade, null)
    this.track(req)
    if (withUpgrade) {
      this.send(T.REQUEST, {
        id: req.id,
        fork: this.remoteFork,
        block: { index, nodes: 0 },
        hash: null,
        seek: null,
        upgrade: { start: core.length, length: this.remoteLength - core.length },
        manifest: this.needsManifest(),
        priority
      } satisfies Request)
      return req
    }
    if (this.outbox.length === 0) queueMicrotask(() => this.flushOutbox())
    this.outbox.push({ req, index, priority, shaky })
    return req
  }

  // Sends the block requests queued this turn, REQUEST_BATCH to a corked
  // frame, each asking for the nodes proof-chain.ts picks. A responder
  // answers a batch once it has every answer, so a shaky request (one a
  // peer failed before) goes in a frame of its own, where it holds back no
  // other. A request cancelled or timed out meanwhile is not sent.
  private flushOutbox (): void {
    const batch = this.outbox
    this.outbox = []
    const ch = this.channel
    if (this.destroyed || !ch || ch.closed || this.core.closed) return
    const steady = batch.filter((b) => !b.shaky)
    try {
      for (let i = 0; i < steady.length; i += REQUEST_BATCH) {
        ch.cork()
        try {
          for (const b of steady.slice(i, i + REQUEST_BATCH)) this.sendBlockRequest(b.req, b.index, b.priority, false)
        } finally {
          ch.uncork()
        }
      }
      for (const b of batch) if (b.shaky) this.sendBlockRequest(b.req, b.index, b.priority, true)
    } catch (err) {
      this.fail(err as Error)
    }
  }

  private sendBlockRequest (req: OutRequest, index: number, priority: number, shaky: boolean): void {
    if (this.inflight.get(req.id) !== req) return
    this.send(T.REQUEST, {
      id: req.id,
      fork: this.remoteFork,
      block: { index, nodes: this.chain.nodes(req, index, !shaky) },
      hash: null,
      seek: null,
      upgrade: null,
      manifest: false,
      priority
    } satisfies Request)
  }

  requestUpgrade (): OutRequest {
    const core = this.core
    const req = this.newRequest(null, true, null)
    this.track(req)
    this.send(T.REQUEST, {
      id: req.id,
      fork: this.remoteFork,
      block: null,
      hash: null,
      seek: null,
      upgrade: { start: core.length, length: this.remoteLength - core.length },
      manifest: this.needsManifest(),
      priority: 0
    } satisfies Request)
    return req
  }

  // Hypercore's remote seek: a hash proof of block `index` climbing `nodes`
  // levels to a node we hold, plus the seek nodes down to the byte.
  requestHashSeek (index: number, nodes: number, bytes: number): OutRequest {
    const req = this.newRequest(null, false, bytes)
    this.track(req)
    this.send(T.REQUEST, {
      id: req.id, fork: this.remoteFork, block: null, hash: { index: 2 * index, nodes }, seek: { bytes, padding: 0 }, upgrade: null, manifest: false, priority: 1
    } satisfies Request)
    return req
  }

  // a block in [lo, hi) the remote holds, or -1
  firstBlockIn (lo: number, hi: number): number {
    hi = Math.min(hi, this.remoteLength)
    if (lo >= hi) return -1
    if (lo < this.remoteContiguous) return lo
    const i = this.remoteBitfield.firstSet(lo)
    return i !== -1 && i < hi ? i : -1
  }

  private needsManifest (): boolean {
    return this.core.manifest === null && this.remoteHasManifest
  }

  // ask what the remote has around `index` (2^21-block aligned, as compat peers expect)
  sendWant (index: number): void {
    const batch = Math.floor(index / WANT_BATCH)
    if (this.wantsSent.has(batch)) return
    this.wantsSent.add(batch)
    this.send(T.WANT, { start: batch * WANT_BATCH, length: WANT_BATCH, any: false } satisfies Want)
  }

  private async ondata (msg: Data) {
    const req = msg.request > 0 ? this.finish(msg.request) : null
    if (!req) return // unsolicited data: we do not accept pushes
    if (this.aimd < MAX_WINDOW) this.aimd++
    const value = msg.block?.value
    if (value && value.buffer.byteLength - value.byteLength > MAX_FRAME_SLACK) msg.block!.value = ownCopy(value)
    const proof: Proof = {
      fork: msg.fork,
      block: msg.block,
      hash: msg.hash,
      seek: msg.seek,
      upgrade: msg.upgrade,
      manifest: msg.manifest
    }
    await this.deliver(req, proof)
  }

  // An answer is applied once the request it depends on is settled (see proof-chain.ts).
  private async deliver (req: OutRequest, proof: Proof): Promise<void> {
    const state = this.chain.state(req)
    if (state === 'wait') { this.chain.hold(req, proof); return }
    try {
      if (state === 'lost') this.replicator.onRequestLost(req)
      else await this.replicator.onData(this, req, proof)
    } finally {
      this.settle(req)
    }
  }

  private settle (req: OutRequest): void {
    for (const d of this.chain.settle(req)) this.guard(this.deliver(d, this.chain.take(d)!))
  }

  private onnodata (msg: NoData) {
    const req = this.finish(msg.request)
    if (!req) return
    this.settle(req)
    if (req.block !== null && !this.hasBlockFor(req)) this.remoteBitfield.set(req.block, false)
    this.replicator.onRequestFailed(this, req)
  }

  private hasBlockFor (req: OutRequest): boolean {
    return req.block !== null && req.block < this.remoteContiguous
  }

  // ---- what the remote has ----

  // What a peer says it has is kept only within its claimed length and
  // MAX_RANGE blocks a message, in a page-capped bitfield: a peer cannot make
  // us allocate or loop in proportion to numbers it made up.
  private onrange ({ drop, start, length }: Range) {
    if (!drop && start === 0) {
      if (length > this.remoteContiguous) this.remoteContiguous = length
    } else if (drop) {
      if (start < this.remoteContiguous) {
        this.remoteBitfield.setRange(start + length, this.bound(start + length, this.remoteContiguous), true)
        this.remoteContiguous = start
      }
      this.remoteBitfield.setRange(start, this.bound(start, start + length), false)
    } else {
      this.remoteBitfield.setRange(start, this.bound(start, start + length), true)
    }
    if (!drop) this.replicator.update()
  }

  private bound (start: number, end: number): number {
    return Math.min(end, start + MAX_RANGE, Math.max(this.remoteLength, this.core.length))
  }

  private onbitfield ({ start, bitfield }: BitfieldMsg) {
    if (start % 32 !== 0) throw HyperfsError.PROTOCOL_ERROR('bitfield start is not a multiple of 32')
    if (start < this.remoteContiguous) this.remoteContiguous = start
    const words = Math.ceil((this.bound(start, start + bitfield.length * 32) - start) / 32)
    if (words > 0) this.remoteBitfield.setWords(start, bitfield.subarray(0, words))
    this.replicator.update()
  }

  // ---- extensions (extensions.ts) ----

  sendExtension (name: string, message: Buffer): void {
    if (this.destroyed || !this.channel || this.channel.closed) return
    this.send(T.EXTENSION, { name: name === this.lastExtensionSent ? '' : name, message } satisfies Extension)
    this.lastExtensionSent = name
  }

  private onextension (msg: Extension) {
    const name = msg.name || this.lastExtensionRecv
    this.lastExtensionRecv = name
    this.replicator.extensions.onmessage(name, Buffer.from(msg.message), this)
  }

  // ---- the remote's requests ----

  private onwant ({ start, length }: Want) {
    const core = this.core
    const contig = core.contiguousLength
    if (start + length <= contig || core.length === contig) {
      if (contig > 0) this.send(T.RANGE, { drop: false, start: 0, length: contig } satisfies Range)
      return
    }
    const end = Math.min(start + length, core.length)
    const segment = 32768
    for (let s = start - (start % 32); s < end; s += segment) {
      const n = Math.ceil(Math.min(segment, end - s) / 32)
      const words = core.bitfieldWords(s, n)
      if (words.some((w) => w !== 0)) this.send(T.BITFIELD, { start: s, bitfield: words } satisfies BitfieldMsg)
    }
  }

  private oncancel ({ request }: Cancel) {
    this.remoteRequests.delete(request)
  }

  private async onrequest (msg: Request) {
    if (this.remoteRequests.size >= MAX_REMOTE_REQUESTS) throw HyperfsError.PROTOCOL_ERROR('too many outstanding requests')
    this.remoteRequests.set(msg.id, msg)
    const core = this.core
    let reply: Data | null = null
    let reason = NOT_AVAILABLE
    if (msg.fork === core.fork && (!msg.block || core.has(msg.block.index))) {
      try {
        const p = await core.proof({ fork: msg.fork, block: msg.block, hash: msg.hash, seek: msg.seek, upgrade: msg.upgrade, manifest: msg.manifest })
        reply = {
          request: msg.id,
          fork: msg.fork,
          block: p.block as Data['block'],
          hash: p.hash,
          seek: p.seek,
          upgrade: p.upgrade,
          manifest: p.manifest ?? null
        }
      } catch (err: any) {
        if (!isHyperfsError(err, 'INVALID_OPERATION', 'BLOCK_NOT_AVAILABLE')) throw err
        reason = isHyperfsError(err, 'INVALID_OPERATION') ? INVALID_REQUEST : NOT_AVAILABLE
      }
    }
    if (this.remoteRequests.get(msg.id) !== msg) return // cancelled meanwhile
    this.remoteRequests.delete(msg.id)
    if (reply) {
      this.send(T.DATA, reply)
      if (reply.block) this.replicator.onUpload(reply.block.value.byteLength)
    } else if (msg.manifest && core.manifest) {
      this.send(T.DATA, { request: msg.id, fork: core.fork, block: null, hash: null, seek: null, upgrade: null, manifest: core.manifest } satisfies Data)
    } else {
      this.send(T.NO_DATA, { request: msg.id, reason } satisfies NoData)
    }
  }
}
