// Our Swarm against the real Hyperswarm 4 / HyperDHT 6 / hypercore 11 on
// 127.0.0.1. Every DHT has an explicit local bootstrap and MDNS is off.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { oracle } from '../helpers/oracle.js'
import { tmpDir } from '../helpers/tmp.js'
import { Swarm } from '../../src/swarm/swarm.js'
import { HyperDHT } from '../../src/dht/hyper-dht.js'
import { onTeardown } from '../swarm/teardown.js'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'

const createTestnet = oracle('hyperdht/testnet')
const RealDHT = oracle('hyperdht')
const Hyperswarm = oracle('hyperswarm')
const RealHypercore = oracle('hypercore')
const LOCAL = '127.0.0.1'

function realSwarm (t: any, bootstrap: unknown[]): any {
  const swarm = new Hyperswarm({ dht: new RealDHT({ bootstrap, host: LOCAL }) })
  onTeardown(t, async () => { await swarm.destroy(); await swarm.dht.destroy() })
  return swarm
}

function ourSwarm (t: any, bootstrap: Array<string | { host: string, port: number }>): Swarm {
  const swarm = new Swarm({ bootstrap, host: LOCAL, mdns: false })
  onTeardown(t, () => swarm.destroy())
  return swarm
}

async function blocks (core: any, n: number): Promise<string[]> {
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(Buffer.from(await core.get(i)).toString())
  return out
}

test('a real Hyperswarm client finds our announced topic, connects, and a real hypercore replicates our core', async (t) => {
  const testnet = await createTestnet(6, { host: LOCAL })
  onTeardown(t, () => testnet.destroy())

  const core = new Hypercore(new MemoryStorage())
  onTeardown(t, () => core.close())
  await core.append([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')])

  const ours = ourSwarm(t, testnet.bootstrap)
  ours.on('connection', (stream) => { core.replicate(stream) })
  await ours.join(core.discoveryKey as Buffer, { server: true, client: false }).flushed()

  const clone = new RealHypercore(tmpDir(t), core.key)
  onTeardown(t, () => clone.close())
  await clone.ready()
  const real = realSwarm(t, testnet.bootstrap)
  let conns = 0
  real.on('connection', (conn: any) => { conns++; conn.on('error', () => {}); clone.replicate(conn) })
  real.join(clone.discoveryKey, { server: false, client: true })
  await real.flush()
  assert.equal(conns, 1, 'the real client connected to our swarm')
  assert.equal(ours.connections.size, 1)
  // our swarm offers the TCP fallback by default; the real client never sees it
  assert.ok((ours as any).server.tcpPort > 0, 'our server listens on TCP')
  assert.equal(ours.stats.connects.tcp.opened, 0)

  assert.deepEqual(await blocks(clone, 3), ['a', 'b', 'c'])
  assert.equal(clone.length, 3)
})

test('our swarm finds a real Hyperswarm server and our core replicates its hypercore', async (t) => {
  const testnet = await createTestnet(6, { host: LOCAL })
  onTeardown(t, () => testnet.destroy())

  const source = new RealHypercore(tmpDir(t))
  onTeardown(t, () => source.close())
  await source.append([Buffer.from('x'), Buffer.from('y')])
  const real = realSwarm(t, testnet.bootstrap)
  real.on('connection', (conn: any) => { conn.on('error', () => {}); source.replicate(conn) })
  await real.join(source.discoveryKey, { server: true, client: false }).flushed()

  const clone = new Hypercore(new MemoryStorage(), source.key)
  onTeardown(t, () => clone.close())
  await clone.ready()
  const ours = ourSwarm(t, testnet.bootstrap)
  ours.on('connection', (stream) => { clone.replicate(stream) })
  ours.join(clone.discoveryKey as Buffer, { server: false, client: true })
  await ours.flush()
  assert.equal(ours.connections.size, 1, 'we connected to the real server')
  assert.equal(ours.stats.connects.client.opened, 1)
  // we offered TCP in the handshake; the real server ignored it and UDX carried the connection
  assert.equal(ours.stats.connects.tcp.opened, 0)

  await clone.update({ timeout: 10_000 })
  assert.equal(clone.length, 2)
  assert.deepEqual(await blocks(clone, 2), ['x', 'y'])
})

test('our DHT nodes serve as the bootstrap and the storage for two real Hyperswarm peers', async (t) => {
  // a small network of ours only: the first node has nobody to bootstrap from
  const first = new HyperDHT({ bootstrap: [], host: LOCAL, port: 0, ephemeral: false, firewalled: false })
  onTeardown(t, () => first.destroy())
  await first.fullyBootstrapped()
  const bootstrap = [{ host: LOCAL, port: (first.address() as { port: number }).port }]
  const nodes: HyperDHT[] = []
  for (let i = 0; i < 5; i++) {
    const n = new HyperDHT({ bootstrap, host: LOCAL, ephemeral: false, firewalled: false })
    nodes.push(n)
    onTeardown(t, () => n.destroy())
  }
  await Promise.all(nodes.map((n) => n.fullyBootstrapped()))

  const topic = HyperDHT.hash(Buffer.from('bootstrap topic'))
  const a = realSwarm(t, bootstrap)
  const b = realSwarm(t, bootstrap)
  a.on('connection', (c: any) => { c.on('error', () => {}); c.write('from a') })
  await a.join(topic, { server: true, client: false }).flushed()

  const got = new Promise<string>((resolve) => {
    b.on('connection', (c: any) => { c.on('error', () => {}); c.once('data', (d: Buffer) => resolve(d.toString())) })
  })
  b.join(topic, { server: false, client: true })
  await b.flush()
  assert.equal(await got, 'from a')
  const stored = [first, ...nodes].reduce((n, d) => n + d.persistent.stats.announces, 0)
  assert.ok(stored > 0, 'the announces landed on our nodes')
  const relayed = [first, ...nodes].reduce((n, d) => n + d.router.stats.relayedHandshakes, 0)
  assert.ok(relayed > 0, 'our nodes relayed the Noise handshake')
})
