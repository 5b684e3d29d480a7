// Checks what a core reads from its own files against its Merkle tree, so that
// no byte a failing disk or another process changed reaches a caller.
//   - a block is good when leaf = H(0x00 ‖ u64 size ‖ data) of the bytes read
//     equals its leaf node, and that leaf is proven up to a root:
//   - each parent on the way up is recomputed from its two stored children,
//     parent = H(0x01 ‖ u64 (sizeL+sizeR) ‖ left ‖ right), and must equal the
//     stored parent, hash and size, or for a root the root held in memory
//     (loaded and checked against the signature at open);
//   - the climb ends at a root, or at a node proven by an earlier climb (a
//     parent it proved, and both children of that parent: the hash of each
//     is part of the parent's).
// Proofs are lazy (opening a core of any length costs nothing) and remembered
// until the core closes: `blocks` marks blocks whose bytes matched since open,
// so repeat reads cost nothing, and `nodes` the nodes proven so far, where
// the next climb stops (for a sequential read, after one level): parents a
// climb proved, and every node an append computed in this open (a writer's
// own leaves and parents, from the bytes in memory). Those are trusted until
// close like any proven node; a read of those blocks still checks their
// bytes in the data file. A zero-copy read of a run of blocks none of which
// was checked yet proves their leaves together (leaves()): level by level,
// each parent above them hashed once.
//
// The leaf hash of a block's bytes is what costs (BLAKE2b, ~670 MB/s here);
// the climb from its leaf is a few small hashes. So a read whose bytes match
// the block's entry in the checksums sidecar (checksums.ts: CRC-32 and length
// of bytes that were checked against this leaf when recorded) takes them as
// matching the leaf, at CRC speed; the leaf itself is still climbed to a root.
// Without a matching entry the bytes are hashed, and when they match the
// entry is recorded (filled in for storage written before there were
// entries, or repaired). `hashed` marks the blocks hashed since open: a block
// served to a peer is hashed first, as before the sidecar, because a peer
// that gets a damaged block takes us for a malicious one.
//
// Once a block's bytes match, its leaf's size is proven, and with it the size
// of every left sibling on its path (parent size minus the proven child), so
// byte offsets computed from these nodes are proven too. Before that an offset
// may be wrong, but then the bytes read there cannot match the leaf.
import * as flat from './flat-tree.js'
import { Bitfield } from './bitfield.js'
import type { MerkleTree } from './merkle-tree.js'
import type { TreeNode } from './tree-node.js'
import type { StorageFile } from './storage.js'
import type { Checksums } from './checksums.js'
import { leafHash, parentHash } from '../crypto/index.js'

const MAX_CLIMB = 128 // levels from a leaf to its root; 2^64 blocks need 64

// What failed: the file to name, and the stored tree nodes that can no longer
// be trusted (a replica zeroes them so a peer's proof replaces them).
export class Damage {
  constructor (readonly file: StorageFile, readonly message: string, readonly untrusted: number[]) {}
}

// Where a climb reads nodes and records what it proved: the core's cache and
// proven set for reads, the files on disk and a set of its own for a full check.
export interface ClimbContext {
  get: (index: number) => TreeNode | null
  proven: Bitfield
}

export class LocalVerifier {
  private blocks = new Bitfield()
  private hashedBlocks = new Bitfield()
  private nodes = new Bitfield()
  private rootsSeen: TreeNode[] | null = null
  private rootsByIndex = new Map<number, TreeNode>()
  private readonly tree: MerkleTree
  private readonly data: StorageFile
  private readonly sums: Checksums
  // whether the core still holds a block: an entry is recorded only then, so
  // a read that raced clear() does not write one back after clear zeroed it
  private readonly held: (index: number) => boolean
  readonly reads: ClimbContext
  // blocks whose bytes check() hashed since open (for tests and benchmarks:
  // a read that matched its checksum entry does not count), and parents a
  // climb hashed again
  hashes = 0
  parentHashes = 0

  constructor (tree: MerkleTree, data: StorageFile, sums: Checksums, held: (index: number) => boolean) {
    this.tree = tree
    this.data = data
    this.sums = sums
    this.held = held
    this.reads = { get: (i) => tree.nodeSync(i), proven: this.nodes }
  }

  has (index: number): boolean {
    return this.blocks.get(index)
  }

  // whether block `index`'s bytes were hashed against its leaf since open
  hashed (index: number): boolean {
    return this.hashedBlocks.get(index)
  }

  hasAll (from: number, to: number): boolean {
    return from >= to || this.blocks.firstUnset(from) >= to
  }

  // The leaf of block `index`, proven up to a root, or what is damaged.
  leaf (index: number, ctx: ClimbContext = this.reads): TreeNode | Damage {
    const leaf = ctx.get(2 * index)
    const failed = leaf ? this.climb(leaf, ctx) : `the leaf of block ${index} is missing or unreadable`
    if (!failed) return leaf!
    return new Damage(this.tree.file, leaf ? `${failed} (block ${index})` : failed, this.untrusted(2 * index, ctx))
  }

  // The leaves of blocks [from, to), none of them checked since open,
  // proven up to a root or a proven parent level by level: each parent
  // above them is hashed once, from the two children below it (computed
  // here, or stored: a sibling outside the run), and must equal the stored
  // one, as in climb(). What leaf() proves block by block, for the cost of
  // one climb per run. Null when a node is missing or does not match: then
  // leaf() tells, per block, which and why (nothing was marked proven).
  leaves (from: number, to: number): TreeNode[] | null {
    const ctx = this.reads
    const out: TreeNode[] = []
    for (let i = from; i < to; i++) {
      const leaf = ctx.get(2 * i)
      if (!leaf) return null
      out.push(leaf)
    }
    const roots = this.rootMap()
    const climbed: number[] = []
    let level = out
    for (let d = 0; level.length > 0; d++) {
      if (d >= MAX_CLIMB) return null
      const next: TreeNode[] = []
      for (let k = 0; k < level.length; k++) {
        const cur = level[k]
        const root = roots.get(cur.index)
        if (d === 0 && root && (root.size !== cur.size || !root.hash.equals(cur.hash))) return null
        if (root || ctx.proven.get(cur.index)) continue
        // every node of this level is at depth d
        const o = flat.offset(cur.index, d)
        const s = flat.siblingAt(d, o)
        // a left child's sibling may be the next node of the run
        const paired = k + 1 < level.length && level[k + 1].index === s
        const sibling = paired ? level[++k] : ctx.get(s)
        if (!sibling) return null
        const up = flat.parentAt(d, o)
        const parent = roots.get(up) ?? ctx.get(up)
        this.parentHashes++
        if (!parent || parent.size !== cur.size + sibling.size || !parentHash(cur, sibling).equals(parent.hash)) return null
        climbed.push(up, cur.index, sibling.index)
        next.push(parent)
      }
      level = next
    }
    for (const i of climbed) ctx.proven.set(i, true)
    return out
  }

  // Climbs from stored node `start` to a root (compared with the roots in
  // memory) or a parent proven before, checking each parent on the way, and
  // marks them proven. Null when it got there, else what failed.
  private climb (start: TreeNode, ctx: ClimbContext): string | null {
    const climbed: number[] = []
    let cur = start
    // where cur stands: its depth and its offset at that depth
    let d = flat.depth(start.index)
    let o = flat.offset(start.index, d)
    for (let level = 0; level < MAX_CLIMB; level++, d++, o = Math.floor(o / 2)) {
      const root = this.rootAt(cur.index)
      if (level === 0 && root && (root.size !== cur.size || !root.hash.equals(cur.hash))) return `node ${cur.index} does not match the signed root`
      if (root || ctx.proven.get(cur.index)) {
        for (const i of climbed) ctx.proven.set(i, true)
        return null
      }
      const up = flat.parentAt(d, o)
      const s = flat.siblingAt(d, o)
      const sibling = ctx.get(s)
      if (!sibling) return `node ${s} is missing or unreadable`
      const size = cur.size + sibling.size
      const hash = parentHash(cur, sibling)
      this.parentHashes++
      // a root is compared with the one in memory, which open checked against the signature
      const upRoot = this.rootAt(up)
      const parent = upRoot ?? ctx.get(up)
      if (!parent) return `node ${up} is missing or unreadable`
      if (parent.size !== size || !hash.equals(parent.hash)) return `node ${up} does not match its children`
      // a proven parent proves both children: the sibling's climb stops at once
      climbed.push(up, cur.index, s)
      cur = parent
    }
    return `no root within ${MAX_CLIMB} levels`
  }

  // The stored nodes from `index` up to the lowest ancestor that still
  // proves good from above (or is proven, or a root): the path that failed,
  // none of which may anchor a peer's proof. Only these are dropped, so the
  // blocks that lose their proof with them stay few.
  private untrusted (index: number, ctx: ClimbContext): number[] {
    const out = [index]
    for (let i = flat.parent(index), d = 0; d < MAX_CLIMB; i = flat.parent(i), d++) {
      if (this.rootAt(i) || ctx.proven.get(i)) break
      const node = ctx.get(i)
      if (node && !this.climb(node, ctx)) break
      out.push(i)
    }
    return out
  }

  // Marks block `index` good when `data`, read from the data file, is the
  // block its proven `leaf` names: the same bytes as its checksum entry was
  // recorded from, or (with `hash`, or without a matching entry) hashing to
  // the leaf, and then its entry is recorded.
  check (index: number, leaf: TreeNode, data: Uint8Array, hash = false): Damage | null {
    if (data.byteLength !== leaf.size) return new Damage(this.data, `block ${index} does not match its hash`, [])
    if (!hash && this.sums.matches(index, data)) {
      this.blocks.set(index, true)
      return null
    }
    this.hashes++
    if (!leafHash(data).equals(leaf.hash)) return new Damage(this.data, `block ${index} does not match its hash`, [])
    this.blocks.set(index, true)
    this.hashedBlocks.set(index, true)
    if (this.held(index)) this.sums.record(index, data)
    return null
  }

  // Nodes this core computed itself from the bytes it appended (its own
  // leaves, and the parents above them): proven, as a climb would leave
  // them, so the first read of those blocks checks their bytes (against the
  // checksum entry, or the leaf) without hashing the tree again.
  computed (nodes: TreeNode[]): void {
    for (const n of nodes) this.nodes.set(n.index, true)
  }

  // a block a replica dropped, to fetch again
  forget (index: number): void {
    this.blocks.set(index, false)
    this.hashedBlocks.set(index, false)
  }

  // blocks given back to the disk: their bytes there are gone
  forgetRange (start: number, end: number): void {
    this.blocks.setRange(start, end, false)
    this.hashedBlocks.setRange(start, end, false)
  }

  // after a truncation, nodes and blocks past it are gone or rewritten
  reset (): void {
    this.blocks = new Bitfield()
    this.hashedBlocks = new Bitfield()
    this.nodes = new Bitfield()
    this.reads.proven = this.nodes
  }

  // trusts what a full check proved (it hashed the blocks)
  adopt (proven: Bitfield, blocks: Iterable<number>): void {
    for (const [s, e] of proven.runs()) this.nodes.setRange(s, e, true)
    for (const i of blocks) {
      this.blocks.set(i, true)
      this.hashedBlocks.set(i, true)
    }
  }

  // the roots in memory by index, made again when the tree's roots change
  private rootMap (): Map<number, TreeNode> {
    if (this.rootsSeen !== this.tree.roots) {
      this.rootsSeen = this.tree.roots
      this.rootsByIndex = new Map(this.tree.roots.map((r) => [r.index, r]))
    }
    return this.rootsByIndex
  }

  private rootAt (index: number): TreeNode | null {
    for (const r of this.tree.roots) if (r.index === index) return r
    return null
  }
}
