// HyperDHT storage and routing on networks of our own nodes (127.0.0.1):
// announce/lookup at scale, record expiry, and hostile input.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createTestnet } from '../../src/dht/bootstrap-node.js'
import { HyperDHT, decodeLookup } from '../../src/dht/hyper-dht.js'
import { RecordStore } from '../../src/dht/record-store.js'
import { COMMANDS } from '../../src/dht/hyperdht-constants.js'
import { encode } from '../../src/codec/index.js'
import { announceMessage } from '../../src/codec/hyperdht-messages.js'
import { hash, keyPair } from '../../src/crypto/index.js'
import { signAnnounce } from '../../src/dht/persistent.js'
import { onTeardown } from '../swarm/teardown.js'

const LOCAL = '127.0.0.1'

async function lookupFinds (dht: HyperDHT, topic: Buffer, publicKey: Buffer): Promise<boolean> {
  const q = dht.lookup(topic)
  let hit = false
  for await (const reply of q) {
    if (decodeLookup(reply)?.peers.some((p) => publicKey.equals(p.publicKey)) === true) hit = true
  }
  return hit
}

test('on a 200-node network, at least 99% of lookups find an announced peer, and records expire', async (t) => {
  const maxAge = 4000
  const net = await createTestnet(200, { host: LOCAL, batch: 20, records: { maxAge } })
  onTeardown(t, () => net.destroy())

  const topics = Array.from({ length: 40 }, (_, i) => hash(Buffer.from('scale topic ' + i)))
  const announcers = topics.map(() => keyPair())
  // announce from random nodes, a few at a time (the machine has 2 cores)
  for (let i = 0; i < topics.length; i += 8) {
    await Promise.all(topics.slice(i, i + 8).map((topic, j) => {
      const node = net.nodes[(i + j) * 5 % net.nodes.length]
      return node.announce(topic, announcers[i + j]).finished()
    }))
  }
  let found = 0
  for (let i = 0; i < topics.length; i += 8) {
    const results = await Promise.all(topics.slice(i, i + 8).map((topic, j) => {
      const node = net.nodes[(i + j) * 7 % net.nodes.length + 0]
      return lookupFinds(node, topic, announcers[i + j].publicKey)
    }))
    found += results.filter(Boolean).length
  }
  assert.ok(found / topics.length >= 0.99, `${found}/${topics.length} lookups found their peer`)

  // nobody refreshes: after maxAge the storers drop the records
  await new Promise((resolve) => setTimeout(resolve, maxAge + 500))
  let stale = 0
  for (const [i, topic] of topics.slice(0, 8).entries()) {
    if (await lookupFinds(net.nodes[i * 11], topic, announcers[i].publicKey)) stale++
  }
  assert.equal(stale, 0, 'expired records are no longer served')
})

test('the record store stays within its bounds and evicts the oldest first', () => {
  let now = 0
  const store = new RecordStore({ maxSize: 10, maxPerTarget: 3, maxAge: 100 }, { now: () => now })
  for (let i = 0; i < 30; i++) store.add('t' + (i % 5), keyPair().publicKey, Buffer.from([i]))
  assert.equal(store.size, 10)
  assert.ok(store.get('t0', 20).length <= 3)
  now = 101
  assert.equal(store.size, 0, 'all expired')
})

test('unsigned, badly signed, oversized and malformed announces are dropped and counted', async (t) => {
  const net = await createTestnet(4, { host: LOCAL })
  onTeardown(t, () => net.destroy())
  const client = new HyperDHT({ bootstrap: net.bootstrap, host: LOCAL })
  onTeardown(t, () => client.destroy())
  await client.fullyBootstrapped()
  const storer = net.nodes[2]
  const to = storer.address() as { host: string, port: number }
  const topic = hash(Buffer.from('hostile topic'))
  const kp = keyPair()
  const first = await client.request(to, { command: COMMANDS.LOOKUP, target: topic })
  const token = first.token as Buffer
  const id = first.from.id as Buffer
  const peer = { publicKey: kp.publicKey, relayAddresses: [] }
  const send = (value: Buffer) => client.request(to, { command: COMMANDS.ANNOUNCE, target: topic, token, value }, { retries: 0, timeout: 300 })

  await assert.rejects(send(encode(announceMessage, { peer, refresh: null, signature: null, bump: 0 })), { code: 'REQUEST_TIMEOUT' })
  const wrong = signAnnounce(topic, token, id, peer, keyPair())
  await assert.rejects(send(encode(announceMessage, { peer, refresh: null, signature: wrong, bump: 0 })), { code: 'REQUEST_TIMEOUT' })
  await assert.rejects(send(Buffer.from([0x01, 0xff])), { code: 'REQUEST_TIMEOUT' })
  await assert.rejects(send(Buffer.alloc(1400, 1)), { code: 'REQUEST_TIMEOUT' })
  const stats = storer.persistent.stats
  assert.equal(stats.dropped.badSignature, 2)
  assert.equal(stats.dropped.badAnnounce, 1)
  assert.equal(stats.dropped.oversized, 1)
  assert.equal(stats.announces, 0)

  // the same announce, signed properly, is stored and served
  const good = signAnnounce(topic, token, id, peer, kp)
  const res = await send(encode(announceMessage, { peer, refresh: null, signature: good, bump: 0 }))
  assert.equal(res.error, 0)
  assert.equal(stats.announces, 1)
  assert.equal(await lookupFinds(client, topic, kp.publicKey), true)
})

test('garbage datagrams and replies to requests never sent are dropped and counted', async (t) => {
  const net = await createTestnet(2, { host: LOCAL })
  onTeardown(t, () => net.destroy())
  const target = net.nodes[1]
  const to = target.address() as { host: string, port: number }
  const { default: UDX } = await import('udx-native')
  const udx = new UDX()
  const sock = udx.createSocket()
  sock.bind(0, LOCAL)
  onTeardown(t, () => sock.close())
  const before = { ...target.io.stats.dropped }
  sock.trySend(Buffer.from([0x03, 0xff, 0xff]), to.port, to.host)
  sock.trySend(Buffer.from('not a dht packet at all'), to.port, to.host)
  // a well-formed response with a tid the node never used
  sock.trySend(Buffer.from([0x13, 0x00, 0x34, 0x12, 127, 0, 0, 1, 0x10, 0x27]), to.port, to.host)
  for (let i = 0; i < 100 && target.io.stats.dropped.malformed - before.malformed < 2; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  for (let i = 0; i < 100 && target.io.stats.dropped.unmatched === before.unmatched; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(target.io.stats.dropped.malformed - before.malformed, 2)
  assert.equal(target.io.stats.dropped.unmatched - before.unmatched, 1)
  // still serving
  const client = new HyperDHT({ bootstrap: net.bootstrap, host: LOCAL })
  onTeardown(t, () => client.destroy())
  assert.equal((await client.ping(to)).error, 0)
})
