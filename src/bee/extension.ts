// The `hyperbee` hypercore extension (docs/hyperbee.md §5), both sides.
//   client: when a lookup first waits for a block it sends `get {version, key}`;
//     when a walk waits it sends `iterator` with its checkpoint (again after
//     ITERATOR_BATCH more blocks). A `cache` reply names the blocks the peer
//     touched answering it; we start fetching them all at once, so a cold
//     lookup or page costs about one round trip instead of one per tree level.
//   server: answers get and iterator from local blocks only, on a checkout at
//     the asked version, with cache messages of at most CACHE_BATCH seqs.
// It speaks through a registrar shaped like hypercore's registerExtension
// (name, { onmessage }) -> { send, broadcast }; messages are the protobuf
// bytes, the transport adds its own framing. coreExtension(core) is the
// registrar of our own replication.
import { encode, decode } from '../codec/state.js'
import { beeExtension, type BeeExtensionMessage, type BeeGet, type BeeIterator } from '../codec/bee-extension.js'
import { safetyCatch } from '../errors.js'
import type { BlockStore, ReadOptions } from './block-store.js'
import type { Hypercore } from '../core/hypercore.js'
import { RangeCursor } from './range.js'

export const EXTENSION_NAME = 'hyperbee'
export const CACHE_BATCH = 128 // seqs per cache message
export const ITERATOR_BATCH = 2048 // blocks a walk reads before it asks again
export const MAX_ITERATOR_WORK = ITERATOR_BATCH + CACHE_BATCH // distinct blocks one iterator answer touches
const MAX_CACHE_BLOCKS = MAX_ITERATOR_WORK // a cache message naming more is cut to this

export interface ExtensionTransport {
  send (message: Buffer, peer: unknown): void
  broadcast (message: Buffer): void
}

export type ExtensionRegistrar = (name: string, handlers: { onmessage: (message: Buffer, peer: unknown) => void }) => ExtensionTransport

// The registrar of a core's own replication (Hypercore#registerExtension):
// the protobuf bytes travel as its default `buffer` encoding, so the wire
// payload is `name ‖ uint len ‖ protobuf`, as between real peers.
export function coreExtension (core: Hypercore): ExtensionRegistrar {
  return (name, h) => {
    const ext = core.registerExtension(name, { onmessage: (m, peer) => h.onmessage(m, peer) })
    return {
      send: (m, peer) => ext.send(m, peer as Parameters<typeof ext.send>[1]),
      broadcast: (m) => ext.broadcast(m)
    }
  }
}

// What the extension needs from the bee it serves.
export interface ExtensionHost {
  readonly store: BlockStore
  readonly version: number
  lookupAt (version: number, key: Buffer, opts: ReadOptions): Promise<unknown>
}

export class BeeExtension {
  private host: ExtensionHost
  private transport: ExtensionTransport
  sent = { get: 0, iterator: 0, cache: 0 }
  received = { get: 0, iterator: 0, cache: 0 }

  constructor (host: ExtensionHost, register: ExtensionRegistrar) {
    this.host = host
    this.transport = register(EXTENSION_NAME, { onmessage: (m, peer) => this.onmessage(m, peer) })
  }

  // ---- client ----

  get (version: number, key: Buffer): void {
    this.sent.get++
    this.transport.broadcast(encode(beeExtension, { cache: null, get: { version, key }, iterator: null }))
  }

  iterator (request: BeeIterator): void {
    this.sent.iterator++
    this.transport.broadcast(encode(beeExtension, { cache: null, get: null, iterator: request }))
  }

  // The read options for one lookup: the first wait asks the peers for the whole path.
  forLookup (version: number, key: Buffer, opts: ReadOptions): ReadOptions {
    let asked = false
    return { ...opts, onwait: (seq) => { if (!asked) { asked = true; this.get(version, key) } opts.onwait?.(seq) } }
  }

  // The read options for one walk: a wait asks for the rest of it, at most once per ITERATOR_BATCH blocks.
  forWalk (cursor: () => RangeCursor | null, opts: ReadOptions): ReadOptions {
    let next = 0
    return {
      ...opts,
      onwait: (seq) => {
        const c = cursor()
        if (c && c.visited >= next) {
          const req = c.request()
          if (req) { next = c.visited + ITERATOR_BATCH; this.iterator(req) }
        }
        opts.onwait?.(seq)
      }
    }
  }

  reply (message: Buffer, peer: unknown): void {
    this.sent.cache++
    this.transport.send(message, peer)
  }

  // ---- incoming ----

  onmessage (buf: Buffer, peer: unknown): void {
    let m: BeeExtensionMessage
    try {
      m = decode(beeExtension, buf)
    } catch {
      return // a peer's garbage is ignored, as the library does
    }
    if (m.cache) this.oncache(m.cache.blocks)
    if (m.get) this.onget(m.get, peer).catch(safetyCatch)
    if (m.iterator) this.oniterator(m.iterator, peer).catch(safetyCatch)
  }

  private oncache (blocks: number[]): void {
    this.received.cache++
    const store = this.host.store
    const n = Math.min(blocks.length, MAX_CACHE_BLOCKS)
    for (let i = 0; i < n; i++) store.prefetch(blocks[i])
  }

  private async onget (g: BeeGet, peer: unknown): Promise<void> {
    this.received.get++
    if (!g.version || g.version > this.host.version || !g.key) return
    const out = new CacheBatch(this, peer)
    const seen = new Set<number>()
    try {
      await this.host.lookupAt(g.version, g.key, { wait: false, onseq: (s) => { if (!seen.has(s)) { seen.add(s); out.push(s) } } })
    } catch (err) {
      safetyCatch(err) // a block we lack or a bad tree: answer with what was touched
    } finally {
      out.flush()
    }
  }

  private async oniterator (it: BeeIterator, peer: unknown): Promise<void> {
    this.received.iterator++
    if (!it.version || it.version > this.host.version) return
    const out = new CacheBatch(this, peer)
    // the blocks of the checkpoint's own frames are the client's already
    const skip = new Set<number>()
    for (let j = 0; j + 2 < it.checkpoint.length; j += 3) skip.add(it.checkpoint[j])
    const seen = new Set<number>()
    const opts: ReadOptions = {
      wait: false,
      onseq: (s) => {
        if (skip.has(s) || seen.has(s)) return
        seen.add(s)
        out.push(s)
      }
    }
    const range = { gte: it.gte, gt: it.gt, lte: it.lte, lt: it.lt, reverse: it.reverse, limit: it.limit === 0 ? -1 : it.limit }
    const cursor = new RangeCursor(this.host.store, it.version, range, opts)
    try {
      if (it.checkpoint.length > 0) await cursor.resume(it.checkpoint)
      else await cursor.open()
      while (seen.size < MAX_ITERATOR_WORK) {
        if (!(await cursor.next())) break
      }
    } catch (err) {
      safetyCatch(err)
    } finally {
      out.flush()
    }
  }
}

class CacheBatch {
  private blocks: number[] = []
  constructor (private ext: BeeExtension, private peer: unknown) {}

  push (seq: number): void {
    this.blocks.push(seq)
    if (this.blocks.length >= CACHE_BATCH) this.flush()
  }

  flush (): void {
    if (this.blocks.length === 0) return
    const blocks = this.blocks
    this.blocks = []
    let start = blocks[0]
    let end = blocks[0] + 1
    for (const s of blocks) { if (s < start) start = s; if (s >= end) end = s + 1 }
    this.ext.reply(encode(beeExtension, { cache: { start, end, blocks }, get: null, iterator: null }), this.peer)
  }
}
