// Iterative Kademlia query (dht-rpc's Query, docs/wire.md §7.2): ask the nodes closest
// to `target` that we know, learn closer ones from their `closerNodes`, and
// stop when no unvisited node could beat the k-th closest reply. Concurrency
// is 10 (plus one extra slot per request that is retrying, so a dead node does
// not stall the walk); each request retries up to 5 times. A node that timed
// out is reported with DOWN_HINT to whoever referred us to it.
//
// After the walk an optional commit phase runs once per closest reply: that is
// where hyperdht sends ANNOUNCE/UNANNOUNCE/PUT with the reply's token.
//
// Replies stream out through the async iterator; finished() awaits the walk
// and the commit. Every query is bounded by maxRequests and stops by itself.
import { setMaxListeners } from 'node:events'
import type { IPv4Address } from '../codec/index.js'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import type { DhtResponse, OutgoingRequest, RequestOptions } from './io.js'
import { nodeId } from './node-id.js'
import { compareDistance, equalBytes } from './routing-table.js'

export const DEFAULT_CONCURRENCY = 10
const DEFAULT_RETRIES = 5
const DEFAULT_MAX_REQUESTS = 512

export interface QueryCandidate {
  id: Uint8Array
  host: string
  port: number
}

// what a query needs from its node
export interface QueryNode {
  readonly k: number
  readonly tableId: Uint8Array
  closestNodes (target: Uint8Array, k: number): QueryCandidate[]
  resolveBootstrap (signal: AbortSignal): Promise<IPv4Address[]>
  request (to: IPv4Address, req: OutgoingRequest, opts: RequestOptions): Promise<DhtResponse>
  downHint (referrer: IPv4Address, down: IPv4Address): void
  filterNode? (node: IPv4Address): boolean
}

export type CommitFn = (reply: DhtResponse, query: Query) => Promise<unknown>

export interface QueryOptions {
  concurrency?: number
  retries?: number
  // start from these nodes instead of the routing table (e.g. a previous query's closest)
  nodes?: IPv4Address[]
  // true: send the same command with each closest reply's token
  commit?: CommitFn | true
  signal?: AbortSignal
  maxRequests?: number
}

export interface QuerySpec {
  target: Uint8Array
  command: number
  internal: boolean
  value: Uint8Array | null
}

type SeenState = 'done' | 'down' | IPv4Address[]

export class Query implements AsyncIterable<DhtResponse> {
  readonly target: Uint8Array
  readonly command: number
  readonly internal: boolean
  readonly value: Uint8Array | null
  readonly closestReplies: DhtResponse[] = []
  concurrency: number
  successes = 0
  errors = 0
  requests = 0

  private readonly node: QueryNode
  private readonly k: number
  private readonly retries: number
  private readonly maxRequests: number
  private readonly commitFn: CommitFn | null
  private readonly startNodes: IPv4Address[] | null
  private readonly controller = new AbortController()
  private readonly seen = new Map<string, SeenState>()
  private pending: QueryCandidate[] = []
  private inflight = 0
  private slow = 0
  private fromTable = false
  private walking = true
  private running: Promise<void> | null = null
  private readonly results: DhtResponse[] = []
  private wake: (() => void) | null = null
  private walkDone: (() => void) | null = null
  private error: Error | null = null
  private ended = false
  private isDestroyed = false
  private readonly unlisten: () => void

  constructor (node: QueryNode, spec: QuerySpec, opts: QueryOptions = {}) {
    this.node = node
    this.target = spec.target
    this.command = spec.command
    this.internal = spec.internal
    this.value = spec.value
    this.k = node.k
    this.concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY
    this.retries = opts.retries ?? DEFAULT_RETRIES
    this.maxRequests = opts.maxRequests ?? DEFAULT_MAX_REQUESTS
    this.commitFn = opts.commit === true ? autoCommit : opts.commit ?? null
    this.startNodes = opts.nodes ?? null
    // every in-flight request listens on this signal; their number is bounded by maxRequests
    setMaxListeners(0, this.controller.signal)

    const signal = opts.signal
    if (signal) {
      const onabort = (): void => this.destroy(HyperfsError.REQUEST_CANCELLED())
      if (signal.aborted) queueMicrotask(onabort)
      else signal.addEventListener('abort', onabort, { once: true })
      this.unlisten = () => signal.removeEventListener('abort', onabort)
    } else {
      this.unlisten = () => {}
    }
  }

  get closestNodes (): IPv4Address[] {
    return this.closestReplies.map((r) => ({ host: r.from.host, port: r.from.port }))
  }

  get destroyed (): boolean {
    return this.isDestroyed
  }

  // Runs the walk and the commit; rejects if the query was destroyed or every commit failed.
  finished (): Promise<void> {
    return this.start()
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<DhtResponse> {
    const done = this.start()
    done.catch(safetyCatch)
    try {
      while (true) {
        const next = this.results.shift()
        if (next !== undefined) {
          yield next
          continue
        }
        if (this.ended) break
        await new Promise<void>((resolve) => { this.wake = resolve })
      }
      await done
    } finally {
      // a consumer that stops early ends the query, so nothing keeps running unobserved
      if (!this.ended) this.destroy(HyperfsError.REQUEST_CANCELLED('query iteration stopped'))
    }
  }

  destroy (err?: Error): void {
    if (this.isDestroyed || this.ended) return
    this.isDestroyed = true
    if (!this.ended) this.error = err ?? HyperfsError.REQUEST_CANCELLED()
    this.controller.abort()
    this.walking = false
    if (this.walkDone !== null) this.walkDone()
    this.notify()
  }

  private start (): Promise<void> {
    if (this.running === null) this.running = this.run()
    return this.running
  }

  private async run (): Promise<void> {
    try {
      await this.open()
      await new Promise<void>((resolve) => {
        // destroyed before or while opening: nothing to walk
        if (!this.walking) {
          resolve()
          return
        }
        this.walkDone = resolve
        this.readMore()
      })
      this.walking = false
      if (this.error === null && this.commitFn !== null) await this.commit()
    } catch (err) {
      if (this.error === null) this.error = err as Error
    } finally {
      this.ended = true
      this.unlisten()
      if (!this.controller.signal.aborted) this.controller.abort() // cancels stragglers
      this.notify()
    }
    if (this.error !== null) throw this.error
  }

  private async open (): Promise<void> {
    if (this.startNodes !== null) {
      for (const n of this.startNodes) this.addPending(withId(n), null)
      return
    }
    this.addFromTable()
    if (this.pending.length >= this.k) return
    const boot = await this.node.resolveBootstrap(this.controller.signal)
    for (const n of boot) this.addPending(withId(n), null)
  }

  private addFromTable (): void {
    this.fromTable = true
    for (const n of this.node.closestNodes(this.target, this.k)) this.addPending(n, null)
  }

  private isCloser (id: Uint8Array): boolean {
    const len = this.closestReplies.length
    if (len < this.k) return true
    const last = this.closestReplies[len - 1].from.id as Buffer
    return compareDistance(this.target, id, last) < 0
  }

  // returns whether the node could still improve the result
  private addPending (node: QueryCandidate, referrer: IPv4Address | null): boolean {
    const key = node.host + ':' + node.port
    const state = this.seen.get(key)
    const closer = this.isCloser(node.id)
    if (state === 'done') return closer
    if (state === 'down') {
      if (referrer !== null) this.node.downHint(referrer, node)
      return closer
    }
    if (state !== undefined) {
      if (referrer !== null && state.length < 8) state.push(referrer)
      return closer
    }
    if (!closer) return false
    // a query that has met maxRequests nodes stops growing
    if (this.seen.size >= this.maxRequests) return false
    this.seen.set(key, referrer === null ? [] : [referrer])
    this.pending.push(node)
    return true
  }

  private readMore (): void {
    if (!this.walking) return
    // visit the closest pending first
    this.pending.sort((a, b) => compareDistance(this.target, b.id, a.id))
    while (this.inflight < this.concurrency + this.slow && this.pending.length > 0 && this.requests < this.maxRequests) {
      const next = this.pending.pop() as QueryCandidate
      if (!this.isCloser(next.id)) continue
      this.visit(next)
    }
    if (this.pending.length > 0 && this.requests < this.maxRequests) return

    // done when nothing is in flight, or only retrying requests are while we already hold k replies
    if (this.inflight === 0 || (this.slow === this.inflight && this.closestReplies.length >= this.k)) {
      // mostly failed from the given nodes: fall back to our own table once
      if (!this.fromTable && this.successes < this.k / 4) {
        this.addFromTable()
        if (this.pending.length > 0) {
          this.readMore()
          return
        }
      }
      this.walking = false
      if (this.walkDone !== null) this.walkDone()
    }
  }

  private visit (to: QueryCandidate): void {
    this.inflight++
    this.requests++
    let isSlow = false
    const onsettled = (): void => {
      this.inflight--
      if (isSlow) this.slow--
    }
    this.node.request({ host: to.host, port: to.port }, {
      internal: this.internal,
      command: this.command,
      target: this.target,
      value: this.value
    }, {
      signal: this.controller.signal,
      retries: this.retries,
      oncycle: () => {
        if (isSlow) return
        isSlow = true
        this.slow++
        this.readMore()
      }
    }).then((res) => {
      onsettled()
      this.onreply(to, res)
    }, (err: HyperfsError) => {
      onsettled()
      this.onerror(to, err)
    })
  }

  private onreply (to: QueryCandidate, res: DhtResponse): void {
    const key = to.host + ':' + to.port
    this.seen.set(key, 'done')
    if (!this.walking) return

    if (res.error === 0) this.successes++
    else this.errors++

    if (res.error === 0 && res.from.id !== null && this.isCloser(res.from.id)) this.pushClosest(res)

    if (res.closerNodes !== null) {
      for (const n of res.closerNodes) {
        if (this.node.filterNode !== undefined && !this.node.filterNode(n)) continue
        const c = withId(n)
        if (equalBytes(c.id, this.node.tableId)) continue
        // closerNodes are sorted by distance: once one cannot help, later ones cannot either
        if (!this.addPending(c, res.from)) break
      }
    }

    if (res.error === 0) {
      this.results.push(res)
      this.notify()
    }
    this.readMore()
  }

  private onerror (to: QueryCandidate, err: HyperfsError): void {
    if (!this.walking) return
    const key = to.host + ':' + to.port
    const refs = this.seen.get(key)
    if (isHyperfsError(err, 'REQUEST_TIMEOUT')) {
      this.seen.set(key, 'down')
      if (Array.isArray(refs)) for (const r of refs) this.node.downHint(r, to)
    } else {
      this.seen.set(key, 'done')
    }
    this.errors++
    this.readMore()
  }

  private pushClosest (res: DhtResponse): void {
    const id = res.from.id as Buffer
    const list = this.closestReplies
    for (const r of list) if (equalBytes(r.from.id as Buffer, id)) return
    let i = list.length
    while (i > 0 && compareDistance(this.target, id, list[i - 1].from.id as Buffer) < 0) i--
    list.splice(i, 0, res)
    if (list.length > this.k) list.pop()
  }

  private async commit (): Promise<void> {
    const fn = this.commitFn as CommitFn
    if (this.closestReplies.length === 0) throw HyperfsError.QUERY_FAILED('too few nodes responded')
    const outcomes = await Promise.allSettled(this.closestReplies.map((r) => fn(r, this)))
    if (this.isDestroyed) return
    const ok = outcomes.some((o) => o.status === 'fulfilled')
    if (!ok) {
      const first = outcomes[0] as PromiseRejectedResult
      throw first.reason instanceof Error ? first.reason : HyperfsError.QUERY_FAILED('every commit failed')
    }
  }

  // requests the commit phase may send; they stop when the query is destroyed
  get signal (): AbortSignal {
    return this.controller.signal
  }

  request (to: IPv4Address, req: OutgoingRequest, opts: RequestOptions = {}): Promise<DhtResponse> {
    return this.node.request(to, req, { ...opts, signal: opts.signal ?? this.controller.signal })
  }

  private notify (): void {
    const w = this.wake
    this.wake = null
    if (w !== null) w()
  }
}

function withId (n: IPv4Address & { id?: Uint8Array | null }): QueryCandidate {
  return { id: n.id ?? nodeId(n.host, n.port), host: n.host, port: n.port }
}

// the default commit: repeat the query's command to each closest node with its token
function autoCommit (reply: DhtResponse, query: Query): Promise<unknown> {
  if (reply.token === null) return Promise.reject(HyperfsError.QUERY_FAILED('no token from a closest node'))
  return query.request({ host: reply.from.host, port: reply.from.port }, {
    token: reply.token,
    internal: query.internal,
    command: query.command,
    target: query.target,
    value: query.value
  })
}
