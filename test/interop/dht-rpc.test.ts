// Our dht-rpc node against the real dht-rpc 6 / hyperdht 6 on 127.0.0.1.
// Every node gets an explicit local bootstrap list and binds 127.0.0.1; the
// real packages are loaded through require because they ship no types.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { DHTNode } from '../../src/dht/dht-node.js'
import { nodeId } from '../../src/dht/node-id.js'
import { compareDistance } from '../../src/dht/routing-table.js'
import { randomBytes } from '../../src/crypto/index.js'

const require = createRequire(import.meta.url)
const createTestnet = require('hyperdht/testnet')
const HyperDHT = require('hyperdht')
const RealDHT = require('dht-rpc')

const LOCAL = '127.0.0.1'

interface Addr { host: string, port: number }
const key = (a: Addr): string => `${a.host}:${a.port}`

test('our node joins a real hyperdht testnet, fills its table, queries and pings real nodes', async (t) => {
  const testnet = await createTestnet(12, { host: LOCAL })
  t.after(() => testnet.destroy())
  assert.ok(testnet.bootstrap.length > 0)
  for (const b of testnet.bootstrap) assert.equal(b.host, LOCAL)

  const ours = new DHTNode({ bootstrap: testnet.bootstrap, host: LOCAL, ephemeral: false, firewalled: false })
  t.after(() => ours.destroy())
  await ours.fullyBootstrapped()

  const port = ours.address()?.port as number
  assert.equal(ours.ephemeral, false)
  assert.equal(ours.id?.toString('hex'), nodeId(LOCAL, port).toString('hex'), 'id = H(public address) learned from real replies')

  // the testnet's first node never takes an id (it has nobody to sample from), the others do
  const realWithId = testnet.nodes.filter((n: any) => n.id !== null)
  assert.ok(realWithId.length >= 10)
  const realPorts = new Set(testnet.nodes.map((n: any) => n.address().port))
  const known = ours.toArray()
  assert.ok(known.length >= realWithId.length - 1, `table holds ${known.length} of ${realWithId.length} real nodes`)
  for (const n of known) assert.ok(realPorts.has(n.port), 'only real testnet nodes are in the table')

  // FIND_NODE: the closest replies must be exactly the real nodes closest to the target
  const target = randomBytes(32)
  const q = ours.findNode(target)
  let replies = 0
  for await (const r of q) {
    assert.equal(r.error, 0)
    replies++
  }
  assert.ok(replies >= realWithId.length - 1)
  const expected = realWithId
    .map((n: any) => n.id as Buffer)
    .sort((a: Buffer, b: Buffer) => compareDistance(target, a, b))
    .slice(0, 20)
    .map((id: Buffer) => id.toString('hex'))
  assert.deepEqual(q.closestReplies.map((r) => r.from.id?.toString('hex')), expected)

  // every real node answers our PING; persistent ones prove their id
  for (const n of testnet.nodes) {
    const res = await ours.ping({ host: LOCAL, port: n.address().port })
    assert.equal(res.error, 0)
    assert.equal(res.to.port, port, 'the reply names our address as the real node saw it')
    if (n.id !== null) assert.ok(res.from.id?.equals(n.id))
  }

  // the real nodes took us into their tables
  const hasUs = testnet.nodes.filter((n: any) => n.toArray().some((a: Addr) => a.port === port))
  assert.ok(hasUs.length >= 3, `${hasUs.length} real nodes know us`)
})

test('a firewalled ephemeral node of ours learns from real nodes that its server port is reachable', async (t) => {
  const testnet = await createTestnet(6, { host: LOCAL })
  t.after(() => testnet.destroy())
  const ours = new DHTNode({ bootstrap: testnet.bootstrap, host: LOCAL, ephemeral: true })
  t.after(() => ours.destroy())
  assert.equal(ours.firewalled, true)
  await ours.fullyBootstrapped()
  assert.equal(ours.firewalled, false, 'PING_NAT replies from real nodes reached our server socket')
  assert.equal(ours.ephemeral, true)
  assert.equal(ours.id, null)
  assert.equal(ours.host, LOCAL)
})

test('real dht-rpc and hyperdht nodes bootstrap from a network of our nodes', async (t) => {
  const first = new DHTNode({ bootstrap: [], host: LOCAL, ephemeral: false, firewalled: false })
  t.after(() => first.destroy())
  await first.fullyBootstrapped()
  const bootstrap = [{ host: LOCAL, port: first.address()?.port as number }]
  const ourNodes: DHTNode[] = [first]
  for (let i = 0; i < 7; i++) {
    const n = new DHTNode({ bootstrap, host: LOCAL, ephemeral: false, firewalled: false })
    t.after(() => n.destroy())
    await n.fullyBootstrapped()
    ourNodes.push(n)
  }
  const ourPorts = new Set(ourNodes.map((n) => n.address()?.port))

  // a persistent real dht-rpc node: it must take its id from the `to` our replies carry
  const real = new RealDHT({ bootstrap, host: LOCAL, ephemeral: false, firewalled: false })
  t.after(() => real.destroy())
  await real.fullyBootstrapped()
  assert.equal(real.ephemeral, false)
  assert.ok(real.id.equals(nodeId(LOCAL, real.address().port)))
  const table: Addr[] = real.toArray()
  assert.ok(table.length >= 6, `real node knows ${table.length} of our nodes`)
  for (const a of table) assert.ok(ourPorts.has(a.port))

  // its FIND_NODE walks our nodes and gets exactly the closest of them
  const target = randomBytes(32)
  const q = real.findNode(target)
  await q.finished()
  const expected = ourNodes.filter((n) => n.id !== null).map((n) => n.id as Buffer)
    .sort((a, b) => compareDistance(target, a, b)).map((id) => id.toString('hex'))
  assert.deepEqual(q.closestReplies.map((r: any) => r.from.id.toString('hex')), expected)

  // our nodes hear of it
  const realPort = real.address().port
  await ourNodes[3].ping({ host: LOCAL, port: realPort })
  assert.ok(ourNodes[3].toArray().some((a) => a.port === realPort))

  // a default (firewalled, adaptive) real node runs its PING_NAT firewall test
  // against our nodes: the answers must reach its server socket
  const adaptive = new RealDHT({ bootstrap, host: LOCAL })
  t.after(() => adaptive.destroy())
  await adaptive.fullyBootstrapped()
  assert.equal(adaptive.firewalled, true, 'starts firewalled')
  assert.equal(await adaptive._checkIfFirewalled(), false, 'our PING_NAT replies reached its server port')

  // and a full hyperdht node also bootstraps from us
  const hyper = new HyperDHT({ bootstrap, host: LOCAL, ephemeral: false, firewalled: false })
  t.after(() => hyper.destroy())
  await hyper.fullyBootstrapped()
  assert.ok(hyper.toArray().length >= 6)
  assert.equal(hyper.ephemeral, false)

  // a hyperdht command we do not serve yet gets UNKNOWN_COMMAND (1) from our node, as dht-rpc does
  const res = await hyper.request({ command: 2, target: randomBytes(32) }, { host: LOCAL, port: ourNodes[1].address()?.port })
  assert.equal(res.error, 1)
  assert.ok(res.closerNodes.length > 0)
})
