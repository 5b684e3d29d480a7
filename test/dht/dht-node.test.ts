// A network of our own nodes on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DHTNode } from '../../src/dht/dht-node.js'
import { nodeId } from '../../src/dht/node-id.js'
import { compareDistance } from '../../src/dht/routing-table.js'
import type { IncomingRequest } from '../../src/dht/io.js'
import { isHyperfsError } from '../../src/errors.js'
import { randomBytes } from '../../src/crypto/index.js'

const LOCAL = '127.0.0.1'
const STORE = 42 // a stand-in for a hyperdht write command such as ANNOUNCE

interface Net { nodes: DHTNode[], bootstrap: Array<{ host: string, port: number }>, stored: Map<DHTNode, Map<string, Buffer>> }

// each node answers STORE: without a token it only hands one out (like a
// LOOKUP), with a valid token it stores the value (like an ANNOUNCE)
function serveStore (node: DHTNode, stored: Map<string, Buffer>): void {
  node.handle(STORE, (req: IncomingRequest) => {
    if (req.target === null) { req.error(3); return }
    if (req.token !== null && req.value !== null) stored.set(req.target.toString('hex'), req.value)
    req.reply(null)
  })
}

async function network (t: { after (fn: () => unknown): void }, size: number): Promise<Net> {
  const stored = new Map<DHTNode, Map<string, Buffer>>()
  const first = new DHTNode({ bootstrap: [], host: LOCAL, ephemeral: false, firewalled: false })
  t.after(() => first.destroy())
  await first.fullyBootstrapped()
  const bootstrap = [{ host: LOCAL, port: first.address()?.port as number }]
  const nodes = [first]
  for (let i = 1; i < size; i++) {
    const n = new DHTNode({ bootstrap, host: LOCAL, ephemeral: false, firewalled: false })
    t.after(() => n.destroy())
    await n.fullyBootstrapped()
    nodes.push(n)
  }
  for (const n of nodes) {
    const m = new Map<string, Buffer>()
    stored.set(n, m)
    serveStore(n, m)
  }
  return { nodes, bootstrap, stored }
}

function trueClosest (nodes: DHTNode[], target: Uint8Array, k = 20): string[] {
  return nodes.filter((n) => n.id !== null).map((n) => n.id as Buffer)
    .sort((a, b) => compareDistance(target, a, b)).slice(0, k).map((id) => id.toString('hex'))
}

test('in a network of 25 nodes every node takes the id of its address and FIND_NODE converges on the true closest', async (t) => {
  const { nodes } = await network(t, 25)
  for (const n of nodes.slice(1)) {
    assert.equal(n.ephemeral, false)
    assert.ok(n.id?.equals(nodeId(LOCAL, n.address()?.port as number)))
    assert.ok(n.table.size > 0)
  }
  // the first node had nobody to learn its address from, as in dht-rpc
  assert.equal(nodes[0].id, null)

  for (let i = 0; i < 6; i++) {
    const from = nodes[(i * 7) % nodes.length]
    const target = i === 0 ? (nodes[5].id as Buffer) : randomBytes(32)
    const q = from.findNode(target)
    await q.finished()
    const want = trueClosest(nodes.filter((n) => n !== from), target)
    assert.deepEqual(q.closestReplies.map((r) => r.from.id?.toString('hex')), want, `query ${i}`)
    assert.ok(q.requests <= nodes.length)
  }
})

test('a query with commit stores a value on the k closest nodes using the tokens they issued', async (t) => {
  const { nodes, stored } = await network(t, 24)
  const target = randomBytes(32)
  const value = Buffer.from('record')
  const q = nodes[3].query({ target, command: STORE, value }, { commit: true })
  const replies = []
  for await (const r of q) replies.push(r)
  assert.ok(replies.length > 0)
  for (const r of replies) assert.ok(r.token !== null, 'a reply() carries a token by default')

  const key = target.toString('hex')
  const holders = nodes.filter((n) => stored.get(n)?.get(key)?.equals(value))
  const want = trueClosest(nodes.filter((n) => n !== nodes[3]), target)
  assert.deepEqual(holders.map((n) => (n.id as Buffer).toString('hex')).sort(), want.slice().sort())
})

test('a custom commit hook runs once per closest reply after the walk', async (t) => {
  const { nodes } = await network(t, 12)
  const target = randomBytes(32)
  const committed: string[] = []
  const q = nodes[1].findNode(target, {
    commit: async (reply) => { committed.push(`${reply.from.host}:${reply.from.port}`) }
  })
  await q.finished()
  assert.equal(committed.length, q.closestReplies.length)
  assert.ok(committed.length >= 10)
})

test('a write token stops working after two rotations and the error reply carries a new one', async (t) => {
  const { nodes, stored } = await network(t, 3)
  const [a, b] = [nodes[1], nodes[2]]
  const to = { host: LOCAL, port: b.address()?.port as number }
  const target = randomBytes(32)
  const first = await a.request(to, { command: STORE, target })
  assert.equal(first.error, 0)
  assert.ok(first.token !== null)

  b.io.tokens.rotate()
  const stillOk = await a.request(to, { command: STORE, target, token: first.token, value: Buffer.from('x') })
  assert.equal(stillOk.error, 0)

  b.io.tokens.rotate()
  const rejected = await a.request(to, { command: STORE, target, token: first.token, value: Buffer.from('y') })
  assert.equal(rejected.error, 2)
  assert.equal(stored.get(b)?.get(target.toString('hex'))?.toString(), 'x')
  assert.ok(rejected.token !== null && !rejected.token.equals(first.token))
  const retried = await a.request(to, { command: STORE, target, token: rejected.token, value: Buffer.from('z') })
  assert.equal(retried.error, 0)
  assert.equal(stored.get(b)?.get(target.toString('hex'))?.toString(), 'z')
})

test('unhandled commands get UNKNOWN_COMMAND with closer nodes; internal commands answer as dht-rpc does', async (t) => {
  const { nodes } = await network(t, 6)
  const [a, b] = [nodes[1], nodes[2]]
  const to = { host: LOCAL, port: b.address()?.port as number }

  const unknown = await a.request(to, { command: 7, target: randomBytes(32) })
  assert.equal(unknown.error, 1)
  assert.ok((unknown.closerNodes?.length ?? 0) > 0)
  assert.equal(unknown.token, null)

  const ping = await a.ping(to)
  assert.equal(ping.error, 0)
  assert.equal(ping.closerNodes, null)
  assert.equal(ping.token, null)
  assert.ok(ping.from.id?.equals(b.id as Buffer), 'a persistent node proves its id from its server socket')

  const delayed = await a.delayedPing(to, 50)
  assert.equal(delayed.error, 0)

  const findNode = await a.request(to, { internal: true, command: 2, target: randomBytes(32) })
  assert.equal(findNode.error, 0)
  assert.equal(findNode.token, null)
  assert.ok((findNode.closerNodes?.length ?? 0) > 0)

  const unknownInternal = await a.request(to, { internal: true, command: 99 })
  assert.equal(unknownInternal.error, 1)
})

test('a node that stops answering is dropped from the routing table after its request times out', async (t) => {
  const { nodes } = await network(t, 6)
  const [a, dead] = [nodes[1], nodes[4]]
  const deadAddr = { host: LOCAL, port: dead.address()?.port as number }
  await a.ping(deadAddr)
  assert.ok(a.table.has(dead.id as Buffer))
  await dead.destroy()
  await assert.rejects(a.ping(deadAddr, { retries: 0, timeout: 100 }), (e) => isHyperfsError(e, 'REQUEST_TIMEOUT'))
  assert.equal(a.table.has(dead.id as Buffer), false)
})

test('aborting a query stops it with REQUEST_CANCELLED', async (t) => {
  const { nodes } = await network(t, 8)
  const ctrl = new AbortController()
  const q = nodes[2].findNode(randomBytes(32), { signal: ctrl.signal })
  ctrl.abort()
  await assert.rejects(q.finished(), (e) => isHyperfsError(e, 'REQUEST_CANCELLED'))
  assert.equal(q.destroyed, true)
})

test('a first node given its address takes its id from it and stores records', async (t) => {
  const { runBootstrapNode } = await import('../../src/dht/bootstrap-node.js')
  const { nodeId } = await import('../../src/dht/node-id.js')
  const node = await runBootstrapNode({ host: '127.0.0.1', port: 0, anyPort: true })
  t.after(() => node.destroy())
  const addr = node.address()!
  assert.equal(node.ephemeral, false)
  assert.ok(Buffer.from(node.id!).equals(nodeId('127.0.0.1', addr.port)))
})
