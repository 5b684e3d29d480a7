// Replicator: what one core wants from its peers and who to ask. It keeps the
// wanted blocks (from get(), download() and seek()), at most one upgrade in
// flight, and spreads block requests over the peers that hold them, up to each
// peer's window (which grows on answers and halves on timeouts). Proofs are
// verified by the core before anything is stored; a peer whose proof, signature
// or manifest does not verify is disconnected and its requests go elsewhere,
// and a get() that times out after that hears the peer's fault, not a timeout.
// A proof that verifies but cannot be stored (a full disk) is our fault, not
// the peer's: the core stops fetching until it is asked again, and whoever
// waits hears the storage error.
//
// Events: 'peer-add'/'peer-remove' (peer), 'peer-error' (err, peer),
// 'download' (index, bytes, peer), 'starved' (index: wanted with no peer
// connected; a network redials), 'storage-error' (err: fetching paused),
// 'error-internal' (err: a bug in scheduling; a warning when nobody listens).
import { EventEmitter } from 'node:events'
import { HyperfsError, isHyperfsError, type ErrorCode } from '../errors.js'
import type { Hypercore } from '../core/hypercore.js'
import type { Proof } from '../core/merkle-tree.js'
import type { MuxLike } from './types.js'
import { Peer, type OutRequest } from './peer.js'
import { Extensions } from './extensions.js'
import * as flat from '../core/flat-tree.js'

// what a peer's bad data raises (INVALID_OPERATION: a proof whose shape does
// not fit our tree); anything else out of applyProof is a local failure
const PEER_FAULTS: ErrorCode[] = ['INVALID_PROOF', 'INVALID_SIGNATURE', 'INVALID_MANIFEST', 'INVALID_CAPABILITY', 'INVALID_OPERATION', 'DECODE_ERROR', 'PROTOCOL_ERROR']
const PEER_LABEL_BYTES = 6 // of the remote public key, in messages

// The peer sent something that does not verify or parse: it is dropped.
export function isPeerFault (err: unknown): boolean {
  return isHyperfsError(err, ...PEER_FAULTS)
}
const RANGE_LOOKAHEAD = 1024
const SCAN_BUDGET = 512

interface Wanted {
  index: number
  priority: number
  inflight: OutRequest[]
  failed: Set<Peer> // said it has no such block, or sent one that did not verify
  slow: Set<Peer> // timed out: asked again only when no other peer can serve
  fault: Error | null // the last bad answer for it, for get()s that time out
  refs: number // get() callers plus ranges that want it
}

interface RangeDownload {
  start: number
  end: number
  cursor: number
  resolve: () => void
  reject: (err: Error) => void
  signal?: AbortSignal
}

interface SeekWaiter {
  bytes: number
  resolve: (r: [number, number]) => void
  reject: (err: Error) => void
  inflight: OutRequest | null
  failed: Set<Peer>
  slow: Set<Peer>
  fault: Error | null
  missing: number // the deepest local tree node over the byte, -1 until known
}

export interface ReplicatorOptions {
  requestTimeout?: number
}

export class Replicator extends EventEmitter {
  readonly core: Hypercore
  readonly peers: Peer[] = []
  requestTimeout: number
  uploadedBytes = 0
  downloadedBytes = 0
  readonly extensions = new Extensions(() => this.peers)

  private wanted = new Map<number, Wanted>()
  private pending = new Map<number, Wanted>() // wanted and not in flight, in the order asked
  private urgent = new Set<Wanted>() // someone waits on these: ask a second peer if the first is slow
  private hedgeTimer: NodeJS.Timeout | null = null
  private ranges: RangeDownload[] = []
  private seeks: SeekWaiter[] = []
  private upgrading: OutRequest | null = null
  private paused: Error | null = null // a proof could not be stored: fetch nothing until asked again
  private attached = new Set<MuxLike>()
  private scheduled = false
  private running = false
  private again = false
  private updateWaiters: Array<() => void> = []
  private connecting = new Set<unknown>() // streams handed to us whose channel has not opened yet

  constructor (core: Hypercore, opts: ReplicatorOptions = {}) {
    super()
    this.core = core
    this.requestTimeout = opts.requestTimeout ?? 10_000
  }

  // ---- peers ----

  // A stream is on its way (handshake running): update() waits for it to sync.
  // Whoever owns the stream calls settle(stream) when it closes: one close
  // listener per stream there, not one per core here (a store of many cores
  // would pile them onto every connection).
  expect (stream: unknown): void {
    this.connecting.add(stream)
  }

  settle (stream: unknown): void {
    if (this.connecting.delete(stream)) this.update()
  }

  attach (mux: MuxLike): void {
    if (this.attached.has(mux)) return
    this.attached.add(mux)
    const peer = new Peer(this, mux)
    if (!peer.open()) {
      this.attached.delete(mux)
      this.settle(mux.stream)
    }
  }

  addPeer (peer: Peer): void {
    this.settle(peer.mux.stream)
    this.peers.push(peer)
    this.emit('peer-add', peer)
    this.update()
  }

  removePeer (peer: Peer, lost: OutRequest[]): void {
    this.attached.delete(peer.mux)
    this.settle(peer.mux.stream)
    const i = this.peers.indexOf(peer)
    if (i !== -1) {
      this.peers.splice(i, 1)
      this.emit('peer-remove', peer)
    }
    for (const req of lost) this.forget(req)
    this.update()
  }

  emitPeerError (peer: Peer, err: Error): void {
    this.emit('peer-error', err, peer)
  }

  onUpload (bytes: number): void {
    this.uploadedBytes += bytes
  }

  // our length changed: every peer hears of it
  onLocalUpdate (): void {
    for (const p of this.peers) p.onLocalUpdate().catch((err) => p.fail(err))
    this.update()
  }

  // we gave blocks [start, end) back to the disk: no peer may count on us for them
  onLocalDrop (start: number, end: number): void {
    for (const p of this.peers) p.sendDrop(start, end - start)
  }

  // ---- what the core wants ----

  want (index: number, priority = 1): void {
    this.resume()
    if (this.peers.length === 0) this.emit('starved', index)
    let w = this.wanted.get(index)
    if (!w) {
      w = { index, priority, inflight: [], failed: new Set(), slow: new Set(), fault: null, refs: 0 }
      this.wanted.set(index, w)
      this.pending.set(index, w)
    }
    w.refs++
    w.priority = Math.max(w.priority, priority)
    this.update()
  }

  // A block's get() timed out: why, when a peer sent bad data for it.
  failure (index: number): Error | null {
    return this.wanted.get(index)?.fault ?? null
  }

  unwant (index: number): void {
    const w = this.wanted.get(index)
    if (!w || --w.refs > 0) return
    this.wanted.delete(index)
    this.pending.delete(index)
    for (const req of w.inflight) req.peer.cancel(req)
  }

  download (start: number, end: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const r: RangeDownload = { start, end, cursor: start, resolve, reject, signal }
      if (signal) {
        if (signal.aborted) return reject(HyperfsError.REQUEST_CANCELLED('download aborted'))
        signal.addEventListener('abort', () => this.endRange(r, HyperfsError.REQUEST_CANCELLED('download aborted')), { once: true })
      }
      this.resume()
      this.ranges.push(r)
      this.update()
    })
  }

  seek (bytes: number, opts: { timeout?: number, signal?: AbortSignal } = {}): Promise<[number, number]> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null
      const done = () => {
        const i = this.seeks.indexOf(s)
        if (i !== -1) this.seeks.splice(i, 1)
        if (timer) clearTimeout(timer)
        opts.signal?.removeEventListener('abort', onabort)
        if (s.inflight) s.inflight.peer.cancel(s.inflight)
      }
      const s: SeekWaiter = {
        bytes,
        resolve: (r) => { done(); resolve(r) },
        reject: (e) => { done(); reject(e) },
        inflight: null,
        failed: new Set(),
        slow: new Set(),
        fault: null,
        missing: -1
      }
      const onabort = () => s.reject(HyperfsError.REQUEST_CANCELLED(`seek(${bytes}) was aborted`))
      if (opts.signal?.aborted) return onabort()
      opts.signal?.addEventListener('abort', onabort, { once: true })
      const timeout = opts.timeout ?? this.requestTimeout
      if (timeout > 0) timer = setTimeout(() => s.reject(s.fault ?? HyperfsError.REQUEST_TIMEOUT(`no peer resolved byte ${bytes} within ${timeout} ms`)), timeout)
      this.resume()
      this.seeks.push(s)
      this.retrySeeks()
    })
  }

  // resolves once no connected peer has a longer version of the core for us
  updated (): Promise<void> {
    return new Promise((resolve) => {
      this.updateWaiters.push(resolve)
      this.update()
    })
  }

  close (): void {
    if (this.hedgeTimer) clearTimeout(this.hedgeTimer)
    const err = HyperfsError.SESSION_CLOSED('core was closed')
    for (const r of this.ranges.splice(0)) r.reject(err)
    for (const s of this.seeks.splice(0)) s.reject(err)
    for (const w of this.updateWaiters.splice(0)) w()
    for (const p of [...this.peers]) if (p.channel && !p.channel.closed) p.channel.close()
  }

  // ---- scheduling ----

  update (): void {
    if (this.scheduled) return
    this.scheduled = true
    queueMicrotask(() => {
      this.scheduled = false
      this.dispatch().catch((err) => {
        if (!this.emit('error-internal', err)) process.emitWarning(err)
      })
    })
  }

  private async dispatch (): Promise<void> {
    if (this.running) { this.again = true; return }
    this.running = true
    try {
      do {
        this.again = false
        await this.dispatchOnce()
      } while (this.again)
    } finally {
      this.running = false
    }
  }

  private async dispatchOnce (): Promise<void> {
    const core = this.core
    if (core.closed || this.paused) return

    // upgrade first: block requests past our length ride on it
    if (!this.upgrading) {
      const p = this.peers.find((x) => x.canUpgradeUs())
      if (p) {
        let blockPastEnd: Wanted | null = null
        let scanned = 0
        for (const w of this.pending.values()) {
          if (++scanned > SCAN_BUDGET) break
          if (w.index >= core.length && p.hasBlock(w.index) && !w.failed.has(p)) { blockPastEnd = w; break }
        }
        if (blockPastEnd) {
          const req = p.requestBlock(blockPastEnd.index, true, blockPastEnd.priority)
          blockPastEnd.inflight.push(req)
          this.pending.delete(blockPastEnd.index)
          this.upgrading = req
        } else {
          this.upgrading = p.requestUpgrade()
        }
      }
    }
    if (!this.upgrading && this.updateWaiters.length && this.connecting.size === 0 && this.peers.every((p) => p.remoteSynced && !p.canUpgradeUs())) {
      for (const w of this.updateWaiters.splice(0)) w()
    }

    this.fillFromRanges()

    // only blocks not in flight are looked at, and the scan stops when no peer
    // has room in its window, so a dispatch costs O(requests sent)
    let scanned = 0
    for (const w of this.pending.values()) {
      if (!this.peers.some((p) => p.pending < p.window)) break
      if (++scanned > SCAN_BUDGET) break // the rest wait for the next event
      if (core.has(w.index)) { this.wanted.delete(w.index); this.pending.delete(w.index); continue }
      if (w.index >= core.length) continue // waits for the upgrade
      const peer = this.pick(w)
      if (!peer) {
        for (const p of this.peers) if (p.remoteLength > w.index && !w.failed.has(p)) p.sendWant(w.index)
        continue
      }
      w.inflight.push(peer.requestBlock(w.index, false, w.priority, w.failed.size > 0 || w.slow.size > 0))
      this.pending.delete(w.index)
      if (w.priority > 0 && this.peers.length > 1) this.urgent.add(w)
      scanned = 0
    }
    this.hedge()

    // a seek asks one peer for a hash proof of a block under the deepest
    // node we know over the byte, plus the seek nodes down to that byte
    for (const s of this.seeks) {
      if (s.inflight || s.missing < 0) continue
      const [lo, hi] = [flat.leftSpan(s.missing) / 2, flat.rightSpan(s.missing) / 2 + 1]
      // peers that timed out on this seek go last (see pick)
      for (const p of [...this.peers.filter((x) => !s.slow.has(x)), ...s.slow]) {
        if (s.failed.has(p) || p.destroyed || p.remoteFork !== core.fork || p.pending >= p.window) continue
        const index = p.firstBlockIn(lo, hi)
        if (index === -1) continue
        s.inflight = p.requestHashSeek(index, flat.depth(s.missing), s.bytes)
        break
      }
      if (!s.inflight) for (const p of this.peers) if (!s.failed.has(p) && p.remoteLength > lo) p.sendWant(lo)
    }
  }

  // When several peers hold a block someone is waiting on and the first peer
  // is slow to answer (3 round trips, 20 ms at least), ask another one too;
  // the first answer wins and the other request is cancelled.
  private hedge (): void {
    const now = Date.now()
    let next = Infinity
    for (const w of this.urgent) {
      if (!this.wanted.has(w.index) || w.inflight.length !== 1) { this.urgent.delete(w); continue }
      const first = w.inflight[0]
      const due = first.sent + Math.max(20, 3 * first.peer.rtt)
      if (due > now) { next = Math.min(next, due); continue }
      const other = this.pick({ ...w, failed: new Set([...w.failed, first.peer]) })
      if (other) w.inflight.push(other.requestBlock(w.index, false, w.priority, true))
      this.urgent.delete(w)
    }
    if (next < Infinity && !this.hedgeTimer) {
      this.hedgeTimer = setTimeout(() => { this.hedgeTimer = null; this.update() }, next - now)
      this.hedgeTimer.unref?.()
    }
  }

  // The least busy peer that holds the block. A peer that let a request for
  // it time out is asked again only when no other can serve: after a silent
  // spell the link may be back, and it may be the only peer there is.
  private pick (w: Wanted): Peer | null {
    let best: Peer | null = null
    let bestSlow: Peer | null = null
    for (const p of this.peers) {
      if (p.remoteFork !== this.core.fork || w.failed.has(p) || !p.hasBlock(w.index) || p.pending >= p.window) continue
      if (w.slow.has(p)) {
        if (!bestSlow || p.pending < bestSlow.pending) bestSlow = p
      } else if (!best || p.pending < best.pending) {
        best = p
      }
    }
    return best ?? bestSlow
  }

  private fillFromRanges (): void {
    const core = this.core
    for (const r of [...this.ranges]) {
      const end = Math.min(r.end, core.length)
      while (this.pending.size < RANGE_LOOKAHEAD && r.cursor < end) {
        const i = r.cursor++
        if (core.has(i) || this.wanted.has(i)) continue
        this.want(i, 0)
      }
      if (r.cursor >= end && core.hasAll(r.start, r.end)) this.endRange(r, null)
    }
  }

  private endRange (r: RangeDownload, err: Error | null): void {
    const i = this.ranges.indexOf(r)
    if (i === -1) return
    this.ranges.splice(i, 1)
    // drop range-only wants past what is local
    for (let k = r.start; k < r.cursor; k++) {
      const w = this.wanted.get(k)
      if (w && w.priority === 0 && w.refs <= 1) this.unwant(k)
    }
    if (err) r.reject(err); else r.resolve()
  }

  // ---- answers ----

  private forget (req: OutRequest): void {
    if (this.upgrading === req) this.upgrading = null
    if (req.block !== null) {
      const w = this.wanted.get(req.block)
      if (w) {
        w.inflight = w.inflight.filter((x) => x !== req)
        if (w.inflight.length === 0 && !this.core.has(w.index)) this.pending.set(w.index, w)
      }
    }
    if (req.seek !== null) {
      for (const s of this.seeks) if (s.inflight === req) s.inflight = null
    }
  }

  // The peer said it has no such block (`timedOut` false), or did not answer
  // within requestTimeout: then the block is asked elsewhere, or of it again.
  onRequestFailed (peer: Peer, req: OutRequest, timedOut = false): void {
    this.forget(req)
    if (req.block !== null) {
      const w = this.wanted.get(req.block)
      if (w) (timedOut ? w.slow : w.failed).add(peer)
    }
    for (const s of this.seeks) if (s.bytes === req.seek) (timedOut ? s.slow : s.failed).add(peer)
    this.update()
  }

  // An answer that cannot be applied through no fault of the peer (a proof
  // chain whose first link failed, see proof-chain.ts): the block is asked again.
  onRequestLost (req: OutRequest): void {
    this.forget(req)
    this.update()
  }

  // The request stays recorded until its proof is applied, so nothing asks for
  // the same block or upgrade again meanwhile.
  async onData (peer: Peer, req: OutRequest, proof: Proof): Promise<void> {
    try {
      await this.applyData(peer, req, proof)
    } finally {
      this.forget(req)
      this.update()
    }
  }

  private async applyData (peer: Peer, req: OutRequest, proof: Proof): Promise<void> {
    const core = this.core
    const stale = proof.upgrade !== null && proof.upgrade.start !== core.length
    if (stale || (proof.block && !proof.upgrade && core.has(proof.block.index))) return // overtaken: nothing wrong with the peer
    let result
    try {
      result = await core.applyProof(proof)
    } catch (err) {
      if (isHyperfsError(err, 'SESSION_CLOSED')) return
      if (!isPeerFault(err)) { this.pause(err as Error); return }
      const fault = fromPeer(err as HyperfsError, peer)
      const w = req.block !== null ? this.wanted.get(req.block) : undefined
      if (w) { w.failed.add(peer); w.fault = fault }
      for (const s of this.seeks) if (s.bytes === req.seek) { s.failed.add(peer); s.fault = fault }
      throw fault // the peer is dropped
    }
    if (proof.block?.value) {
      this.downloadedBytes += proof.block.value.byteLength
      const w = this.wanted.get(proof.block.index)
      if (w) for (const other of w.inflight) if (other !== req) other.peer.cancel(other)
      this.wanted.delete(proof.block.index)
      this.pending.delete(proof.block.index)
      for (const p of this.peers) if (p !== peer) p.sendHave(proof.block.index)
      this.emit('download', proof.block.index, proof.block.value.byteLength, peer)
    }
    if (result.upgraded) this.onLocalUpdate()
    if (req.seek !== null) this.retrySeeks(peer)
  }

  // Storing failed on our side (a full disk, an I/O error): the peer did
  // nothing wrong and stays. Fetching stops, which is reported once, and
  // everyone waiting hears the error now rather than a timeout later; the
  // next want, seek or download tries again.
  private pause (err: Error): void {
    if (this.paused === null) this.emit('storage-error', err)
    this.paused = err
    for (const r of [...this.ranges]) this.endRange(r, err)
    for (const s of [...this.seeks]) s.reject(err)
    this.core.rejectWaiters(err)
  }

  private resume (): void {
    this.paused = null
  }

  private retrySeeks (answered: Peer | null = null): void {
    for (const s of [...this.seeks]) {
      const before = s.missing
      this.core.localSeek(s.bytes).then((r) => {
        if (Array.isArray(r)) return s.resolve(r)
        // an answer that taught us nothing: that peer cannot help with this byte
        if (answered && r.missing === before) s.failed.add(answered)
        s.missing = r.missing
        this.update()
      }, (err) => s.reject(err))
    }
  }
}

// The peer's error, with the peer named, for a reader to see.
function fromPeer (err: HyperfsError, peer: Peer): HyperfsError {
  const key = peer.mux.stream.remotePublicKey
  const who = key ? key.subarray(0, PEER_LABEL_BYTES).toString('hex') : 'unknown'
  const msg = err.message.startsWith(err.code + ': ') ? err.message.slice(err.code.length + 2) : err.message
  return HyperfsError.from(err.code, `from peer ${who}: ${msg}`, err)
}
