// The Merkle tree of a core: node storage, roots, appends, proofs.
//   leaf = H(0x00 ‖ u64 size ‖ data), parent = H(0x01 ‖ u64 size ‖ left ‖ right)
// Proofs follow Hypercore 11 exactly (docs/wire.md §6.4): a block/hash proof lists the
// siblings on the path up to a node the requester stores (a hash proof lists the
// node itself first); an upgrade proof walks the full roots of the new length,
// sending right-hand siblings from the requester's last root up to the first new
// root and every later root whole; a block past the requester's length replaces
// the upgrade node that contains it. `additionalNodes` extend the upgrade to the
// responder's signed length.
import { ownCopy } from '../own-copy.js'
import * as flat from './flat-tree.js'
import type { TreeNode } from './tree-node.js'
import type { StorageFile } from './storage.js'
import { leafHash, parentHash, treeHash } from '../crypto/index.js'
import { TREE_RECORD_SIZE, encodeTreeRecord, decodeTreeRecord } from '../codec/core-storage.js'
import { DecodeError } from '../codec/decode-error.js'
import { HyperfsError, isHyperfsError } from '../errors.js'
import type { Manifest } from '../codec/manifest.js'

export interface ProofRequest {
  fork: number
  block: { index: number, nodes: number } | null
  hash: { index: number, nodes: number } | null
  seek: { bytes: number, padding: number } | null
  upgrade: { start: number, length: number } | null
  manifest?: boolean
}

export interface Proof {
  fork: number
  block: { index: number, value: Buffer | null, nodes: TreeNode[] } | null
  hash: { index: number, nodes: TreeNode[] } | null
  seek: { bytes: number, nodes: TreeNode[] } | null
  upgrade: { start: number, length: number, nodes: TreeNode[], additionalNodes: TreeNode[], signature: Buffer | null } | null
  manifest?: Manifest | null
}

// The outcome of verifying a proof: new nodes to store, and a tree to adopt if
// the proof carried an upgrade. The caller checks the upgrade's signature.
export interface VerifiedProof {
  nodes: TreeNode[]
  upgrade: TreeBatch | null
}

export interface TreeBatch {
  nodes: TreeNode[]
  roots: TreeNode[]
  length: number
  byteLength: number
  fork: number
  signature: Buffer | null
  offsets?: Map<number, number> // leaf index → byte offset, for leaves in `nodes`
}

const MAX_CACHE = 65536
const MAX_DEPTH = 128
// records read at once by readAhead(): a run of blocks read in order needs
// its leaves and the parents between them, which lie side by side in the
// file (12 KiB: the nodes of 128 blocks)
const READ_AHEAD_RECORDS = 256
const MAX_READ_RECORDS = 8192 // 384 KiB

class NodeQueue {
  private i = 0
  extra: TreeNode | null

  constructor (private nodes: TreeNode[], extra: TreeNode | null = null) {
    this.extra = extra
  }

  get length (): number { return this.nodes.length - this.i + (this.extra ? 1 : 0) }

  shift (index: number): TreeNode {
    if (this.extra && this.extra.index === index) {
      const n = this.extra
      this.extra = null
      return n
    }
    if (this.i >= this.nodes.length) throw HyperfsError.INVALID_PROOF(`expected node ${index}, got none`)
    const n = this.nodes[this.i++]
    if (n.index !== index) throw HyperfsError.INVALID_PROOF(`expected node ${index}, got node ${n.index}`)
    return n
  }
}

function parentNode (index: number, a: TreeNode, b: TreeNode): TreeNode {
  return { index, size: a.size + b.size, hash: parentHash(a, b) }
}

function checkNode (n: TreeNode): void {
  if (!Number.isSafeInteger(n.index) || n.index < 0 || !Number.isSafeInteger(n.size) || n.size < 0 || n.hash.byteLength !== 32) {
    throw HyperfsError.INVALID_PROOF('malformed tree node')
  }
}

// Adds `node` as the new last root and merges it with left siblings, keeping
// the batch's roots equal to fullRoots(2·length). Throws if it does not fit.
function appendRoot (batch: TreeBatch, node: TreeNode): void {
  checkNode(node)
  const roots = batch.roots
  if (flat.leftSpan(node.index) !== 2 * batch.length) throw HyperfsError.INVALID_PROOF(`node ${node.index} does not extend the tree`)
  if (roots.length > 0 && flat.depth(node.index) > flat.depth(roots[roots.length - 1].index)) {
    throw HyperfsError.INVALID_PROOF(`node ${node.index} is larger than the last root`)
  }
  batch.length += flat.countLeaves(node.index)
  batch.byteLength += node.size
  roots.push(node)
  batch.nodes.push(node)
  while (roots.length > 1) {
    const a = roots[roots.length - 1]
    const b = roots[roots.length - 2]
    if (flat.sibling(a.index) !== b.index) break
    const p = parentNode(flat.parent(a.index), b, a)
    batch.nodes.push(p)
    roots.pop(); roots.pop()
    roots.push(p)
  }
}

// the root index reached by climbing `nodes` parents from `index`
function nodesToRoot (index: number, nodes: number, head: number): number {
  let ite = index
  for (let i = 0; i < nodes; i++) {
    ite = flat.parent(ite)
    if (flat.contains(ite, head)) throw HyperfsError.INVALID_OPERATION('nodes is out of bounds')
  }
  return ite
}

function climbTo (from: number, root: number): void {
  if (!flat.contains(root, from)) throw HyperfsError.INVALID_OPERATION(`node ${from} is not under ${root}`)
}

interface ProofIndexes {
  node: number[] | null
  seek: number[] | null
  upgrade: number[] | null
  additional: number[] | null
}

interface IndexedTarget { value: boolean, index: number, nodes: number, lastIndex: number }

// A stored record, or null when absent or unreadable (a damaged size field can
// decode past 2^53): either way the node cannot be used.
function toRecord (index: number, buf: Buffer): { node: TreeNode, byteOffset: number | null } | null {
  let r
  try {
    r = decodeTreeRecord(buf, 0)
  } catch (err) {
    if (err instanceof DecodeError) return null
    throw err
  }
  if (!r) return null
  return { node: { index, size: r.size, hash: r.hash }, byteOffset: r.byteOffset }
}

export class MerkleTree {
  readonly file: StorageFile
  roots: TreeNode[] = []
  length = 0
  byteLength = 0
  fork = 0
  signature: Buffer | null = null
  private cache = new Map<number, TreeNode>()

  constructor (file: StorageFile) {
    this.file = file
  }

  // Loads the roots of a tree of `length` blocks. Missing roots mean the tree
  // file is shorter or damaged compared to the state that points into it.
  async load (length: number, fork: number, signature: Buffer | null): Promise<void> {
    const idx = flat.fullRoots(2 * length)
    const roots = await Promise.all(idx.map((i) => this.getNode(i)))
    for (let k = 0; k < roots.length; k++) {
      if (!roots[k]) throw HyperfsError.STORAGE_CORRUPT(`${this.file.name}: root node ${idx[k]} is missing`)
    }
    this.roots = roots as TreeNode[]
    this.length = length
    this.byteLength = this.roots.reduce((s, r) => s + r.size, 0)
    this.fork = fork
    this.signature = signature
  }

  hash (roots: TreeNode[] = this.roots): Buffer {
    return treeHash(roots)
  }

  // ---- node storage ----

  async getRecord (index: number): Promise<{ node: TreeNode, byteOffset: number | null } | null> {
    let buf: Buffer
    try {
      buf = await this.file.read(index * TREE_RECORD_SIZE, TREE_RECORD_SIZE)
    } catch (err: any) {
      if (isHyperfsError(err, 'STORAGE_CORRUPT')) return null // past the end: absent
      throw err
    }
    return toRecord(index, buf)
  }

  async getNode (index: number): Promise<TreeNode | null> {
    const c = this.cache.get(index)
    if (c) return c
    const r = await this.getRecord(index)
    if (!r) return null
    this.remember(r.node)
    return r.node
  }

  async getNodeOrError (index: number): Promise<TreeNode> {
    const n = await this.getNode(index)
    if (!n) throw HyperfsError.INVALID_OPERATION(`tree node ${index} is not stored`)
    return n
  }

  async hasNode (index: number): Promise<boolean> {
    return (await this.getNode(index)) !== null
  }

  // Synchronous reads, for local verification inside the zero-copy read,
  // which cannot wait (a 48-byte record is one pread). recordSync skips the
  // cache: `hyperfs verify` reads what is on disk now.
  recordSync (index: number): { node: TreeNode, byteOffset: number | null } | null {
    const buf = Buffer.allocUnsafe(TREE_RECORD_SIZE)
    if (this.file.readInto(index * TREE_RECORD_SIZE, buf, 0, TREE_RECORD_SIZE) < TREE_RECORD_SIZE) return null
    return toRecord(index, buf)
  }

  nodeSync (index: number): TreeNode | null {
    const c = this.cache.get(index)
    if (c) return c
    const r = this.recordSync(index)
    if (!r) return null
    this.remember(r.node)
    return r.node
  }

  // Caches the stored nodes of [from, to] (flat indices) with few reads of
  // the tree file (none when all are cached): from the first of them not
  // cached, whole aligned windows of READ_AHEAD_RECORDS (a window is the
  // subtree of 128 blocks, so their climbs stay inside it up to its top),
  // at most MAX_READ_RECORDS at a time. Nodes cached already are kept as they
  // are. What cannot be read is left to nodeSync, which reads it again and
  // reports it.
  readAhead (from: number, to: number): void {
    while (from <= to && this.cache.has(from)) from++
    if (from > to) return
    const start = from - from % READ_AHEAD_RECORDS
    const end = Math.ceil((to + 1) / READ_AHEAD_RECORDS) * READ_AHEAD_RECORDS
    for (let at = start; at < end; at += MAX_READ_RECORDS) {
      const count = Math.min(MAX_READ_RECORDS, end - at)
      const buf = Buffer.allocUnsafe(count * TREE_RECORD_SIZE)
      let n: number
      try {
        n = this.file.readInto(at * TREE_RECORD_SIZE, buf, 0, buf.byteLength)
      } catch (err) {
        if (!isHyperfsError(err, 'STORAGE_IO')) throw err
        return
      }
      for (let k = 0; (k + 1) * TREE_RECORD_SIZE <= n; k++) {
        if (this.cache.has(at + k)) continue
        const r = toRecord(at + k, buf.subarray(k * TREE_RECORD_SIZE, (k + 1) * TREE_RECORD_SIZE))
        if (r) this.remember(r.node)
      }
      if (n < buf.byteLength) return // the end of the file
    }
  }

  // byteOffset() of the current tree, from nodes read by `get`: a descent
  // from the root above the leaf, adding the size of each left child passed
  // (the children of a node at depth d lie 2^(d-1) either side of it).
  byteOffsetSync (index: number, get: (i: number) => TreeNode | null = (i) => this.nodeSync(i)): number {
    if (index === 2 * this.length) return this.byteLength
    if (index % 2 === 1) index = flat.leftSpan(index)
    let offset = 0
    for (const r of this.roots) {
      const reach = 2 ** flat.depth(r.index) - 1 // from the root to either end of its span
      if (r.index + reach < index) { offset += r.size; continue }
      if (index < r.index - reach) break
      let ite = r.index
      for (let half = (reach + 1) / 2; ite !== index && half >= 1; half /= 2) {
        if (index < ite) { ite -= half; continue }
        const left = get(ite - half)
        if (!left) throw HyperfsError.INVALID_OPERATION(`tree node ${ite - half} is not stored`)
        offset += left.size
        ite += half
      }
      if (ite !== index) break
      return offset
    }
    throw HyperfsError.INVALID_OPERATION(`node ${index} is outside the tree`)
  }

  // Zeroes stored nodes found damaged, so that a peer's proof replaces them
  // (a proof must end at a node we store, and these must not be it).
  async forget (indexes: number[]): Promise<void> {
    const zero = Buffer.alloc(TREE_RECORD_SIZE)
    for (const i of indexes) this.cache.delete(i)
    await Promise.all(indexes.map((i) => this.file.write(i * TREE_RECORD_SIZE, zero)))
  }

  private remember (n: TreeNode): void {
    if (this.cache.size >= MAX_CACHE) this.cache.clear()
    // a hash decoded from a proof is a view into the message that carried it
    // (which also holds a block), one read from disk a view into the read, and
    // a small copy a slice of Node's shared pool: the cache keeps its own
    if (n.hash.buffer.byteLength !== n.hash.byteLength) n = { index: n.index, size: n.size, hash: ownCopy(n.hash) }
    this.cache.set(n.index, n)
  }

  // Writes nodes as 48-byte records, coalescing neighbours into one write.
  async putNodes (nodes: TreeNode[], offsets?: Map<number, number>): Promise<void> {
    if (nodes.length === 0) return
    const sorted = nodes.slice().sort((a, b) => a.index - b.index)
    const writes: Promise<void>[] = []
    let runStart = 0
    for (let i = 1; i <= sorted.length; i++) {
      if (i < sorted.length && sorted[i].index <= sorted[i - 1].index + 1) continue
      const run = sorted.slice(runStart, i)
      const first = run[0].index
      const span = run[run.length - 1].index - first + 1
      const buf = Buffer.alloc(span * TREE_RECORD_SIZE)
      for (const n of run) {
        const off = n.index % 2 === 0 ? offsets?.get(n.index) ?? null : null
        encodeTreeRecord({ hash: n.hash, size: n.size, byteOffset: off }, buf, (n.index - first) * TREE_RECORD_SIZE)
      }
      writes.push(this.file.write(first * TREE_RECORD_SIZE, buf))
      runStart = i
    }
    for (const n of nodes) this.remember(n)
    await Promise.all(writes)
  }

  // Forgets nodes that a truncation from `oldLength` to `length` made invalid:
  // every node whose span reaches the first removed leaf. Those are the nodes
  // past it (cut off with the file) and its ancestors that start before it.
  async clear (length: number, oldLength: number): Promise<void> {
    const head = 2 * length
    for (const i of [...this.cache.keys()]) if (flat.rightSpan(i) >= head) this.cache.delete(i)
    const zero = Buffer.alloc(TREE_RECORD_SIZE)
    const writes: Promise<void>[] = []
    for (let n = head, d = 0; d < 64; d++) {
      n = flat.parent(n)
      if (n < head) writes.push(this.file.write(n * TREE_RECORD_SIZE, zero))
      if (flat.leftSpan(n) === 0 && flat.rightSpan(n) >= 2 * oldLength) break
    }
    await Promise.all(writes)
    if (await this.file.size() > head * TREE_RECORD_SIZE) await this.file.truncate(head * TREE_RECORD_SIZE)
  }

  // ---- appends (writer) ----

  batch (blocks: Buffer[]): TreeBatch {
    const b: TreeBatch = {
      nodes: [],
      roots: this.roots.slice(),
      length: this.length,
      byteLength: this.byteLength,
      fork: this.fork,
      signature: null,
      offsets: new Map()
    }
    for (const data of blocks) {
      const leaf: TreeNode = { index: 2 * b.length, size: data.byteLength, hash: leafHash(data) }
      b.offsets!.set(leaf.index, b.byteLength)
      appendRoot(b, leaf)
    }
    return b
  }

  commit (b: TreeBatch): void {
    this.roots = b.roots
    this.length = b.length
    this.byteLength = b.byteLength
    this.fork = b.fork
    this.signature = b.signature
  }

  // ---- byte offsets and seeks ----

  // Byte offset of the left edge of tree node `index` (a leaf: its block).
  // `view` evaluates it against another tree shape, e.g. a verified upgrade.
  async byteOffset (index: number, overlay?: Map<number, TreeNode>, view: { roots: TreeNode[], length: number, byteLength: number } = this): Promise<number> {
    if (index === 2 * view.length) return view.byteLength
    if (index % 2 === 1) index = flat.leftSpan(index)
    let offset = 0
    for (const r of view.roots) {
      if (flat.rightSpan(r.index) < index) { offset += r.size; continue }
      if (!flat.contains(r.index, index)) break
      let ite = r.index
      while (ite !== index) {
        const [l, rr] = flat.children(ite)!
        if (index <= flat.rightSpan(l)) { ite = l; continue }
        const left = overlay?.get(l) ?? await this.getNode(l)
        if (!left) throw HyperfsError.INVALID_OPERATION(`tree node ${l} is not stored`)
        offset += left.size
        ite = rr
      }
      return offset
    }
    throw HyperfsError.INVALID_OPERATION(`node ${index} is outside the tree`)
  }

  // Local seek: the block that holds byte `bytes` and the offset inside it, or
  // `{ missing }`, the deepest tree node holding that byte whose children are
  // not stored here (a sparse reader asks a peer about that subtree).
  async seek (bytes: number): Promise<[number, number] | { missing: number }> {
    if (bytes >= this.byteLength) {
      if (bytes === this.byteLength) return [this.length, 0]
      throw HyperfsError.BAD_ARGUMENT('seek past the end of the core')
    }
    for (const r of this.roots) {
      if (bytes >= r.size) { bytes -= r.size; continue }
      let ite = r.index
      while (ite % 2 === 1) {
        const [l, rr] = flat.children(ite)!
        const left = await this.getNode(l)
        if (!left) return { missing: ite }
        if (bytes < left.size) { ite = l; continue }
        bytes -= left.size
        ite = rr
      }
      return [ite / 2, bytes]
    }
    throw HyperfsError.BAD_ARGUMENT('seek past the end of the core')
  }

  // ---- proofs (responder) ----

  async proof (req: ProofRequest): Promise<Proof> {
    const head = 2 * this.length
    const from = req.upgrade ? 2 * req.upgrade.start : 0
    const to = req.upgrade ? from + 2 * req.upgrade.length : head
    const node = normalizeIndexed(req.block, req.hash)
    const out: Proof = { fork: this.fork, block: null, hash: null, seek: null, upgrade: null }
    if (head === 0) return out
    if (from >= to || to > head) throw HyperfsError.INVALID_OPERATION('invalid upgrade')
    if (req.seek && req.upgrade && node && node.index >= from) {
      throw HyperfsError.INVALID_OPERATION('cannot both seek and request a block or hash while upgrading')
    }
    if (node && (node.index < 0 || node.index >= to)) {
      if (!req.upgrade || node.index >= head) throw HyperfsError.INVALID_OPERATION('block is out of bounds')
    }

    const idx: ProofIndexes = { node: null, seek: null, upgrade: null, additional: null }
    let subTree = head

    if (node && (!req.upgrade || node.lastIndex < req.upgrade.start)) {
      subTree = nodesToRoot(node.index, node.nodes, to)
      const seekRoot = req.seek ? await this.seekUntrusted(subTree, req.seek.bytes) : head
      this.blockAndSeekProof(node, req.seek !== null, seekRoot, subTree, idx)
    } else if ((node || req.seek) && req.upgrade) {
      subTree = req.seek ? await this.seekFromHead(to, req.seek.bytes) : node!.index
    }

    if (req.upgrade) {
      this.upgradeProof(node, req.seek !== null, from, to, subTree, idx)
      if (head > to) idx.additional = extensionNodes(to, head)
    }

    const load = (list: number[] | null) => list === null ? null : Promise.all(list.map((i) => this.getNodeOrError(i)))
    const [pNode, pSeek, pUpgrade, pAdditional] = await Promise.all([load(idx.node), load(idx.seek), load(idx.upgrade), load(idx.additional)])

    if (req.block) {
      if (!pNode) throw HyperfsError.INVALID_OPERATION('invalid block request')
      out.block = { index: req.block.index, value: null, nodes: pNode }
    } else if (req.hash) {
      if (!pNode) throw HyperfsError.INVALID_OPERATION('invalid hash request')
      out.hash = { index: req.hash.index, nodes: pNode }
    }
    if (req.seek && pSeek) out.seek = { bytes: req.seek.bytes, nodes: pSeek }
    if (req.upgrade) {
      out.upgrade = {
        start: req.upgrade.start,
        length: req.upgrade.length,
        nodes: pUpgrade ?? [],
        additionalNodes: pAdditional ?? [],
        signature: this.signature
      }
    }
    return out
  }

  private seekProof (seekRoot: number, root: number, idx: ProofIndexes): void {
    climbTo(seekRoot, root)
    const list = [seekRoot]
    let ite = seekRoot
    while (ite !== root) {
      list.push(flat.sibling(ite))
      ite = flat.parent(ite)
    }
    idx.seek = list
  }

  private blockAndSeekProof (node: IndexedTarget | null, seek: boolean, seekRoot: number, root: number, idx: ProofIndexes): void {
    if (!node) return this.seekProof(seekRoot, root, idx)
    climbTo(node.index, root)
    const list: number[] = []
    let ite = node.index
    if (!node.value) list.push(ite)
    while (ite !== root) {
      const s = flat.sibling(ite)
      if (seek && flat.contains(s, seekRoot) && s !== seekRoot) this.seekProof(seekRoot, s, idx)
      else list.push(s)
      ite = flat.parent(ite)
    }
    idx.node = list
  }

  private upgradeProof (node: IndexedTarget | null, seek: boolean, from: number, to: number, subTree: number, idx: ProofIndexes): void {
    const upgrade: number[] = []
    for (const n of extensionNodes(from, to)) {
      // the node holding the requested block or seek is rebuilt from that proof instead
      if (idx.node === null && idx.seek === null && flat.contains(n, subTree)) this.blockAndSeekProof(node, seek, subTree, n, idx)
      else upgrade.push(n)
    }
    idx.upgrade = upgrade
  }

  private async seekFromHead (head: number, bytes: number): Promise<number> {
    for (const r of flat.fullRoots(head)) {
      const node = await this.getNodeOrError(r)
      if (bytes === node.size) return r
      if (bytes > node.size) { bytes -= node.size; continue }
      return this.seekTrusted(r, bytes)
    }
    return head
  }

  private async seekTrusted (root: number, bytes: number): Promise<number> {
    if (!bytes) return root
    let ite = root
    for (let d = 0; ite % 2 === 1 && d < MAX_DEPTH; d++) {
      const [l, r] = flat.children(ite)!
      const left = await this.getNode(l)
      if (!left) return ite
      if (left.size === bytes) return l
      if (left.size > bytes) { ite = l; continue }
      bytes -= left.size
      ite = r
    }
    return ite
  }

  private async seekUntrusted (root: number, bytes: number): Promise<number> {
    const offset = await this.byteOffset(root)
    if (offset > bytes) throw HyperfsError.INVALID_OPERATION('invalid seek')
    if (offset === bytes) return root
    bytes -= offset
    const node = await this.getNodeOrError(root)
    if (node.size <= bytes) throw HyperfsError.INVALID_OPERATION('invalid seek')
    return this.seekTrusted(root, bytes)
  }

  // ---- verification (requester) ----

  // Checks a proof's hashes. Nodes that do not reach a new signed root must
  // end at a node we already store with the same hash.
  async verify (proof: Proof): Promise<VerifiedProof> {
    const nodes: TreeNode[] = []
    let unverified = verifyTree(proof, nodes)
    let upgrade: TreeBatch | null = null

    if (proof.upgrade) {
      if (proof.upgrade.start !== this.length) throw HyperfsError.INVALID_PROOF(`upgrade starts at ${proof.upgrade.start}, we have ${this.length}`)
      upgrade = { nodes, roots: this.roots.slice(), length: this.length, byteLength: this.byteLength, fork: proof.fork, signature: proof.upgrade.signature }
      if (verifyUpgrade(proof.upgrade, unverified, upgrade)) unverified = null
    }

    if (unverified) {
      const stored = await this.getNode(unverified.index)
      if (!stored) throw HyperfsError.INVALID_PROOF(`node ${unverified.index} is not stored here`)
      if (!stored.hash.equals(unverified.hash)) throw HyperfsError.INVALID_PROOF(`checksum mismatch at node ${unverified.index}`)
    }
    return { nodes, upgrade }
  }
}

// The nodes that extend a tree whose leaves end before flat index `from`
// (2·length) to one ending before `to`: the right-hand siblings on the path
// from the old last leaf up to the new root over it, then every later root whole.
function extensionNodes (from: number, to: number): number[] {
  const out: number[] = []
  for (const r of flat.fullRoots(to)) {
    if (flat.rightSpan(r) + 1 < from) continue // an old root: they have it
    if (from > 0 && flat.contains(r, from - 2)) {
      for (let ite = from - 2; ite !== r; ite = flat.parent(ite)) {
        const s = flat.sibling(ite)
        if (s > from - 2) out.push(s)
      }
      continue
    }
    out.push(r)
  }
  return out
}

function normalizeIndexed (block: ProofRequest['block'], hash: ProofRequest['hash']): IndexedTarget | null {
  if (block) return { value: true, index: block.index * 2, nodes: block.nodes, lastIndex: block.index }
  if (hash) return { value: false, index: hash.index, nodes: hash.nodes, lastIndex: flat.rightSpan(hash.index) / 2 }
  return null
}

function verifyTree (proof: Proof, nodes: TreeNode[]): TreeNode | null {
  const target = proof.block
    ? { index: 2 * proof.block.index, value: proof.block.value, nodes: proof.block.nodes }
    : proof.hash
      ? { index: proof.hash.index, value: null, nodes: proof.hash.nodes }
      : null
  const seekNodes = proof.seek?.nodes ?? []
  if (!target && seekNodes.length === 0) return null

  let root: TreeNode | null = null
  if (seekNodes.length) {
    const q = new NodeQueue(seekNodes)
    root = climb(q, q.shift(seekNodes[0].index), nodes)
  }
  if (!target) return root

  if (!Number.isSafeInteger(target.index) || target.index < 0) throw HyperfsError.INVALID_PROOF('bad index')
  const q = new NodeQueue(target.nodes, root) // the seek subtree may stand in for a sibling
  const start = target.value ? { index: target.index, size: target.value.byteLength, hash: leafHash(target.value) } : q.shift(target.index)
  return climb(q, start, nodes)
}

// Hashes `start` up with the queued siblings, recording every node it makes.
function climb (q: NodeQueue, start: TreeNode, nodes: TreeNode[]): TreeNode {
  checkNode(start)
  let root = start
  nodes.push(root)
  for (let d = 0; q.length > 0; d++) {
    if (d > MAX_DEPTH) throw HyperfsError.INVALID_PROOF('proof too deep')
    const n = q.shift(flat.sibling(root.index))
    checkNode(n)
    root = parentNode(flat.parent(root.index), root, n)
    nodes.push(n, root)
  }
  return root
}

// Extends `batch` (the requester's tree) with the upgrade. Returns true when
// `blockRoot` was used, i.e. the block proof is anchored in the new roots.
function verifyUpgrade (upgrade: NonNullable<Proof['upgrade']>, blockRoot: TreeNode | null, batch: TreeBatch): boolean {
  const q = new NodeQueue(upgrade.nodes, blockRoot)
  const oldRoots = batch.roots.slice()
  let grow = oldRoots.length > 0
  let i = 0
  const to = 2 * (upgrade.start + upgrade.length)
  if (!Number.isSafeInteger(to) || upgrade.length <= 0) throw HyperfsError.INVALID_PROOF('bad upgrade range')

  for (const r of flat.fullRoots(to)) {
    if (i < oldRoots.length && oldRoots[i].index === r) { i++; continue }
    if (grow) {
      grow = false
      if (i < oldRoots.length) {
        for (let d = 0; batch.roots[batch.roots.length - 1].index !== r; d++) {
          if (d > MAX_DEPTH) throw HyperfsError.INVALID_PROOF('upgrade does not reach its root')
          appendRoot(batch, q.shift(flat.sibling(batch.roots[batch.roots.length - 1].index)))
        }
        continue
      }
    }
    appendRoot(batch, q.shift(r))
  }
  if (batch.length !== upgrade.start + upgrade.length) throw HyperfsError.INVALID_PROOF('upgrade length mismatch')

  const extra = upgrade.additionalNodes
  let k = 0
  while (k < extra.length && batch.roots.length && extra[k].index === flat.sibling(batch.roots[batch.roots.length - 1].index)) {
    appendRoot(batch, extra[k++])
  }
  while (k < extra.length) appendRoot(batch, extra[k++])

  return q.extra === null && blockRoot !== null
}
