// Proof chains: how many tree nodes a block request asks for. A request's
// `nodes` says how far up from the block's leaf the proof must climb: to the
// first node the requester stores (hypercore's missingNodes). Asked alone,
// requests sent together all climb to the same stored node, so a burst of
// neighbouring blocks over a sparse core carries and verifies the same upper
// nodes again and again (about five of every six nodes, listing a bee).
//
// Here a request may stop instead at a node that an earlier request to the
// same peer, still in flight, will store: the leaf and the siblings on its
// own climb (see verifyTree: every node a proof climbs through is stored).
// The later proof then depends on the earlier one:
//   - it is applied only once its dependency has been settled (its proof
//     applied, or the request answered without data, timed out, cancelled);
//   - it is applied only if the node it stops at is stored by then; if not
//     (the dependency failed), the block is asked again, and the peer is not
//     blamed: the proof was as short as we asked.
// What waits is bounded by the requests in flight to the peer (its window).
import * as flat from '../core/flat-tree.js'
import type { Hypercore } from '../core/hypercore.js'
import type { Proof } from '../core/merkle-tree.js'

const MAX_CLIMB = 64 // tree levels a climb looks at, as hypercore's missingNodes

// What a chain keeps on a request.
export interface Chained {
  anchor: number // the tree node its proof stops at, -1 until its nodes are known
  dep: Chained | null // the earlier request that stores `anchor`, or null: it is stored already
  done: boolean // settled: applied, failed or cancelled
  held: Proof | null // its answer, waiting for `dep`
}

export class ProofChain<R extends Chained> {
  private core: Hypercore
  // tree node -> the request in flight whose proof will store it
  private promised = new Map<number, R>()
  private promises = new Map<R, number[]>()
  private dependents = new Map<R, R[]>()
  readonly held = new Set<R>() // answered, waiting for their dependency

  constructor (core: Hypercore) {
    this.core = core
  }

  // The nodes to ask with block `index` for `req`, recording what it
  // depends on and, if `promise`, what it will store for later requests to
  // rely on. Call in the order requests are sent.
  nodes (req: R, index: number, promise = true): number {
    const head = 2 * this.core.length
    let ite = 2 * index
    req.dep = null
    req.anchor = ite
    if (flat.rightSpan(ite) >= head) return 0
    const tree = this.core.tree
    let n = 0
    while (n <= MAX_CLIMB && !flat.contains(ite, head)) {
      const p = this.promised.get(ite)
      if (p !== undefined) {
        req.dep = p
        const list = this.dependents.get(p)
        if (list) list.push(req)
        else this.dependents.set(p, [req])
        break
      }
      if (tree.nodeSync(ite) !== null) break
      n++
      ite = flat.parent(ite)
    }
    req.anchor = ite
    if (n > 0 && promise) {
      const mine: number[] = []
      for (let k = 0, x = 2 * index; k < n; k++, x = flat.parent(x)) {
        for (const i of [x, flat.sibling(x)]) {
          if (this.promised.has(i)) continue // an earlier request stores it
          this.promised.set(i, req)
          mine.push(i)
        }
      }
      this.promises.set(req, mine)
    }
    return n
  }

  // Whether the answer to `req` can be applied now: 'wait' for its
  // dependency, 'lost' when the dependency did not store the node the proof
  // stops at (ask again), 'apply' otherwise.
  state (req: R): 'wait' | 'lost' | 'apply' {
    if (req.dep === null || this.core.closed) return 'apply' // a closed core refuses it
    if (!req.dep.done) return 'wait'
    return this.core.tree.nodeSync(req.anchor) !== null ? 'apply' : 'lost'
  }

  hold (req: R, proof: Proof): void {
    req.held = proof
    this.held.add(req)
  }

  take (req: R): Proof | null {
    const p = req.held
    req.held = null
    this.held.delete(req)
    return p
  }

  // `req` is over: what it promised is stored or will not come. Returns the
  // requests that depended on it and whose answers were waiting.
  settle (req: R): R[] {
    if (req.done) return []
    req.done = true
    req.held = null
    this.held.delete(req)
    const mine = this.promises.get(req)
    if (mine) {
      this.promises.delete(req)
      for (const i of mine) if (this.promised.get(i) === req) this.promised.delete(i)
    }
    const deps = this.dependents.get(req)
    if (!deps) return []
    this.dependents.delete(req)
    return deps.filter((d) => d.held !== null)
  }

  // The peer is gone: nothing is kept.
  clear (): R[] {
    const held = [...this.held]
    for (const r of held) { r.held = null; r.done = true }
    this.held.clear()
    this.promised.clear()
    this.promises.clear()
    this.dependents.clear()
    return held
  }
}
