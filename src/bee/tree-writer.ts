// The write side of a Hyperbee: put and del on a copy-on-write B-tree, and the
// blocks they append (docs/hyperbee.md §2.4-2.7). The bytes must equal what
// hyperbee@2 writes for the same operations, so this follows its rules to the
// letter: T = 5 (a node splits when it reaches 9 keys, and rebalances below
// 4), which neighbour a delete borrows from, merges into and takes a
// replacement key from, and which nodes count as changed, since each block
// stores exactly the changed nodes, in depth-first pre-order.
//
// A Transaction applies operations in order to one live tree in memory. Each
// operation gets its own block (and seq); a node is stored in the block of the
// last operation that changed it, so at flush every block but the last keeps
// only the nodes whose pointer still names it, compacted by swap-remove.
import { encode } from '../codec/state.js'
import { beeNode, type BeeLevel } from '../codec/bee-node.js'
import type { BlockStore, ReadOptions } from './block-store.js'
import { MAX_TREE_DEPTH } from './range.js'
import { HyperfsError } from '../errors.js'

const MIN_KEYS = 4 // T - 1
const MAX_CHILDREN = 9 // 2 * MIN_KEYS + 1: a node that reaches this many keys splits

class KeyRef {
  constructor (public seq: number, public key: Buffer | null) {}
}

// A pointer to a child node. The same object is shared by the parent and by
// the pending index of the block that stores the child, so renumbering it at
// flush renumbers the parent's pointer too.
class ChildRef {
  constructor (public seq: number, public offset: number, public node: Node | null) {}
}

class Node {
  changed = false
  constructor (public keys: KeyRef[], public children: ChildRef[]) {}

  get leaf (): boolean { return this.children.length === 0 }

  static fresh (): Node {
    const n = new Node([], [])
    n.changed = true
    return n
  }
}

interface PendingBlock {
  seq: number
  key: Buffer
  value: Buffer | null
  index: Array<ChildRef | null>
}

export class Transaction {
  private store: BlockStore
  private base: number
  private pending: PendingBlock[] = []
  private opts: ReadOptions

  // `base` is the core length the blocks will follow (the header included)
  constructor (store: BlockStore, base: number, opts: ReadOptions = {}) {
    this.store = store
    this.base = base
    this.opts = opts
  }

  get length (): number { return this.pending.length }

  private get nextSeq (): number { return this.base + this.pending.length }

  private async root (): Promise<Node | null> {
    const last = this.pending[this.pending.length - 1]
    if (last) return last.index[0]!.node
    if (this.base < 2) return null
    const r = await this.store.root(this.base, this.opts)
    return r && this.load(r.seq, r.offset)
  }

  private async load (seq: number, offset: number): Promise<Node> {
    const p = seq >= this.base ? this.pending[seq - this.base] : null
    if (p) {
      const ref = p.index[offset]
      if (ref?.node) return ref.node
    }
    const n = await this.store.node(seq, offset, this.opts)
    return new Node(n.keys.map((k) => new KeyRef(k, null)), n.children.map((c) => new ChildRef(c.seq, c.offset, null)))
  }

  // Every descent counts its steps: a damaged tree with a pointer loop must end in an error.
  private deeper (depth: number): number {
    if (depth >= MAX_TREE_DEPTH) throw HyperfsError.INVALID_BEE(`tree deeper than ${MAX_TREE_DEPTH} levels (a pointer loop?)`)
    return depth + 1
  }

  private async child (node: Node, i: number): Promise<Node> {
    const c = node.children[i]
    if (!c.node) c.node = await this.load(c.seq, c.offset)
    return c.node
  }

  private async keyOf (k: KeyRef): Promise<Buffer> {
    if (k.key) return k.key
    const p = k.seq >= this.base ? this.pending[k.seq - this.base] : null
    k.key = p ? p.key : await this.store.key(k.seq, this.opts)
    return k.key
  }

  // Binary search as the library does it: the index of an equal key (found),
  // or the position where the key would go.
  private async search (node: Node, key: Buffer): Promise<{ found: boolean, i: number }> {
    let s = 0
    let e = node.keys.length
    while (s < e) {
      const mid = (s + e) >> 1
      const c = Buffer.compare(key, await this.keyOf(node.keys[mid]))
      if (c === 0) return { found: true, i: mid }
      if (c < 0) e = mid
      else s = mid + 1
    }
    return { found: false, i: s }
  }

  async put (key: Buffer, value: Buffer | null): Promise<void> {
    const seq = this.nextSeq
    const target = new KeyRef(seq, key)
    let root = await this.root() ?? Node.fresh()
    const stack: Node[] = []
    let node = root
    for (let depth = 0; !node.leaf; depth = this.deeper(depth)) {
      stack.push(node)
      node.changed = true
      const { found, i } = await this.search(node, key)
      // an existing key is replaced in place, wherever it is, even with an equal value
      if (found) {
        node.keys[i] = target
        return this.emit(root, seq, key, value)
      }
      node = await this.child(node, i)
    }

    const { found, i } = await this.search(node, key)
    node.changed = true
    if (found) {
      node.keys[i] = target
      return this.emit(root, seq, key, value)
    }
    node.keys.splice(i, 0, target)

    while (node.keys.length >= MAX_CHILDREN) {
      const { median, right } = await this.split(node)
      const parent = stack.pop()
      if (!parent) {
        root = Node.fresh()
        root.keys.push(median)
        root.children.push(new ChildRef(0, 0, node), new ChildRef(0, 0, right))
        break
      }
      const at = await this.search(parent, median.key!)
      parent.keys.splice(at.i, 0, median)
      parent.children.splice(at.i + 1, 0, new ChildRef(0, 0, right))
      parent.changed = true
      node = parent
    }
    this.emit(root, seq, key, value)
  }

  // The left half stays in `node`; the median moves up.
  private async split (node: Node): Promise<{ median: KeyRef, right: Node }> {
    const half = node.keys.length >> 1
    const rightKeys = node.keys.splice(node.keys.length - half, half)
    const median = node.keys.pop()!
    await this.keyOf(median)
    const rightChildren = node.leaf ? [] : node.children.splice(node.children.length - (half + 1), half + 1)
    const right = new Node(rightKeys, rightChildren)
    right.changed = true
    node.changed = true
    return { median, right }
  }

  // Deleting an absent key appends nothing. Resolves whether a block was added.
  async del (key: Buffer): Promise<boolean> {
    const root = await this.root()
    if (!root) return false
    const seq = this.nextSeq
    const stack: Node[] = []
    let node = root
    for (let depth = 0; ; depth = this.deeper(depth)) {
      stack.push(node)
      const { found, i } = await this.search(node, key)
      if (found) {
        if (node.leaf) node.keys.splice(i, 1)
        else await this.takeNearestLeafKey(node, i, stack)
        // marked only now: a miss must not rewrite the path
        for (const n of stack) n.changed = true
        this.emit(await this.rebalance(stack), seq, key, null)
        return true
      }
      if (node.leaf) return false
      node = await this.child(node, i)
    }
  }

  private async leafSize (node: Node, leftmost: boolean): Promise<number> {
    for (let depth = 0; !node.leaf; depth = this.deeper(depth)) node = await this.child(node, leftmost ? 0 : node.children.length - 1)
    return node.keys.length
  }

  // Replaces internal key i with the nearest key from the neighbouring leaf
  // that has more keys (the left one on a tie), pushing the path to that leaf.
  private async takeNearestLeafKey (node: Node, i: number, stack: Node[]): Promise<void> {
    const [left, right] = await Promise.all([this.child(node, i), this.child(node, i + 1)])
    const [ls, rs] = await Promise.all([this.leafSize(left, false), this.leafSize(right, true)])
    if (ls < rs) {
      let n = right
      stack.push(n)
      while (!n.leaf) { n = n.children[0].node!; stack.push(n) }
      node.keys[i] = n.keys.shift()!
    } else {
      let n = left
      stack.push(n)
      while (!n.leaf) { n = n.children[n.children.length - 1].node!; stack.push(n) }
      node.keys[i] = n.keys.pop()!
    }
  }

  // Bottom-up along the delete's path: borrow from the left sibling, else from
  // the right one, else merge (into the left sibling when there is one) and go
  // on with the parent. Returns the new root.
  private async rebalance (stack: Node[]): Promise<Node> {
    const root = stack[0]
    while (stack.length > 1) {
      const node = stack.pop()!
      const parent = stack[stack.length - 1]
      if (node.keys.length >= MIN_KEYS) return root
      let index = parent.children.findIndex((c) => c.node === node)
      if (index < 0) throw new Error('bee rebalance: node is not a child of its parent')
      let left = index > 0 ? await this.child(parent, index - 1) : null
      let right = index < parent.children.length - 1 ? await this.child(parent, index + 1) : null

      if (left && left.keys.length > MIN_KEYS) {
        left.changed = true
        node.keys.unshift(parent.keys[index - 1])
        if (!left.leaf) node.children.unshift(left.children.pop()!)
        parent.keys[index - 1] = left.keys.pop()!
        return root
      }
      if (right && right.keys.length > MIN_KEYS) {
        right.changed = true
        node.keys.push(parent.keys[index])
        if (!right.leaf) node.children.push(right.children.shift()!)
        parent.keys[index] = right.keys.shift()!
        return root
      }

      if (left) { index--; right = node } else left = node
      left.changed = true
      left.keys.push(parent.keys[index], ...right!.keys)
      left.children.push(...right!.children)
      parent.keys.splice(index, 1)
      // the merged-away node's pointer is dead: an earlier block of this batch must not keep it
      parent.children[index + 1].seq = 0
      parent.children.splice(index + 1, 1)
      parent.changed = true
    }
    if (root.keys.length === 0 && !root.leaf) return this.child(root, 0)
    return root
  }

  // Records the block of one operation: level 0 is the root, then every
  // changed node reachable from it, depth-first pre-order.
  private emit (root: Node, seq: number, key: Buffer, value: Buffer | null): void {
    const index: Array<ChildRef | null> = []
    const visit = (node: Node): number => {
      const offset = index.push(null) - 1
      node.changed = false
      for (const c of node.children) {
        if (!c.node || !c.node.changed) continue
        c.seq = seq
        c.offset = visit(c.node)
        index[c.offset] = c
      }
      return offset
    }
    visit(root)
    index[0] = new ChildRef(seq, 0, root)
    this.pending.push({ seq, key, value, index })
  }

  // The encoded blocks, in order. Earlier blocks drop their root and every node
  // a later operation rewrote; the survivors are renumbered by swap-remove,
  // block by block, before any later block is encoded (a later block may point
  // at them).
  blocks (): Buffer[] {
    const out: Buffer[] = []
    const last = this.pending.length - 1
    for (const [i, p] of this.pending.entries()) {
      const index = p.index
      if (i < last) {
        index[0] = null
        let j = 0
        while (j < index.length) {
          const ref = index[j]
          if (ref !== null && ref.seq === p.seq) { ref.offset = j++; continue }
          const tail = index.pop()!
          if (j < index.length) index[j] = tail
        }
      }
      out.push(encode(beeNode, { index: index.map((ref) => level(ref!.node!)), key: p.key, value: p.value }))
    }
    return out
  }
}

function level (n: Node): BeeLevel {
  return { keys: n.keys.map((k) => k.seq), children: n.children.map((c) => ({ seq: c.seq, offset: c.offset })) }
}
