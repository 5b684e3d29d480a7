// Our Swarm against our Swarm on a testnet of our own DHT nodes (127.0.0.1,
// MDNS off): discovery, one connection per pair, replication, the firewall,
// reconnects, leave, and the TCP fallback when UDX fails.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Socket } from 'node:net'
import { createTestnet, type Testnet } from '../../src/dht/bootstrap-node.js'
import { decodeLookup } from '../../src/dht/hyper-dht.js'
import { Swarm, type SwarmOptions } from '../../src/swarm/swarm.js'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { hash } from '../../src/crypto/index.js'
import type { SecretStream } from '../../src/net/secret-stream.js'
import { onTeardown } from './teardown.js'

const LOCAL = '127.0.0.1'

async function testnet (t: any, n = 8): Promise<Testnet> {
  const net = await createTestnet(n, { host: LOCAL })
  onTeardown(t, () => net.destroy())
  return net
}

function swarm (t: any, net: Testnet, opts: SwarmOptions = {}): Swarm {
  const s = new Swarm({ bootstrap: net.bootstrap, host: LOCAL, mdns: false, ...opts })
  onTeardown(t, () => s.destroy())
  return s
}

function nextConnection (s: Swarm, ms = 15_000): Promise<SecretStream> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no connection within ' + ms + ' ms')), ms)
    s.once('connection', (c: SecretStream) => { clearTimeout(timer); resolve(c) })
  })
}

test('two swarms that both serve and look up a topic end with one shared connection and replicate a core', async (t) => {
  const net = await testnet(t)
  const core = new Hypercore(new MemoryStorage())
  onTeardown(t, () => core.close())
  await core.append([Buffer.from('one'), Buffer.from('two')])
  const clone = new Hypercore(new MemoryStorage(), core.key)
  onTeardown(t, () => clone.close())
  await clone.ready()

  const a = swarm(t, net)
  const b = swarm(t, net)
  a.on('connection', (s) => core.replicate(s))
  b.on('connection', (s) => clone.replicate(s))
  const topic = core.discoveryKey as Buffer
  await a.join(topic).flushed()
  await b.join(topic).flushed()
  await a.flush()
  await b.flush()

  assert.equal(a.connections.size, 1)
  assert.equal(b.connections.size, 1)
  const [ca] = [...a.connections]
  const [cb] = [...b.connections]
  await Promise.all([ca.opened, cb.opened])
  assert.ok(ca.handshakeHash?.equals(cb.handshakeHash as Buffer), 'both sides kept the same connection')
  assert.ok(ca.remotePublicKey?.equals(b.publicKey))

  await clone.update({ timeout: 10_000 })
  assert.equal(clone.length, 2)
  assert.equal((await clone.get(1))?.toString(), 'two')
})

test('when two peers dial each other at once, both keep the same single connection', async (t) => {
  const net = await testnet(t)
  const a = swarm(t, net)
  const b = swarm(t, net)
  await Promise.all([a.listen(), b.listen()])
  a.joinPeer(b.publicKey)
  b.joinPeer(a.publicKey)
  await Promise.all([a.flush(), b.flush()])
  assert.equal(a.connections.size, 1)
  assert.equal(b.connections.size, 1)
  const [ca] = [...a.connections]
  const [cb] = [...b.connections]
  await Promise.all([ca.opened, cb.opened])
  assert.ok(ca.handshakeHash?.equals(cb.handshakeHash as Buffer), 'the survivor is the same connection on both sides')
  // the survivor is the one dialled by the larger key, on both ends
  const aBigger = Buffer.compare(a.publicKey, b.publicKey) > 0
  assert.equal(ca.isInitiator, aBigger)
})

test('a firewall that refuses a key keeps that peer out in both directions', async (t) => {
  const net = await testnet(t)
  const topic = hash(Buffer.from('firewalled topic'))
  const blocked = swarm(t, net)
  const guard = swarm(t, net, { firewall: (pk) => pk.equals(blocked.publicKey) })
  await guard.join(topic, { server: true, client: true }).flushed()
  // guard's own lookup saw nobody yet; blocked finds guard and dials it
  blocked.join(topic, { server: true, client: true })
  // the guard refuses the incoming handshake (no answer) and never dials back
  for (let i = 0; i < 200 && guard.stats.firewalled === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  assert.ok(guard.stats.firewalled > 0, 'the refusal was counted')
  await guard.flush()
  assert.equal(guard.connections.size, 0)
  assert.equal(blocked.connections.size, 0)
})

test('a client whose connection drops dials the server again', async (t) => {
  const net = await testnet(t)
  const topic = hash(Buffer.from('reconnect topic'))
  const server = swarm(t, net)
  const client = swarm(t, net)
  await server.join(topic, { server: true, client: false }).flushed()
  const first = nextConnection(client)
  client.join(topic, { server: false, client: true })
  const c1 = await first
  const again = nextConnection(client)
  // the server drops it; the client notices and re-dials after its backoff
  for (const s of server.connections) s.destroy()
  const c2 = await again
  assert.notEqual(c1, c2)
  assert.ok(c2.remotePublicKey?.equals(server.publicKey))
  assert.equal(client.stats.connects.client.opened, 2)
})

test('redialNow dials a peer whose retries were used up, at once, once it serves again', async (t) => {
  const net = await testnet(t)
  const topic = hash(Buffer.from('redial topic'))
  const server = swarm(t, net)
  const client = swarm(t, net)
  await server.join(topic, { server: true, client: false }).flushed()
  const first = nextConnection(client)
  client.join(topic, { server: false, client: true })
  await first
  const info = client.peers.get(server.publicKey.toString('hex'))
  assert.ok(info, 'the client knows the server')
  // the server goes away and the client gives up on it (retries used up, no
  // reconnect timer): before redialNow it would wait for the 10-minute refresh
  const keyPair = server.keyPair
  await server.destroy()
  for (let i = 0; i < 100 && client.connections.size > 0; i++) await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(client.connections.size, 0)
  info.clearReconnect()
  info.attempts = 99
  const back = swarm(t, net, { keyPair })
  await back.join(topic, { server: true, client: false }).flushed()
  const again = nextConnection(client)
  client.redialNow()
  const c = await again
  assert.ok(c.remotePublicKey?.equals(keyPair.publicKey))
})

test('leave unannounces: a later lookup finds no record of the key', async (t) => {
  const net = await testnet(t)
  const topic = hash(Buffer.from('leave topic'))
  const s = swarm(t, net)
  await s.join(topic, { server: true, client: false }).flushed()

  const found = async (): Promise<boolean> => {
    const q = net.nodes[1].lookup(topic)
    let hit = false
    for await (const reply of q) {
      const r = decodeLookup(reply)
      if (r?.peers.some((p) => Buffer.from(p.publicKey).equals(s.publicKey)) === true) hit = true
    }
    return hit
  }
  assert.equal(await found(), true, 'announced')
  await s.leave(topic)
  assert.equal(await found(), false, 'gone after leave')
})

test('maxPeers bounds how many peers a swarm connects to', async (t) => {
  const net = await testnet(t)
  const topic = hash(Buffer.from('crowded topic'))
  const servers = [swarm(t, net), swarm(t, net), swarm(t, net)]
  for (const s of servers) await s.join(topic, { server: true, client: false }).flushed()
  const client = swarm(t, net, { maxPeers: 1 })
  await client.join(topic, { server: false, client: true }).flushed()
  await client.flush()
  assert.equal(client.connections.size, 1)
})

test('when UDX cannot connect, two swarms still connect over TCP and replicate a core', async (t) => {
  const net = await testnet(t)
  const core = new Hypercore(new MemoryStorage())
  onTeardown(t, () => core.close())
  await core.append([Buffer.from('tcp one'), Buffer.from('tcp two')])
  const clone = new Hypercore(new MemoryStorage(), core.key)
  onTeardown(t, () => clone.close())
  await clone.ready()

  const a = swarm(t, net)
  const b = swarm(t, net, { udx: false })
  a.on('connection', (s) => core.replicate(s))
  b.on('connection', (s) => clone.replicate(s))
  const topic = core.discoveryKey as Buffer
  await a.join(topic, { server: true, client: false }).flushed()
  b.join(topic, { server: false, client: true })
  await b.flush()

  assert.equal(b.connections.size, 1)
  const [cb] = [...b.connections]
  assert.ok(cb.rawStream instanceof Socket, 'the client runs over TCP')
  assert.equal(b.stats.connects.tcp.opened, 1)
  await clone.update({ timeout: 10_000 })
  assert.equal(clone.length, 2)
  assert.equal((await clone.get(1))?.toString(), 'tcp two')
  // the server's side of the same connection is the TCP one
  const [ca] = [...a.connections]
  assert.ok(ca.rawStream instanceof Socket)
  assert.ok(ca.handshakeHash?.equals(cb.handshakeHash as Buffer))
  assert.equal(a.connections.size, 1)
})

test('with the TCP fallback off, a swarm whose UDX path fails does not connect', async (t) => {
  const net = await testnet(t)
  const a = swarm(t, net, { tcp: false })
  const b = swarm(t, net, { udx: false })
  const topic = hash(Buffer.from('no tcp topic'))
  await a.join(topic, { server: true, client: false }).flushed()
  b.join(topic, { server: false, client: true })
  await b.flush()
  assert.equal(b.connections.size, 0)
  assert.ok(b.stats.connects.client.failed > 0, 'the dial failed')
  assert.equal(b.stats.connects.tcp.opened, 0)
})
