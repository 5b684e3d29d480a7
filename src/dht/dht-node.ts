// A dht-rpc node (docs/wire.md §7), wire-compatible with dht-rpc 6.
// - Identity: ephemeral nodes have no id (a random table id, never sent).
//   A node turns persistent once its NAT samples agree and, if firewalled,
//   PING_NAT proves its server port is reachable; its id is then
//   H(public ip ‖ u16le port) and the routing table is rebuilt around it.
// - Internal commands (flag 4): PING, PING_NAT, FIND_NODE, DOWN_HINT,
//   DELAYED_PING. Other commands go to handlers registered with handle();
//   unhandled ones get error UNKNOWN_COMMAND (1), with closer nodes when the
//   request has a target.
// - Upkeep, on a 5 s tick: every 8th tick ping a few of the least recently
//   seen nodes and drop the dead; refresh with a FIND_NODE when the table is
//   thin or ~5 min passed; a full row pings its oldest node and swaps it out
//   if it is dead.
// Owns: the IO (sockets), the routing table, the NAT sampler, the timers.
import { EventEmitter } from 'node:events'
import UDX, { type UDXSocket } from 'udx-native'
import { encode, ipv4Address, type IPv4Address } from '../codec/index.js'
import { HyperfsError, safetyCatch } from '../errors.js'
import { randomBytes } from '../crypto/index.js'
import { parseBootstrapNode, type BootstrapNode } from './bootstrap-nodes.js'
import { INTERNAL_COMMANDS } from './commands.js'
import { IO, ERROR_UNKNOWN_COMMAND, type DhtResponse, type IncomingRequest, type IOStats, type OutgoingRequest, type Peer, type RequestOptions } from './io.js'
import { NatSampler } from './nat-sampler.js'
import { nodeId } from './node-id.js'
import { Query, DEFAULT_CONCURRENCY, type QueryCandidate, type QueryNode, type QueryOptions } from './query.js'
import { RoutingTable, equalBytes } from './routing-table.js'

const { PING, PING_NAT, FIND_NODE, DOWN_HINT, DELAYED_PING } = INTERNAL_COMMANDS

const TICK_INTERVAL = 5000
const STABLE_TICKS = 240 // ~20 min without trouble: an adaptive node may try to become persistent
const MORE_STABLE_TICKS = 3 * STABLE_TICKS
const REFRESH_TICKS = 60 // ~5 min
const RECENT_NODE = 12 // heard from within ~1 min
const OLD_NODE = 360 // known for more than ~30 min
const MAX_PING_DELAY = 10_000
const MAX_DELAYED_PINGS = 256
const MAX_CHECKS = 10
const MAX_REPINGS = 3
const DOWN_HINTS_PER_TICK = 50

export interface DHTNodeOptions {
  // Required: where to join. [] for the first node of a network; pass
  // DEFAULT_BOOTSTRAP explicitly to join the public network.
  bootstrap: ReadonlyArray<string | IPv4Address>
  host?: string
  // the bind host is this node's public address (a bootstrapper): take the id
  // from it at once, as dht-rpc's bootstrapper(port, host) does
  knownAddress?: boolean
  port?: number
  anyPort?: boolean
  // true: never take an id. false: take one as soon as the address is known.
  // unset: adaptive, turn persistent after ~20 min of stable reachability.
  ephemeral?: boolean
  // assume our server port is unreachable until PING_NAT shows otherwise
  firewalled?: boolean
  concurrency?: number
  maxWindow?: number
  rateLimit?: number
  quickFirewall?: boolean
  maxPingDelay?: number
  filterNode?: (node: IPv4Address) => boolean
  // seed the routing table
  nodes?: IPv4Address[]
}

export interface DHTNodeServices {
  udx?: UDX
}

export type CommandHandler = (req: IncomingRequest) => void | Promise<void>

interface TableNode {
  id: Buffer
  host: string
  port: number
  // our address as this node saw it, when sampled
  to: IPv4Address | null
  sampled: number
  added: number
  pinged: number
  seen: number
  downHints: number
}

export interface DHTNodeStats {
  queries: { active: number, total: number }
  io: IOStats
  handlerErrors: number
}

export class DHTNode extends EventEmitter implements QueryNode {
  readonly io: IO
  readonly udx: UDX
  readonly bootstrapNodes: BootstrapNode[]
  readonly k: number
  readonly concurrency: number
  readonly stats: DHTNodeStats
  table: RoutingTable<TableNode>
  ephemeral = true
  bootstrapped = false
  destroyed = false

  private nat = new NatSampler()
  private readonly adaptive: boolean
  private readonly forcePersistent: boolean
  private readonly bindHost: string
  private readonly knownAddress: boolean
  private readonly quickFirewall: boolean
  private readonly maxPingDelay: number
  readonly filterNode: ((node: IPv4Address) => boolean) | undefined
  // insertion order = least recently seen first
  private readonly nodes = new Map<string, TableNode>()
  private readonly handlers = new Map<number, CommandHandler>()
  private readonly queries = new Set<Query>()
  private readonly delayedPings = new Set<NodeJS.Timeout>()
  private readonly bootstrapSamples = new Set<string>()
  private tick = randomOffset(100)
  private refreshTicks = randomOffset(REFRESH_TICKS)
  private stableTicks: number
  private lastTick = Date.now()
  private lastHost: string | null = null
  private checks = 0
  private repinging = 0
  private downHintsSent = 0
  private tickTimer: NodeJS.Timeout | null = null
  private readonly bootstrapping: Promise<void>

  constructor (opts: DHTNodeOptions, services: DHTNodeServices = {}) {
    super()
    if (!Array.isArray(opts.bootstrap)) throw HyperfsError.BAD_ARGUMENT('bootstrap must be an explicit list ([] for a first node)')
    this.bootstrapNodes = opts.bootstrap.map(parseBootstrapNode)
    this.udx = services.udx ?? new UDX()
    this.table = this.createTable(randomBytes(32))
    this.k = this.table.k
    this.concurrency = opts.concurrency ?? DEFAULT_CONCURRENCY
    this.adaptive = typeof opts.ephemeral !== 'boolean'
    this.forcePersistent = opts.ephemeral === false
    this.bindHost = opts.host ?? '0.0.0.0'
    this.knownAddress = opts.knownAddress === true
    this.quickFirewall = opts.quickFirewall !== false
    this.maxPingDelay = opts.maxPingDelay ?? MAX_PING_DELAY
    this.filterNode = opts.filterNode
    this.stableTicks = this.adaptive ? STABLE_TICKS : 0
    const self = this
    this.io = new IO(this.udx, {
      get ephemeral () { return self.ephemeral },
      get id () { return self.table.id },
      closest: (target) => this.table.closest(target).map((n) => ({ host: n.host, port: n.port }))
    }, {
      onrequest: (req, external) => this.onrequest(req, external),
      onresponse: (res, external) => this.addNodeFromNetwork(!external, res.from, res.to),
      ontimeout: (to) => this.ontimeout(to)
    }, opts)
    this.stats = { queries: { active: 0, total: 0 }, io: this.io.stats, handlerErrors: 0 }
    for (const n of opts.nodes ?? []) this.addNode(n)
    this.bootstrapping = this.bootstrap()
    this.bootstrapping.catch(safetyCatch)
  }

  // null while ephemeral
  get id (): Buffer | null {
    return this.ephemeral ? null : this.table.id as Buffer
  }

  get tableId (): Uint8Array {
    return this.table.id
  }

  get firewalled (): boolean {
    return this.io.firewalled
  }

  // the socket our requests leave from (hyperdht connects UDX streams on it)
  get socket (): UDXSocket | null {
    return this.io.udxSocket(this.io.defaultSocket)
  }

  // public address as sampled from responses; port 0 means randomised by a NAT
  get host (): string | null { return this.nat.host }
  get port (): number { return this.nat.port }
  get randomized (): boolean { return this.nat.host !== null && this.nat.port === 0 }

  // the bound server socket address
  address (): IPv4Address | null {
    return this.io.serverAddress()
  }

  // our reachable address, only if others can reach our server socket there
  remoteAddress (): IPv4Address | null {
    const local = this.io.serverAddress()
    if (this.nat.host === null || this.nat.port === 0 || this.firewalled || local === null) return null
    if (local.port !== this.nat.port) return null
    return { host: this.nat.host, port: this.nat.port }
  }

  fullyBootstrapped (): Promise<void> {
    return this.bootstrapping
  }

  // Registers the handler for a non-internal command number (hyperdht's 0–10).
  handle (command: number, handler: CommandHandler): void {
    this.handlers.set(command, handler)
  }

  unhandle (command: number): void {
    this.handlers.delete(command)
  }

  addNode (addr: IPv4Address): void {
    this.insertNode({ id: nodeId(addr.host, addr.port), host: addr.host, port: addr.port, to: null, sampled: 0, added: this.tick, pinged: 0, seen: 0, downHints: 0 })
  }

  // known nodes, most recently seen first
  toArray (opts: { limit?: number } = {}): IPv4Address[] {
    const all = [...this.nodes.values()].reverse()
    const list = opts.limit === undefined ? all : all.slice(0, opts.limit)
    return list.map((n) => ({ host: n.host, port: n.port }))
  }

  ping (to: IPv4Address, opts: RequestOptions = {}): Promise<DhtResponse> {
    return this.request(to, { internal: true, command: PING }, opts)
  }

  delayedPing (to: IPv4Address, delayMs: number, opts: RequestOptions = {}): Promise<DhtResponse> {
    if (delayMs > this.maxPingDelay) return Promise.reject(HyperfsError.BAD_ARGUMENT(`delay over ${this.maxPingDelay} ms`))
    const value = Buffer.allocUnsafe(4)
    value.writeUInt32LE(delayMs, 0)
    // the answer is late on purpose: wait for it instead of resending
    return this.request(to, { internal: true, command: DELAYED_PING, value }, { timeout: delayMs + 1000, ...opts })
  }

  // One request to one node. Resolves with the response, including error
  // replies (res.error > 0); rejects on timeout, abort or destroy.
  request (to: IPv4Address, req: OutgoingRequest, opts: RequestOptions = {}): Promise<DhtResponse> {
    if (this.destroyed) return Promise.reject(HyperfsError.REQUEST_DESTROYED('dht node destroyed'))
    return this.io.request(to, req, opts)
  }

  findNode (target: Uint8Array, opts: QueryOptions = {}): Query {
    return this.query({ target, command: FIND_NODE, internal: true }, opts)
  }

  // Iterative query for a (by default non-internal) command; see Query.
  query (spec: { target: Uint8Array, command: number, value?: Uint8Array | null, internal?: boolean }, opts: QueryOptions = {}): Query {
    if (this.destroyed) throw HyperfsError.REQUEST_DESTROYED('dht node destroyed')
    this.refreshTicks = REFRESH_TICKS
    const q = new Query(this, { target: spec.target, command: spec.command, internal: spec.internal === true, value: spec.value ?? null }, opts)
    this.track(q)
    return q
  }

  refresh (): void {
    const node = this.table.random()
    this.backgroundQuery(node !== null ? node.id : this.table.id).finished().catch(safetyCatch)
  }

  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    if (this.tickTimer !== null) clearInterval(this.tickTimer)
    this.tickTimer = null
    for (const t of this.delayedPings) clearTimeout(t)
    this.delayedPings.clear()
    for (const q of [...this.queries]) q.destroy(HyperfsError.REQUEST_DESTROYED('dht node destroyed'))
    await this.io.destroy()
    try { await this.bootstrapping } catch (err) { safetyCatch(err) }
    this.emit('close')
  }

  // --- QueryNode ---

  closestNodes (target: Uint8Array, k: number): QueryCandidate[] {
    return this.table.closest(target, k).map((n) => ({ id: n.id, host: n.host, port: n.port }))
  }

  async resolveBootstrap (signal: AbortSignal): Promise<IPv4Address[]> {
    const out: IPv4Address[] = []
    for (const b of this.bootstrapNodes) {
      if (signal.aborted || this.destroyed) break
      let host = b.host
      if (b.fallback !== null) {
        try {
          await this.ping({ host: b.host, port: b.port }, { signal })
        } catch {
          host = b.fallback
        }
      }
      if (!UDX.isIPv4(host)) {
        try {
          host = (await this.udx.lookup(host, { family: 4 })).host
        } catch {
          continue
        }
      }
      out.push({ host, port: b.port })
    }
    return out
  }

  downHint (referrer: IPv4Address, down: IPv4Address): void {
    if (this.downHintsSent >= DOWN_HINTS_PER_TICK) return
    this.downHintsSent++
    const value = encode(ipv4Address, { host: down.host, port: down.port })
    this.request(referrer, { internal: true, command: DOWN_HINT, value }).catch(safetyCatch)
  }

  // --- bootstrap and network state ---

  private async bootstrap (): Promise<void> {
    await Promise.resolve() // let the caller attach listeners and handlers first
    await this.io.bind()
    if (this.destroyed) return
    // The first node of a network (a bootstrapper given its address, with no
    // one to sample it from) takes its id from that address, as dht-rpc's
    // bootstrapper does; otherwise it would stay ephemeral and store nothing.
    const bound = this.io.serverAddress()
    if (this.knownAddress && this.forcePersistent && !this.firewalled && bound && isUnicastIPv4(this.bindHost)) {
      this.nat.add(this.bindHost, bound.port)
      await this.updateNetworkState(false)
    }
    this.tickTimer = setInterval(() => this.ontick(), TICK_INTERVAL)
    this.tickTimer.unref()

    let quickTest = this.firewalled && this.quickFirewall && !this.forcePersistent
    let testNat = false
    const onlyFirewall = !this.forcePersistent

    for (let i = 0; i < 2 && !this.destroyed; i++) {
      const q = this.backgroundQuery(this.table.id)
      let quick: Promise<void> | null = null
      try {
        for await (const reply of q) {
          q.concurrency = this.io.inflightCount < 3 ? this.concurrency : background(this.concurrency)
          // one PING_NAT to the first responder: if our server port answers,
          // a full firewall test is worth running
          if (!quickTest) continue
          quickTest = false
          const port = this.io.serverAddress()?.port ?? 0
          quick = this.request(reply.from, { internal: true, command: PING_NAT, value: u16(port) }, { retries: 0 })
            .then(() => { testNat = true }, () => {})
        }
      } catch {
        if (this.destroyed) return
      }
      // Unlike dht-rpc, wait for that one probe (one timeout at most): on a fast
      // network the walk can end before it returns, leaving a reachable node
      // needlessly firewalled until the 20-minute recheck.
      if (quick !== null) await quick
      if (this.bootstrapped || (!testNat && !this.forcePersistent)) break
      if (!await this.updateNetworkState(onlyFirewall)) break
    }

    if (this.destroyed || this.bootstrapped) return
    this.bootstrapped = true
    this.emit('ready')
  }

  private backgroundQuery (target: Uint8Array): Query {
    const q = new Query(this, { target, command: FIND_NODE, internal: true, value: null }, { concurrency: background(this.concurrency) })
    this.refreshTicks = REFRESH_TICKS
    this.track(q)
    return q
  }

  private track (q: Query): void {
    this.queries.add(q)
    this.stats.queries.total++
    this.stats.queries.active++
    const done = (): void => {
      this.queries.delete(q)
      this.stats.queries.active--
    }
    q.finished().then(done, done)
  }

  // Decides firewall state and, unless onlyFirewall, whether to take an id.
  private async updateNetworkState (onlyFirewall = false): Promise<boolean> {
    if (!this.ephemeral) return false
    if (onlyFirewall && !this.firewalled) return false
    const { host, port } = this.nat
    if (!onlyFirewall) {
      this.stableTicks = MORE_STABLE_TICKS
      this.lastHost = host
    }
    if (host === null || port === 0) return false

    const sampler = this.firewalled ? new NatSampler() : this.nat
    if (this.firewalled && await this.checkIfFirewalled(sampler)) return false
    if (this.destroyed) return false
    this.io.firewalled = false

    // the NAT view may have moved while we were probing
    if (!this.ephemeral || host !== this.nat.host || port !== this.nat.port) return false
    if (sampler.host !== host || sampler.port === 0) return false

    const id = nodeId(sampler.host, sampler.port)
    if (!onlyFirewall) this.ephemeral = false
    if (sampler !== this.nat) {
      const changed = sampler.host !== this.nat.host || sampler.port !== this.nat.port
      this.nat = sampler
      this.bootstrapSamples.clear()
      if (changed) this.emit('nat-update', sampler.host, sampler.port)
    }
    if (!equalBytes(this.table.id, id)) {
      const old = this.table.toArray()
      this.table = this.createTable(id)
      for (const n of old) {
        if (!this.table.add(n)) this.nodes.delete(hex(n.id))
      }
      if (this.bootstrapped) this.refresh()
    }
    if (!this.ephemeral) this.emit('persistent')
    return true
  }

  // PING_NAT to up to 5 nodes; the answers must reach our server socket, from
  // enough of them, and show the same host and our real server port.
  private async checkIfFirewalled (sampler: NatSampler): Promise<boolean> {
    const targets: IPv4Address[] = this.toArray({ limit: 5 })
    if (targets.length < 5) {
      const ctrl = new AbortController()
      for (const b of await this.resolveBootstrap(ctrl.signal)) targets.push(b)
    }
    if (targets.length === 0) return true
    const serverPort = this.io.serverAddress()?.port ?? 0
    const replies = await Promise.allSettled(targets.map((t) => this.request(t, { internal: true, command: PING_NAT, value: u16(serverPort) })))
    let count = 0
    for (const r of replies) {
      if (r.status !== 'fulfilled' || r.value.socket !== 'server') continue
      count++
      sampler.add(r.value.to.host, r.value.to.port)
    }
    if (count < (targets.length >= 5 ? 3 : 1)) return true
    if (sampler.host === null || sampler.host !== this.nat.host) return true
    if (sampler.port === 0 || sampler.port !== serverPort) return true
    return false
  }

  private natAdd (host: string, port: number): void {
    const prevHost = this.nat.host
    const prevPort = this.nat.port
    this.nat.add(host, port)
    if (prevHost !== this.nat.host || prevPort !== this.nat.port) this.emit('nat-update', this.nat.host, this.nat.port)
  }

  // --- routing table upkeep ---

  private createTable (id: Uint8Array): RoutingTable<TableNode> {
    return new RoutingTable<TableNode>(id, { onfull: (candidate, row) => this.onfullrow(candidate, row) })
  }

  private addNodeFromNetwork (sample: boolean, from: Peer, to: IPv4Address): void {
    if (this.filterNode !== undefined && !this.filterNode(from)) return
    if (from.id === null) {
      // id-less responders are bootstrap nodes or ephemeral peers: sample only
      // as many distinct ones as we have bootstrap nodes, so strangers cannot
      // steer our idea of our own address
      if (this.bootstrapSamples.size >= Math.max(1, this.bootstrapNodes.length)) return
      const key = from.host + ':' + from.port
      if (this.bootstrapSamples.has(key)) return
      this.bootstrapSamples.add(key)
      this.natAdd(to.host, to.port)
      return
    }
    const old = this.table.get(from.id)
    if (old !== null) {
      if (sample && (old.sampled === 0 || this.tick - old.sampled >= OLD_NODE)) {
        old.to = to
        old.sampled = this.tick
        this.natAdd(to.host, to.port)
      }
      old.pinged = old.seen = this.tick
      this.touch(old)
      return
    }
    this.insertNode({ id: from.id, host: from.host, port: from.port, to, sampled: 0, added: this.tick, pinged: this.tick, seen: this.tick, downHints: 0 })
  }

  private insertNode (node: TableNode): void {
    if (this.nodes.has(hex(node.id)) || equalBytes(node.id, this.table.id)) return
    node.added = node.pinged = node.seen = this.tick
    if (!this.table.add(node)) return
    this.nodes.set(hex(node.id), node)
    if (node.to !== null && node.sampled === 0) {
      node.sampled = this.tick
      this.natAdd(node.to.host, node.to.port)
    }
    this.emit('add-node', node)
  }

  private touch (node: TableNode): void {
    const key = hex(node.id)
    if (!this.nodes.has(key)) return
    this.nodes.delete(key)
    this.nodes.set(key, node)
  }

  private removeNode (node: TableNode): void {
    const key = hex(node.id)
    if (!this.nodes.has(key)) return
    this.nodes.delete(key)
    this.table.remove(node.id)
    this.emit('remove-node', node)
  }

  private ontimeout (to: Peer): void {
    const node = this.table.get(nodeId(to.host, to.port))
    if (node !== null) this.removeNode(node)
  }

  private onfullrow (candidate: TableNode, row: readonly TableNode[]): void {
    if (!this.bootstrapped || this.repinging >= MAX_REPINGS || this.destroyed) return
    let oldest: TableNode | null = null
    for (const n of row) {
      if (n.pinged === this.tick) continue
      if (oldest === null || oldest.pinged > n.pinged || (oldest.pinged === n.pinged && oldest.added > n.added)) oldest = n
    }
    if (oldest === null) return
    // a long-lived node heard from recently is the one to keep
    if (this.tick - oldest.pinged < RECENT_NODE && this.tick - oldest.added > OLD_NODE) return
    const victim = oldest
    const lastSeen = victim.seen
    victim.pinged = this.tick
    this.repinging++
    const swap = (): void => {
      this.removeNode(victim)
      this.insertNode(candidate)
    }
    this.ping(victim).then(() => {
      this.repinging--
      if (victim.seen <= lastSeen) swap()
    }, () => {
      this.repinging--
      swap()
    })
  }

  private check (node: TableNode): void {
    node.pinged = this.tick
    const lastSeen = node.seen
    this.checks++
    this.ping(node).then(() => {
      this.checks--
      // answered without a valid id: it is no longer that node
      if (node.seen <= lastSeen) this.removeNode(node)
    }, () => {
      this.checks--
      this.removeNode(node)
    })
  }

  private pingSome (): void {
    let count = this.io.inflightCount > 2 ? 3 : 5
    const first = this.nodes.values().next()
    if (first.done === true) {
      this.refresh() // a tiny network: ask the bootstrap nodes again
      return
    }
    if (this.tick - first.value.pinged < RECENT_NODE) count = 2
    for (const node of [...this.nodes.values()].slice(0, count)) {
      if (node.pinged !== this.tick) this.check(node)
    }
  }

  private ontick (): void {
    const now = Date.now()
    // a long gap means we slept: everything we know may be stale
    if (now - this.lastTick > 3 * TICK_INTERVAL) this.refreshTicks = 1
    this.tick++
    this.lastTick = now
    this.downHintsSent = 0
    if (!this.bootstrapped || this.destroyed) return

    if (this.adaptive && this.ephemeral && --this.stableTicks <= 0) {
      if (this.lastHost === this.nat.host) this.stableTicks = MORE_STABLE_TICKS
      else this.updateNetworkState().catch(safetyCatch)
    }
    if ((this.tick & 7) === 0) this.pingSome()
    if (((this.tick & 63) === 0 && this.nodes.size < this.k) || --this.refreshTicks <= 0) this.refresh()
  }

  // --- incoming requests ---

  private onrequest (req: IncomingRequest, external: boolean): void {
    if (req.from.id !== null) this.addNodeFromNetwork(!external, req.from, req.to)
    if (req.internal) {
      this.oninternal(req)
      return
    }
    const handler = this.handlers.get(req.command)
    if (handler === undefined) {
      req.error(ERROR_UNKNOWN_COMMAND, { closerNodes: req.target !== null })
      return
    }
    try {
      const p = handler(req)
      if (p !== undefined) p.catch(() => { this.stats.handlerErrors++ })
    } catch {
      this.stats.handlerErrors++
    }
  }

  private oninternal (req: IncomingRequest): void {
    switch (req.command) {
      case PING:
        req.sendReply(0, null, false, false)
        return
      case PING_NAT: {
        // answer at the port they name: it reaches them only if that port is open
        if (req.value === null || req.value.byteLength < 2) return
        const port = req.value.readUInt16LE(0)
        if (port === 0) return
        req.sendReply(0, null, false, false, { to: { host: req.from.host, port } })
        return
      }
      case FIND_NODE:
        if (req.target === null) return
        req.sendReply(0, null, false, true)
        return
      case DOWN_HINT: {
        if (req.value === null || req.value.byteLength < 6) return
        if (this.checks < MAX_CHECKS) {
          const node = this.table.get(nodeId(`${req.value[0]}.${req.value[1]}.${req.value[2]}.${req.value[3]}`, req.value.readUInt16LE(4)))
          if (node !== null && (node.pinged < this.tick || node.downHints === 0)) {
            node.downHints++
            this.check(node)
          }
        }
        req.sendReply(0, null, false, false)
        return
      }
      case DELAYED_PING: {
        if (req.value === null || req.value.byteLength < 4) return
        const delay = req.value.readUInt32LE(0)
        if (delay > this.maxPingDelay || this.delayedPings.size >= MAX_DELAYED_PINGS) return
        const timer = setTimeout(() => {
          this.delayedPings.delete(timer)
          if (!this.destroyed) req.sendReply(0, null, false, false)
        }, delay)
        this.delayedPings.add(timer)
        return
      }
    }
    req.sendReply(ERROR_UNKNOWN_COMMAND, null, false, req.target !== null)
  }
}

// background queries yield to user traffic
function background (concurrency: number): number {
  return Math.min(concurrency, Math.max(2, Math.floor(concurrency / 8)))
}

function u16 (n: number): Buffer {
  const b = Buffer.allocUnsafe(2)
  b.writeUInt16LE(n, 0)
  return b
}

function hex (id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')
}

function randomOffset (n: number): number {
  return n - Math.floor(Math.random() * 0.5 * n)
}

function isUnicastIPv4 (host: string): boolean {
  const parts = host.split('.').map(Number)
  return parts.length === 4 && parts.every((n) => Number.isInteger(n) && n >= 0 && n <= 255) && parts[0] !== 0 && parts[0] < 224
}
