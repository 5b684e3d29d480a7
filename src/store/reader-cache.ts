// ReaderCache: a cap on the bytes of other people's content kept here. The
// content cores of drives we only read are tracked; once the bytes they hold
// pass the cap, the least recently read are given back to the disk
// (Hypercore#clear: holes punched, bits and peers' view updated first) until
// the total is under LOW_WATER of the cap. A block evicted is fetched again
// from a peer when it is read again, like any block not held.
//
// Exempt: cores we write (never tracked), metadata cores (never tracked: the
// Store tracks only cores opened with role 'content'), and pinned blocks
// (setPins: `hyperfs pin` and `hyperfs download`). A core whose pins are not
// known yet (setPins(key, null)) keeps everything until they are.
//
// Recency is kept per segment of SEGMENT_BLOCKS blocks, in one list from the
// least to the most recently read or stored, with each block's size, so that
// the count stays exact as blocks arrive, are read, dropped or pinned.
import type { Hypercore, BlockObserver } from '../core/hypercore.js'
import { Bitfield } from '../core/bitfield.js'
import { safetyCatch } from '../errors.js'

const SEGMENT_BLOCKS = 16 // blocks per recency entry (1 MiB of 64 KiB blocks)
export const LOW_WATER = 0.9 // eviction brings the total down to this share of the cap, so it runs in batches

interface Segment {
  core: Hypercore
  index: number // first block = index · SEGMENT_BLOCKS
  sizes: number[] // bytes counted for each block of the segment (0: not held, or pinned)
  bytes: number
  prev: Segment | null
  next: Segment | null
}

interface Tracked {
  core: Hypercore
  segments: Map<number, Segment>
  onclose: () => void
}

export interface CacheStatus {
  capacity: number
  used: number // bytes of tracked, unpinned content held
  evicted: number // bytes given back since start
  cores: number
}

export class ReaderCache implements BlockObserver {
  capacity: number
  used = 0
  evicted = 0
  private tracked = new Map<Hypercore, Tracked>()
  // by core key (hex): the blocks pinned, or null while they are being found
  private pins = new Map<string, Bitfield | null>()
  private head: Segment | null = null // least recently used
  private tail: Segment | null = null
  private evicting: Promise<void> | null = null
  private readonly onerror: (err: Error, core: Hypercore) => void
  private readonly ontrack: (core: Hypercore) => void

  // ontrack: a core joined the count (a daemon remembers it, to count it
  // again from its next start before anything opens it)
  constructor (opts: { capacity: number, onerror?: (err: Error, core: Hypercore) => void, ontrack?: (core: Hypercore) => void }) {
    this.capacity = opts.capacity
    this.onerror = opts.onerror ?? (() => {})
    this.ontrack = opts.ontrack ?? (() => {})
  }

  status (): CacheStatus {
    return { capacity: this.capacity, used: this.used, evicted: this.evicted, cores: this.tracked.size }
  }

  // Counts what a content core we read holds (as least recently used) and
  // follows it from now on. Cores we write are never tracked.
  async track (core: Hypercore): Promise<void> {
    await core.ready()
    if (core.writable || core.closed || this.tracked.has(core)) return
    const t: Tracked = { core, segments: new Map(), onclose: () => this.untrack(core) }
    this.tracked.set(core, t)
    core.once('close', t.onclose)
    core.observer = this
    for (const [s, e] of core.heldRuns()) this.count(t, s, e, 'oldest')
    this.ontrack(core)
    this.maybeEvict()
  }

  untrack (core: Hypercore): void {
    const t = this.tracked.get(core)
    if (!t) return
    this.tracked.delete(core)
    core.off('close', t.onclose)
    if (core.observer === this) core.observer = null
    for (const seg of t.segments.values()) this.unlink(seg)
    t.segments.clear()
  }

  // The blocks of core `key` (hex) that must stay, or null: keep all of
  // them until the pins are known.
  setPins (key: string, pinned: Bitfield | null): void {
    this.pins.set(key, pinned)
    for (const t of this.tracked.values()) {
      if (t.core.key?.toString('hex') !== key) continue
      // what is pinned now leaves the count; what was pinned before joins it as the oldest
      for (const seg of [...t.segments.values()]) this.uncount(t, seg, (i) => this.pinned(t.core, i))
      for (const [s, e] of t.core.heldRuns()) this.count(t, s, e, 'oldest')
    }
    this.maybeEvict()
  }

  setCapacity (capacity: number): void {
    this.capacity = capacity
    this.maybeEvict()
  }

  // resolves once no eviction is running
  async settled (): Promise<void> {
    while (this.evicting) await this.evicting
  }

  // ---- BlockObserver (called by the cores) ----

  onread (core: Hypercore, from: number, to: number): void {
    const t = this.tracked.get(core)
    if (!t) return
    for (let si = Math.floor(from / SEGMENT_BLOCKS); si * SEGMENT_BLOCKS < to; si++) {
      const seg = t.segments.get(si)
      if (seg) this.touch(seg)
    }
  }

  onstore (core: Hypercore, index: number, bytes: number): void {
    const t = this.tracked.get(core)
    if (!t || this.pinned(core, index)) return
    const seg = this.segment(t, Math.floor(index / SEGMENT_BLOCKS), 'newest')
    const k = index % SEGMENT_BLOCKS
    this.used += bytes - seg.sizes[k]
    seg.bytes += bytes - seg.sizes[k]
    seg.sizes[k] = bytes
    this.touch(seg)
    this.maybeEvict()
  }

  ondrop (core: Hypercore, from: number, to: number): void {
    const t = this.tracked.get(core)
    if (!t) return
    for (let si = Math.floor(from / SEGMENT_BLOCKS); si * SEGMENT_BLOCKS < to; si++) {
      const seg = t.segments.get(si)
      if (seg) this.uncount(t, seg, (i) => i >= from && i < to)
    }
  }

  // ---- accounting ----

  private pinned (core: Hypercore, index: number): boolean {
    const key = core.key?.toString('hex')
    if (!key || !this.pins.has(key)) return false
    const p = this.pins.get(key)
    return p === null || p!.get(index)
  }

  // counts held blocks [s, e) that are not pinned and not counted yet
  private count (t: Tracked, s: number, e: number, where: 'oldest' | 'newest'): void {
    const tree = t.core.tree
    for (let i = s; i < e; i++) {
      if (this.pinned(t.core, i)) continue
      const seg = this.segment(t, Math.floor(i / SEGMENT_BLOCKS), where)
      const k = i % SEGMENT_BLOCKS
      if (seg.sizes[k] > 0) continue
      const size = tree.nodeSync(2 * i)?.size ?? 0
      seg.sizes[k] = size
      seg.bytes += size
      this.used += size
    }
  }

  private uncount (t: Tracked, seg: Segment, which: (index: number) => boolean): void {
    const base = seg.index * SEGMENT_BLOCKS
    for (let k = 0; k < SEGMENT_BLOCKS; k++) {
      if (seg.sizes[k] === 0 || !which(base + k)) continue
      this.used -= seg.sizes[k]
      seg.bytes -= seg.sizes[k]
      seg.sizes[k] = 0
    }
    if (seg.bytes === 0 && seg.sizes.every((x) => x === 0)) {
      t.segments.delete(seg.index)
      this.unlink(seg)
    }
  }

  private segment (t: Tracked, index: number, where: 'oldest' | 'newest'): Segment {
    let seg = t.segments.get(index)
    if (seg) return seg
    seg = { core: t.core, index, sizes: new Array(SEGMENT_BLOCKS).fill(0), bytes: 0, prev: null, next: null }
    t.segments.set(index, seg)
    if (where === 'newest') this.append(seg)
    else this.prepend(seg)
    return seg
  }

  // ---- the recency list ----

  private touch (seg: Segment): void {
    if (this.tail === seg) return
    this.unlink(seg)
    this.append(seg)
  }

  private append (seg: Segment): void {
    seg.prev = this.tail
    seg.next = null
    if (this.tail) this.tail.next = seg
    else this.head = seg
    this.tail = seg
  }

  private prepend (seg: Segment): void {
    seg.next = this.head
    seg.prev = null
    if (this.head) this.head.prev = seg
    else this.tail = seg
    this.head = seg
  }

  private unlink (seg: Segment): void {
    if (seg.prev) seg.prev.next = seg.next
    else if (this.head === seg) this.head = seg.next
    if (seg.next) seg.next.prev = seg.prev
    else if (this.tail === seg) this.tail = seg.prev
    seg.prev = seg.next = null
  }

  // ---- eviction ----

  private maybeEvict (): void {
    if (this.evicting || this.used <= this.capacity) return
    this.evicting = this.evict().catch(safetyCatch).finally(() => {
      this.evicting = null
      this.maybeEvict()
    })
  }

  private async evict (): Promise<void> {
    const target = Math.floor(this.capacity * LOW_WATER)
    while (this.used > target) {
      const seg = this.head
      if (!seg) return
      const t = this.tracked.get(seg.core)!
      // the lowest blocks of the oldest segment, as many as the target needs,
      // taken out of the count first: the drop clear() reports finds nothing left
      const base = seg.index * SEGMENT_BLOCKS
      let from = 0
      while (from < SEGMENT_BLOCKS && seg.sizes[from] === 0) from++
      let to = from
      let bytes = 0
      while (to < SEGMENT_BLOCKS && seg.sizes[to] > 0 && this.used - bytes > target) bytes += seg.sizes[to++]
      if (to === from) { // a segment with nothing counted: done with it
        t.segments.delete(seg.index)
        this.unlink(seg)
        continue
      }
      this.uncount(t, seg, (i) => i >= base + from && i < base + to)
      if (seg.core.closed) continue
      try {
        const r = await seg.core.clear(base + from, base + to)
        this.evicted += r.bytes
      } catch (err) {
        safetyCatch(err)
        if (!seg.core.closed) this.onerror(err as Error, seg.core)
      }
    }
  }
}
