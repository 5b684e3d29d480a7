// Hypertrie: an append-only hash trie on a Hypercore. Block 0 is the header
// (codec/trie-header.ts); every later block is one node (codec/trie-node.ts)
// holding one key's value (or a deletion marker) and, per trie depth, pointers
// to the latest node on each other branch. The newest block therefore indexes
// the whole trie, and version = core length.
//
// A lookup starts at the newest node and follows a pointer only where that
// node's path leaves the key's path, so it reads about log16(n) nodes. A
// folder's keys share its path digits, so listing it reads only the nodes in
// its subtree, fetched a whole trie level at a time (see subtree()) so that a
// sparse reader makes about one round trip per trie level, not one per entry.
// Nothing here assumes a block is local: every read goes through core.get().
//
// The blocks may come from a hostile writer, so nothing read is trusted to be
// shaped as a writer here would shape it: a pointer is followed only to an
// older node (so no walk can loop), and a node reached through one is used
// only if its path really starts with the digits the pointer stands for (so a
// listing never shows keys from elsewhere, and visits each node at most once).
import { ownCopy } from '../own-copy.js'
import type { Hypercore, GetOptions } from '../core/hypercore.js'
import { encode, decode } from '../codec/state.js'
import { trieHeader, TRIE_PROTOCOL, type TrieHeader } from '../codec/trie-header.js'
import { trieNode } from '../codec/trie-node.js'
import { HyperfsError, handled } from '../errors.js'
import { KEY_END, COMPONENT_DIGITS, splitKey, joinKey, keyPath, prefixPath, endDepth } from './key-path.js'
import { type TrieNode, type Bucket, fromRecord, toRecord, nodeBytes, oversizeKey, MAX_KEY_BYTES } from './trie-node.js'
import { NodeCache } from './node-cache.js'
import { Mutex } from '../core/mutex.js'

// How many node fetches a listing keeps started ahead of the one it is reading.
const PREFETCH_WINDOW = 2048

export interface TrieEntry {
  seq: number
  key: string
  hidden: boolean
  value: Buffer | null // null only for deletions in history()
}

export interface TrieReadOptions {
  hidden?: boolean
  timeout?: number
  signal?: AbortSignal
  wait?: boolean // false: a node that is not local fails with BLOCK_NOT_AVAILABLE instead of being fetched
}

export interface TrieListOptions extends TrieReadOptions {
  recursive?: boolean
}

export interface TrieBatchOp {
  type: 'put' | 'del'
  key: string
  value?: Uint8Array
  hidden?: boolean
}

export type TrieDiffEntry =
  | { type: 'put', key: string, hidden: boolean, value: Buffer, previous: Buffer | null }
  | { type: 'del', key: string, hidden: boolean, previous: Buffer }

export interface HypertrieOptions {
  metadata?: Uint8Array | null // written into the header when this creates the trie
  version?: number | null // a read-only checkout at this version
  timeout?: number // default wait for a block that is not local
  cache?: NodeCache<TrieNode>
  lock?: Mutex
}

type NodeGetter = (seq: number) => Promise<TrieNode>

export class Hypertrie {
  readonly core: Hypercore
  private snapshot: number | null
  private cache: NodeCache<TrieNode>
  private lock: Mutex
  private metadata: Uint8Array | null
  private timeout: number | undefined
  private opening: Promise<void> | null = null

  constructor (core: Hypercore, opts: HypertrieOptions = {}) {
    this.core = core
    this.snapshot = opts.version ?? null
    this.cache = opts.cache ?? new NodeCache({ weigh: nodeBytes })
    this.lock = opts.lock ?? new Mutex()
    this.metadata = opts.metadata ?? null
    this.timeout = opts.timeout
  }

  get version (): number {
    return this.snapshot ?? this.core.length
  }

  get writable (): boolean {
    return this.snapshot === null && this.core.writable
  }

  ready (): Promise<void> {
    if (!this.opening) this.opening = this.open()
    return this.opening
  }

  private async open (): Promise<void> {
    await this.core.ready()
    if (this.snapshot === null && this.core.length === 0 && this.core.writable) {
      await this.lock.run(async () => {
        if (this.core.length === 0) await this.core.append(encode(trieHeader, { protocol: TRIE_PROTOCOL, metadata: this.metadata }))
      })
    }
  }

  // A read-only view at `version` sharing this trie's node cache.
  checkout (version: number): Hypertrie {
    if (!Number.isSafeInteger(version) || version < 0) throw HyperfsError.BAD_ARGUMENT(`bad version ${version}`)
    return new Hypertrie(this.core, { version, cache: this.cache, lock: this.lock, timeout: this.timeout })
  }

  async getHeader (opts: TrieReadOptions = {}): Promise<TrieHeader> {
    await this.ready()
    const block = await this.core.get(0, this.getOpts(opts))
    try {
      return decode(trieHeader, block!)
    } catch (err) {
      throw HyperfsError.DECODE_ERROR('trie header: ' + (err as Error).message)
    }
  }

  // ---- reading ----

  async get (key: string, opts: TrieReadOptions = {}): Promise<TrieEntry | null> {
    await this.ready()
    const comps = splitKey(key)
    const hidden = opts.hidden === true
    const { node } = await this.walk(keyPath(comps, hidden), this.version, false, opts)
    if (!node || node.value === null || node.hidden !== hidden || node.key !== joinKey(comps)) return null
    return entry(node)
  }

  // The deepest existing key that is `key` itself or one of its ancestors
  // ('a/b' for 'a/b/c/d' when 'a/b' exists and 'a/b/c' does not).
  async closest (key: string, opts: TrieReadOptions = {}): Promise<TrieEntry | null> {
    await this.ready()
    const comps = splitKey(key)
    const hidden = opts.hidden === true
    const { node, candidates } = await this.walk(keyPath(comps, hidden), this.version, true, opts)
    if (node && node.value !== null && node.hidden === hidden && node.key === joinKey(comps)) return entry(node)
    for (let i = candidates.length - 1; i >= 0; i--) {
      const c = await this.node(candidates[i].seq, opts)
      // a pointer may lie: the node must be the ancestor it was found as
      if (c.value !== null && c.hidden === hidden && c.key === joinKey(comps.slice(0, candidates[i].components))) return entry(c)
    }
    return null
  }

  // Keys strictly beneath `prefix`: its children, or with `recursive` all
  // descendants. Order follows the trie (hash order), not names.
  async * list (prefix = '', opts: TrieListOptions = {}): AsyncGenerator<TrieEntry> {
    await this.ready()
    const comps = splitKey(prefix)
    const hidden = opts.hidden === true
    const d = endDepth(comps.length)
    const start = await this.seekPrefix(prefixPath(comps, hidden), this.version, opts)
    if (!start) return
    const childEnd = d + COMPONENT_DIGITS
    const recursive = opts.recursive === true
    // never go back up to the prefix key itself; without recursion, beneath a child only its own key
    const follow = (depth: number, digit: number) =>
      depth === d ? digit !== KEY_END : (recursive || depth < childEnd || (depth === childEnd && digit === KEY_END))
    for await (const n of this.subtree(start, d, follow, opts)) {
      if (n.value === null || n.oversize || n.path[d] === KEY_END) continue
      if (!recursive && n.path.length !== childEnd + 1) continue
      yield entry(n)
    }
  }

  // Every node from block gte to block lt - 1 (default: all), deletions
  // included, hidden keys included (entry.hidden says which).
  async * history (opts: { gte?: number, lt?: number, timeout?: number, signal?: AbortSignal } = {}): AsyncGenerator<TrieEntry> {
    await this.ready()
    const from = Math.max(1, opts.gte ?? 1)
    const to = Math.min(this.version, opts.lt ?? this.version)
    const ahead: Array<Promise<TrieNode>> = []
    let next = from
    for (let seq = from; seq < to; seq++) {
      while (next < to && next < seq + 64) ahead.push(handled(this.node(next++, opts)))
      const n = await ahead.shift()!
      yield entry(n)
    }
  }

  // What changed from version `from` to this trie's version, under `prefix`
  // (the prefix key included). Shared subtrees are skipped without reading.
  async * diff (from: number, opts: { prefix?: string } & TrieReadOptions = {}): AsyncGenerator<TrieDiffEntry> {
    await this.ready()
    const comps = splitKey(opts.prefix ?? '')
    const p = prefixPath(comps, opts.hidden === true)
    const [a, b] = await Promise.all([this.seekPrefix(p, this.version, opts), this.seekPrefix(p, Math.min(from, this.core.length), opts)])
    yield * this.diffAt(a, b, p.length, opts)
  }

  // ---- writing ----

  put (key: string, value: Uint8Array, opts: { hidden?: boolean } = {}): Promise<number> {
    return this.batch([{ type: 'put', key, value, hidden: opts.hidden }])
  }

  del (key: string, opts: { hidden?: boolean } = {}): Promise<number> {
    return this.batch([{ type: 'del', key, hidden: opts.hidden }])
  }

  // Applies the ops in order and appends all their nodes in one append, so a
  // reader sees all of them or none. Deleting an absent key writes nothing.
  // Resolves with the new version.
  async batch (ops: TrieBatchOp[]): Promise<number> {
    await this.ready()
    if (!this.writable) throw HyperfsError.EROFS(this.snapshot !== null ? 'a checkout is read-only' : 'this trie is not writable here')
    return this.lock.run(async () => {
      const base = this.core.length
      const pending = new Map<number, TrieNode>()
      const get: NodeGetter = async (seq) => pending.get(seq) ?? this.node(seq, {})
      for (const op of ops) {
        const head = base + pending.size
        const headNode = head > 1 ? await get(head - 1) : null
        const comps = splitKey(op.key)
        const hidden = op.hidden === true
        if (op.type === 'put' && !op.value) throw HyperfsError.BAD_ARGUMENT(`put of ${op.key} has no value`)
        if (oversizeKey(joinKey(comps))) throw HyperfsError.BAD_ARGUMENT(`a key is at most ${MAX_KEY_BYTES} bytes`)
        const value = op.type === 'put' ? ownCopy(op.value!) : null
        const built = await buildNode(head, joinKey(comps), hidden, value, keyPath(comps, hidden), headNode, get)
        if (op.type === 'del' && (!built.replaced || built.replaced.value === null)) continue
        pending.set(head, built.node)
      }
      if (pending.size === 0) return base
      const blocks = [...pending.values()].map((n) => encode(trieNode, toRecord(n)))
      await this.core.append(blocks)
      for (const [seq, n] of pending) this.cache.set(seq, n)
      return this.core.length
    })
  }

  // ---- internals ----

  private getOpts (opts: TrieReadOptions): GetOptions {
    return { timeout: opts.timeout ?? this.timeout, signal: opts.signal, wait: opts.wait }
  }

  private async node (seq: number, opts: TrieReadOptions): Promise<TrieNode> {
    const hit = this.cache.get(seq)
    if (hit) return hit
    if (seq < 1) throw HyperfsError.DECODE_ERROR('a trie pointer refers to the header block')
    const block = await this.core.get(seq, this.getOpts(opts))
    if (block === null) throw HyperfsError.BLOCK_NOT_AVAILABLE(`trie node ${seq} is not local`)
    let n: TrieNode
    try {
      n = fromRecord(seq, decode(trieNode, block!))
    } catch (err) {
      throw HyperfsError.DECODE_ERROR(`trie node ${seq}: ${(err as Error).message}`)
    }
    this.cache.set(seq, n)
    return n
  }

  private async head (version: number, opts: TrieReadOptions): Promise<TrieNode | null> {
    return version > 1 ? this.node(version - 1, opts) : null
  }

  // Follows `path` from the newest node; returns the node at the full path if
  // any, and (when asked) the nodes of ancestor keys met on the way.
  private async walk (path: Uint8Array, version: number, ancestors: boolean, opts: TrieReadOptions): Promise<{ node: TrieNode | null, candidates: Array<{ seq: number, components: number }> }> {
    const candidates: Array<{ seq: number, components: number }> = []
    let node = await this.head(version, opts)
    for (let i = 0; node && i < path.length; i++) {
      // depth 1 + 32j (j >= 1) is where an ancestor key of j components ends
      if (ancestors && i > 1 && i < path.length - 1 && (i - 1) % COMPONENT_DIGITS === 0) {
        const c = node.path[i] === KEY_END ? node.seq : node.trie[i]?.[KEY_END]
        if (c !== undefined && c <= node.seq) candidates.push({ seq: c, components: (i - 1) / COMPONENT_DIGITS })
      }
      if (node.path[i] === path[i]) continue
      node = await this.pointer(node, i, path[i], opts)
    }
    return { node, candidates }
  }

  // The node `node` points to at (depth, digit), if any. Pointers lead to older
  // nodes only; one that does not is forged and not followed.
  private async pointer (node: TrieNode, depth: number, digit: number, opts: TrieReadOptions): Promise<TrieNode | null> {
    const next = node.trie[depth]?.[digit]
    return next === undefined || next >= node.seq ? null : this.node(next, opts)
  }

  // The newest node whose path starts with `prefix`, or null.
  private async seekPrefix (prefix: Uint8Array, version: number, opts: TrieReadOptions): Promise<TrieNode | null> {
    let node = await this.head(version, opts)
    for (let i = 0; node && i < prefix.length; i++) {
      if (node.path[i] === prefix[i]) continue
      node = await this.pointer(node, i, prefix[i], opts)
    }
    return node && startsWith(node.path, prefix, prefix.length) ? node : null
  }

  // Breadth-first over the nodes below `start` (the newest node sharing the
  // first `from` digits), following only branches `follow` accepts. Fetches for
  // queued nodes start as soon as they are queued (up to PREFETCH_WINDOW
  // ahead), so a remote folder costs round trips per trie level, not per entry.
  // A node reached through a pointer that does not lead where the pointer
  // says (see the top of this file) is skipped with everything beneath it.
  private async * subtree (start: TrieNode, from: number, follow: (depth: number, digit: number) => boolean, opts: TrieReadOptions): AsyncGenerator<TrieNode> {
    const queue: Array<{ seq: number, parent: TrieNode, depth: number, digit: number, p: Promise<TrieNode> | null } | null> = []
    let head = 0
    let started = 0
    let node: TrieNode | null = start
    let depth = from
    while (true) {
      yield node
      for (let i = depth; i < node.path.length; i++) {
        const b = node.trie[i]
        if (!b) continue
        for (let w = 0; w < b.length; w++) {
          const s = b[w]
          if (s === undefined || s >= node.seq || w === node.path[i] || !follow(i, w)) continue
          queue.push({ seq: s, parent: node, depth: i, digit: w, p: null })
        }
      }
      node = null
      while (node === null) {
        if (head >= queue.length) return
        // `started` only moves forward: each queued node's fetch is started once
        for (; started < queue.length && started < head + PREFETCH_WINDOW; started++) {
          const q = queue[started]!
          q.p = handled(this.node(q.seq, opts))
        }
        const item = queue[head]!
        queue[head++] = null
        const n = await item.p!
        if (branchOf(n, item.parent, item.depth, item.digit)) { node = n; depth = item.depth + 1 }
        if (head > 4096 && head * 2 > queue.length) { queue.splice(0, head); started -= head; head = 0 }
      }
    }
  }

  // The node behind `node`'s pointer at (depth, digit), if the pointer is sound.
  private async branch (node: TrieNode, depth: number, digit: number, opts: TrieReadOptions): Promise<TrieNode | null> {
    const n = await this.pointer(node, depth, digit, opts)
    return n && branchOf(n, node, depth, digit) ? n : null
  }

  private async * diffAt (a: TrieNode | null, b: TrieNode | null, from: number, opts: TrieReadOptions): AsyncGenerator<TrieDiffEntry> {
    if (!a && !b) return
    if (a && b && a.seq === b.seq) return
    const all = () => true
    if (!b) {
      for await (const n of this.subtree(a!, from, all, opts)) {
        if (n.value !== null) yield { type: 'put', key: n.key, hidden: n.hidden, value: n.value, previous: null }
      }
      return
    }
    if (!a) {
      for await (const n of this.subtree(b, from, all, opts)) {
        if (n.value !== null) yield { type: 'del', key: n.key, hidden: n.hidden, previous: n.value }
      }
      return
    }
    for (let i = from; ; i++) {
      if (i === a.path.length || i === b.path.length) {
        // a key's path cannot be cut short but an oversize one's is
        if (a.oversize || b.oversize) return
        // both paths ended together: the same key in two versions
        if (a.value !== null) yield { type: 'put', key: a.key, hidden: a.hidden, value: a.value, previous: b.value }
        else if (b.value !== null) yield { type: 'del', key: b.key, hidden: b.hidden, previous: b.value }
        return
      }
      const da = a.path[i]
      const db = b.path[i]
      const ba = a.trie[i]
      const bb = b.trie[i]
      for (let w = 0; w <= KEY_END; w++) {
        if (w === da && w === db) continue
        const sa = w === da ? a.seq : ba?.[w]
        const sb = w === db ? b.seq : bb?.[w]
        if (sa === sb) continue
        const na = sa === a.seq ? a : await this.branch(a, i, w, opts)
        const nb = sb === b.seq ? b : await this.branch(b, i, w, opts)
        yield * this.diffAt(na, nb, i + 1, opts)
      }
      if (da !== db) return
    }
  }
}

// Whether node n lies on the branch that `parent`'s pointer at (depth, digit)
// stands for: its path is the parent's up to depth, then digit.
function branchOf (n: TrieNode, parent: TrieNode, depth: number, digit: number): boolean {
  return n.path.length > depth && n.path[depth] === digit && startsWith(n.path, parent.path, depth)
}

function startsWith (path: Uint8Array, prefix: Uint8Array, length: number): boolean {
  if (path.length < length || prefix.length < length) return false
  for (let k = 0; k < length; k++) if (path[k] !== prefix[k]) return false
  return true
}

// Builds the node for `key` as the new head: copies, depth by depth, the
// pointers of the newest node on the key's path, adding a pointer to that node
// where it branches away. `replaced` is the previous node of the same key.
async function buildNode (seq: number, key: string, hidden: boolean, value: Buffer | null, path: Uint8Array, head: TrieNode | null, get: NodeGetter): Promise<{ node: TrieNode, replaced: TrieNode | null }> {
  const trie: Array<Bucket | undefined> = []
  let node = head
  for (let i = 0; node && i < path.length; i++) {
    const v = path[i]
    const b = node.trie[i]
    let out: Bucket | undefined
    if (b) {
      for (let w = 0; w < b.length; w++) {
        if (w !== v && b[w] !== undefined) (out ??= [])[w] = b[w]
      }
    }
    const nd = node.path[i]
    if (nd !== v) {
      (out ??= [])[nd] = node.seq
      const next = b?.[v]
      node = next === undefined ? null : await get(next)
    }
    if (out) trie[i] = out
  }
  const replaced = node && node.key === key && node.hidden === hidden ? node : null
  return { node: { seq, key, hidden, value, path, trie, oversize: false }, replaced }
}

function entry (n: TrieNode): TrieEntry {
  return { seq: n.seq, key: n.key, hidden: n.hidden, value: n.value }
}

