// Our HyperDHT servers and clients against real hyperdht 6 nodes on
// 127.0.0.1: announce, Noise IK relayed through the DHT, a UDX stream wrapped
// in secret-stream, both directions; the TCP fallback's field and offer are
// invisible to the real peer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import type { Duplex } from 'node:stream'
import { Socket } from 'node:net'
import { oracle } from '../helpers/oracle.js'
import { onTeardown } from '../swarm/teardown.js'
import { HyperDHT } from '../../src/dht/hyper-dht.js'

const createTestnet = oracle('hyperdht/testnet')
const RealDHT = oracle('hyperdht')
const LOCAL = '127.0.0.1'

async function echoOnce (stream: Duplex, msg: string): Promise<string> {
  stream.write(Buffer.from(msg))
  const [data] = await once(stream, 'data')
  return Buffer.from(data).toString()
}

function echo (stream: Duplex): void {
  stream.on('data', (d: Buffer) => stream.write(d))
  stream.on('error', () => {})
}

// One of our nodes and one real node on a real 6-node testnet, torn down with the test.
async function oursAndReal (t: Parameters<typeof onTeardown>[0]): Promise<{ ours: HyperDHT, real: any }> {
  const testnet = await createTestnet(6, { host: LOCAL })
  onTeardown(t, () => testnet.destroy())
  const ours = new HyperDHT({ bootstrap: testnet.bootstrap, host: LOCAL })
  const real = new RealDHT({ bootstrap: testnet.bootstrap, host: LOCAL })
  onTeardown(t, () => Promise.all([ours.destroy(), real.destroy()]))
  return { ours, real }
}

test('our client connects to our server through real relays and exchanges encrypted data', async (t) => {
  const testnet = await createTestnet(6, { host: LOCAL })
  onTeardown(t, () => testnet.destroy())
  const a = new HyperDHT({ bootstrap: testnet.bootstrap, host: LOCAL })
  const b = new HyperDHT({ bootstrap: testnet.bootstrap, host: LOCAL })
  onTeardown(t, () => Promise.all([a.destroy(), b.destroy()]))

  const server = a.createServer()
  server.on('connection', echo)
  await server.listen()
  assert.ok(server.relayAddresses.length > 0, 'the self announce found relays')

  const stream = await b.connect(a.defaultKeyPair.publicKey)
  onTeardown(t, () => stream.destroy())
  assert.equal(await echoOnce(stream, 'hello ours'), 'hello ours')
  assert.ok(stream.remotePublicKey?.equals(a.defaultKeyPair.publicKey))
})

test('a real hyperdht client connects to our server', async (t) => {
  const { ours, real } = await oursAndReal(t)

  const server = ours.createServer()
  let remoteKey: Buffer | null = null
  server.on('connection', (s: any) => { remoteKey = s.remotePublicKey; echo(s) })
  await server.listen()

  const conn = real.connect(ours.defaultKeyPair.publicKey)
  onTeardown(t, () => conn.destroy())
  conn.on('error', () => {})
  await once(conn, 'open')
  assert.equal(await echoOnce(conn, 'hello from real'), 'hello from real')
  assert.ok(remoteKey !== null && (remoteKey as Buffer).equals(real.defaultKeyPair.publicKey))
})

test('our client connects to a real hyperdht server', async (t) => {
  const { ours, real } = await oursAndReal(t)

  const server = real.createServer(echo)
  await server.listen()

  const stream = await ours.connect(server.publicKey)
  onTeardown(t, () => stream.destroy())
  assert.equal(await echoOnce(stream, 'hello real'), 'hello real')
  assert.ok(stream.remotePublicKey?.equals(server.publicKey))
})

test('a handshake that fails to decrypt gets no answer and is counted', async (t) => {
  const testnet = await createTestnet(4, { host: LOCAL })
  onTeardown(t, () => testnet.destroy())
  const ours = new HyperDHT({ bootstrap: testnet.bootstrap, host: LOCAL })
  const client = new HyperDHT({ bootstrap: testnet.bootstrap, host: LOCAL })
  onTeardown(t, () => Promise.all([ours.destroy(), client.destroy()]))
  const server = ours.createServer()
  await server.listen()
  await client.fullyBootstrapped()
  const { encode } = await import('../../src/codec/index.js')
  const { handshakeMessage, MODE } = await import('../../src/codec/hyperdht-messages.js')
  const garbage = Buffer.alloc(96, 7)
  const to = ours.address() as { host: string, port: number }
  await assert.rejects(client.request(to, {
    command: 0,
    target: HyperDHT.hash(ours.defaultKeyPair.publicKey),
    value: encode(handshakeMessage, { mode: MODE.FROM_CLIENT, noise: garbage, peerAddress: null, relayAddress: null })
  }, { retries: 0, timeout: 500 }), { code: 'REQUEST_TIMEOUT' })
  assert.equal(server.stats.dropped.badHandshake, 1)
})

// --- the hyperfs-only tcp field (TCP fallback) against the real decoder ---

test('the real decoder reads a payload carrying our tcp field exactly as it reads one without', async () => {
  const realMessages = oracle('hyperdht/lib/messages.js')
  const c = oracle('compact-encoding')
  const { encode } = await import('../../src/codec/index.js')
  const { noisePayload, TCP_FLAG } = await import('../../src/codec/hyperdht-messages.js')
  const { emptyPayload } = await import('../../src/dht/peer-handshake.js')
  // a client's msg1 payload and a server's reply with every optional field the real one reads
  const client = { ...emptyPayload(), addresses4: [{ host: '10.0.0.2', port: 5000 }], udx: { version: 1, reusableSocket: false, id: 7, seq: 0 }, secretStream: { version: 1 } }
  const server = {
    ...client,
    firewall: 2,
    holepunch: { id: 3, relays: [{ relayAddress: { host: '1.2.3.4', port: 49737 }, peerAddress: { host: '5.6.7.8', port: 4000 } }] },
    relayAddresses: [{ host: '1.2.3.4', port: 49737 }]
  }
  for (const [plain, port] of [[client, 0], [server, 40000]] as const) {
    const withTcp = encode(noisePayload, { ...plain, tcp: { port } })
    const without = encode(noisePayload, plain)
    assert.ok(withTcp.byteLength > without.byteLength, 'the field is on the wire')
    assert.ok((c.decode(c.uint, withTcp.subarray(1)) & TCP_FLAG) !== 0, 'under our flag bit')
    assert.deepEqual(c.decode(realMessages.noisePayload, withTcp), c.decode(realMessages.noisePayload, without))
  }
})

test('a real hyperdht client connects over UDX to our server that offers TCP', async (t) => {
  const { ours, real } = await oursAndReal(t)

  const server = ours.createServer({ tcp: true })
  server.on('connection', echo)
  await server.listen()
  assert.ok(server.tcpPort > 0, 'our server listens on TCP')

  const conn = real.connect(ours.defaultKeyPair.publicKey)
  onTeardown(t, () => conn.destroy())
  conn.on('error', () => {})
  await once(conn, 'open')
  assert.equal(await echoOnce(conn, 'real to tcp-capable'), 'real to tcp-capable')
  assert.equal(server.stats.tcpConnections, 0)
})

test('our client that offers TCP connects over UDX to a real hyperdht server, which takes the offer in stride', async (t) => {
  const { ours, real } = await oursAndReal(t)

  const server = real.createServer(echo)
  await server.listen()

  const stream = await ours.connect(server.publicKey, { tcp: true })
  onTeardown(t, () => stream.destroy())
  assert.equal(await echoOnce(stream, 'tcp-capable to real'), 'tcp-capable to real')
  assert.ok(!(stream.rawStream instanceof Socket), 'a real server gives no TCP port, so UDX it is')
})
