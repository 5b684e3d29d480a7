// In-order walks of a Hyperbee tree (docs/hyperbee.md §2.3). A node with n
// keys has 2n+1 slots: even slot 2j is child j, odd slot 2j+1 is key j. A
// cursor is a stack of frames, each a node and the next slot to visit; while
// a slot's block is being fetched the frame still names that slot, so the
// stack is also the checkpoint the hyperbee extension sends (§5): seq, offset
// and slot of every frame, root first.
//
// Bad trees end in INVALID_BEE, never in a hang: the stack is bounded, and
// keys must come out strictly ordered, which also catches a subtree reached
// twice (every internal node holds a key).
import { HyperfsError } from '../errors.js'
import type { BlockStore, BeeTreeNode, ReadOptions } from './block-store.js'
import type { BeeIterator } from '../codec/bee-extension.js'

// A valid bee is at most ~23 levels deep (every non-root node has 5+ children)
export const MAX_TREE_DEPTH = 64

export interface BeeEntry {
  seq: number
  key: Buffer
  value: Buffer | null
}

export interface RangeOptions {
  gt?: Buffer | null
  gte?: Buffer | null
  lt?: Buffer | null
  lte?: Buffer | null
  reverse?: boolean
  limit?: number // -1 or absent: no limit
}

interface Frame { node: BeeTreeNode, slot: number }

export class RangeCursor {
  private store: BlockStore
  private version: number
  private opts: ReadOptions
  readonly reverse: boolean
  private lower: Buffer | null // the bound the walk starts from
  private lowerIncl: boolean
  private upper: Buffer | null // the bound it stops at
  private upperIncl: boolean
  private limit: number
  readonly stack: Frame[] = []
  private last: Buffer | null = null
  private done = false
  private range: RangeOptions
  private opened = false
  visited = 0 // blocks this cursor has asked for

  constructor (store: BlockStore, version: number, range: RangeOptions, opts: ReadOptions = {}) {
    this.store = store
    this.version = version
    this.opts = opts
    this.range = range
    this.reverse = range.reverse === true
    const g = range.gt ?? range.gte ?? null
    const gIncl = !range.gt
    const l = range.lt ?? range.lte ?? null
    const lIncl = !range.lt
    this.lower = this.reverse ? l : g
    this.lowerIncl = this.reverse ? lIncl : gIncl
    this.upper = this.reverse ? g : l
    this.upperIncl = this.reverse ? gIncl : lIncl
    this.limit = range.limit === undefined || range.limit < 0 ? -1 : range.limit
  }

  // seq, offset, slot per frame: where the walk is now
  checkpoint (): number[] {
    const out: number[] = []
    for (const f of this.stack) if (f.slot >= 0) out.push(f.node.seq, f.node.offset, f.slot)
    return out
  }

  protected blockAt (seq: number) { return this.block(seq) }
  protected nodeAt (seq: number, offset: number) { return this.node(seq, offset) }
  protected pushFrame (node: BeeTreeNode) { this.push(node, this.firstSlot(node)) }

  private async block (seq: number) {
    this.visited++
    return this.store.block(seq, this.opts)
  }

  private async node (seq: number, offset: number): Promise<BeeTreeNode> {
    await this.block(seq)
    const n = await this.store.node(seq, offset, this.opts)
    this.store.prefetchNode(n, this.opts, 2)
    return n
  }

  private push (node: BeeTreeNode, slot: number): void {
    if (this.stack.length >= MAX_TREE_DEPTH) throw HyperfsError.INVALID_BEE(`tree deeper than ${MAX_TREE_DEPTH} levels (a pointer loop?)`)
    this.stack.push({ node, slot })
  }

  private firstSlot (node: BeeTreeNode): number {
    return this.reverse ? node.keys.length * 2 : 0
  }

  // The extension's iterator request for the rest of this walk (docs/hyperbee.md §5),
  // or null when nothing is left to ask for.
  request (): BeeIterator | null {
    const checkpoint = this.opened ? this.checkpoint() : []
    if (this.done || this.limit === 0 || (this.opened && checkpoint.length === 0)) return null
    const r = this.range
    return {
      version: this.version,
      gte: r.gt ? null : r.gte ?? null,
      gt: r.gt ?? null,
      lte: r.lt ? null : r.lte ?? null,
      lt: r.lt ?? null,
      limit: this.limit < 0 ? 0 : this.limit,
      reverse: this.reverse,
      checkpoint
    }
  }

  // Resumes from a checkpoint instead of seeking (what a server does for a client).
  async resume (checkpoint: readonly number[]): Promise<void> {
    for (let j = 0; j + 2 < checkpoint.length; j += 3) {
      const n = await this.node(checkpoint[j], checkpoint[j + 1])
      this.push(n, checkpoint[j + 2])
    }
    this.opened = true
  }

  async open (): Promise<void> {
    await this.seek()
    this.opened = true
  }

  private async seek (): Promise<void> {
    const r = await this.store.root(this.version, this.opts)
    if (!r) return
    await this.block(r.seq)
    this.store.prefetchNode(r, this.opts)
    if (!this.lower) { this.push(r, this.firstSlot(r)); return }
    let node = r
    for (let depth = 0; ; depth++) {
      if (depth >= MAX_TREE_DEPTH) throw HyperfsError.INVALID_BEE(`tree deeper than ${MAX_TREE_DEPTH} levels (a pointer loop?)`)
      // s = how many keys sort before the bound (plain ascending search)
      let s = 0
      let e = node.keys.length
      let found = -1
      while (s < e) {
        const mid = (s + e) >> 1
        const c = Buffer.compare(this.lower, (await this.block(node.keys[mid])).key)
        if (c === 0) { found = mid; break }
        if (c < 0) e = mid
        else s = mid + 1
      }
      if (found >= 0) {
        // the key itself if inclusive, else the child just past it in walk order
        if (this.lowerIncl) this.push(node, 2 * found + 1)
        else this.push(node, this.reverse ? 2 * found : 2 * found + 2)
        return
      }
      // child s straddles the bound; after it comes key s (forward) or key s-1 (reverse)
      const after = this.reverse ? 2 * s - 1 : 2 * s + 1
      if (node.children.length === 0) {
        if (after >= 0) this.push(node, after)
        return
      }
      this.push(node, 2 * s) // child s is pending
      node = await this.node(node.children[s].seq, node.children[s].offset)
      this.stack[this.stack.length - 1].slot = after
    }
  }

  async next (): Promise<BeeEntry | null> {
    while (!this.done && this.stack.length > 0 && this.limit !== 0) {
      const top = this.stack[this.stack.length - 1]
      const n = top.node.keys.length
      if (top.slot < 0 || top.slot > 2 * n) { this.stack.pop(); continue }
      const j = top.slot >> 1
      if ((top.slot & 1) === 0) {
        if (top.node.children.length === 0) { top.slot += this.reverse ? -1 : 1; continue }
        const c = top.node.children[j]
        const child = await this.node(c.seq, c.offset)
        top.slot += this.reverse ? -1 : 1
        this.push(child, this.firstSlot(child))
        continue
      }
      const b = await this.block(top.node.keys[j])
      top.slot += this.reverse ? -1 : 1
      if (this.upper) {
        const c = Buffer.compare(b.key, this.upper)
        if (c === 0 ? !this.upperIncl : this.reverse ? c < 0 : c > 0) { this.done = true; break }
      }
      if (this.last) {
        const c = Buffer.compare(b.key, this.last)
        if (this.reverse ? c >= 0 : c <= 0) throw HyperfsError.INVALID_BEE(`keys out of order at block ${b.seq}`)
      }
      this.last = b.key
      if (this.limit > 0) this.limit--
      return { seq: b.seq, key: b.key, value: b.value }
    }
    this.done = true
    return null
  }
}

// ---- the step-by-step interface a diff needs (forward cursors only) ----

export type Head = { isKey: true, seq: number, offset: 0 } | { isKey: false, seq: number, offset: number }

export class StepCursor extends RangeCursor {
  // The next item in key order: a key, or a whole child subtree not yet
  // opened. Null at the end.
  head (): Head | null {
    while (this.stack.length > 0) {
      const top = this.stack[this.stack.length - 1]
      const n = top.node.keys.length
      if (top.slot > 2 * n) { this.stack.pop(); continue }
      const j = top.slot >> 1
      if ((top.slot & 1) === 1) return { isKey: true, seq: top.node.keys[j], offset: 0 }
      if (top.node.children.length === 0) { top.slot++; continue }
      const c = top.node.children[j]
      return { isKey: false, seq: c.seq, offset: c.offset }
    }
    return null
  }

  skip (): void {
    if (this.head()) this.stack[this.stack.length - 1].slot++
  }

  end (): void {
    this.stack.length = 0
  }

  // Opens the child subtree at the head.
  async expand (): Promise<void> {
    const h = this.head()
    if (!h || h.isKey) return
    const child = await this.nodeAt(h.seq, h.offset)
    this.stack[this.stack.length - 1].slot++
    this.pushFrame(child)
  }

  // The key just after the head: where the head's subtree ends. Null: no end.
  async bound (): Promise<Buffer | null> {
    for (let k = this.stack.length - 1; k >= 0; k--) {
      const f = this.stack[k]
      const j = f.slot >> 1
      if (j < f.node.keys.length) return (await this.blockAt(f.node.keys[j])).key
    }
    return null
  }

  // The entry of the key at the head, without moving past it.
  async peekEntry (): Promise<BeeEntry> {
    const b = await this.blockAt(this.head()!.seq)
    return { seq: b.seq, key: b.key, value: b.value }
  }
}
