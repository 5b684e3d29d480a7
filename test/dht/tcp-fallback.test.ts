// The TCP fallback between our own client and server on a testnet of our DHT
// nodes (127.0.0.1): the IK session carried over TCP when UDX fails, no
// fallback without the server's port, and the listener's refusal of sockets
// that name no pending handshake.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import net from 'node:net'
import { createTestnet, type Testnet } from '../../src/dht/bootstrap-node.js'
import { HyperDHT } from '../../src/dht/hyper-dht.js'
import type { SecretStream } from '../../src/net/secret-stream.js'
import { onTeardown } from '../swarm/teardown.js'

const LOCAL = '127.0.0.1'

async function setup (t: any, serverTcp: boolean): Promise<{ net: Testnet, a: HyperDHT, b: HyperDHT, accepted: SecretStream[] }> {
  const tn = await createTestnet(6, { host: LOCAL })
  onTeardown(t, () => tn.destroy())
  const a = new HyperDHT({ bootstrap: tn.bootstrap, host: LOCAL })
  const b = new HyperDHT({ bootstrap: tn.bootstrap, host: LOCAL })
  onTeardown(t, () => Promise.all([a.destroy(), b.destroy()]))
  const server = a.createServer({ tcp: serverTcp })
  const accepted: SecretStream[] = []
  server.on('connection', (s: SecretStream) => {
    accepted.push(s)
    s.on('error', () => {})
    s.on('data', (d: Buffer) => s.write(d))
  })
  onTeardown(t, () => server.close())
  await server.listen()
  return { net: tn, a, b, accepted }
}

test('when no UDX path works, our client reaches our server over TCP with the IK session and data flows', async (t) => {
  const { a, b, accepted } = await setup(t, true)
  const server = [...a.servers][0]
  assert.equal(server.tcpPort, (a.address() as { port: number }).port, 'TCP took the UDP port number')

  const stream = await b.connect(a.defaultKeyPair.publicKey, { tcp: true, udx: false })
  onTeardown(t, () => stream.destroy())
  assert.ok(stream.rawStream instanceof net.Socket, 'the stream runs over TCP')
  stream.write(Buffer.from('over tcp'))
  const [data] = await once(stream, 'data')
  assert.equal(Buffer.from(data).toString(), 'over tcp')
  assert.ok(stream.remotePublicKey?.equals(a.defaultKeyPair.publicKey))
  assert.equal(server.stats.tcpConnections, 1)
  // the server may have emitted a UDX stream for the session first: the TCP
  // one replaced it, so it is gone before its successor appeared
  const tcp = accepted[accepted.length - 1]
  assert.ok(tcp.rawStream instanceof net.Socket)
  for (const s of accepted.slice(0, -1)) assert.ok(s.destroyed, 'the abandoned UDX stream was closed')
  assert.ok(tcp.handshakeHash?.equals(stream.handshakeHash as Buffer), 'both ends use the one IK handshake')
  assert.ok(tcp.remotePublicKey?.equals(b.defaultKeyPair.publicKey))
})

test('a client that offers TCP still uses UDX when it works', async (t) => {
  const { a, b } = await setup(t, true)
  const stream = await b.connect(a.defaultKeyPair.publicKey, { tcp: true })
  onTeardown(t, () => stream.destroy())
  assert.ok(!(stream.rawStream instanceof net.Socket), 'UDX, not TCP')
  stream.write(Buffer.from('over udx'))
  const [data] = await once(stream, 'data')
  assert.equal(Buffer.from(data).toString(), 'over udx')
  assert.equal([...a.servers][0].stats.tcpConnections, 0)
})

test('without a TCP port from the server, a failed UDX path fails the connect', async (t) => {
  const { a, b } = await setup(t, false)
  await assert.rejects(b.connect(a.defaultKeyPair.publicKey, { tcp: true, udx: false }), { code: 'PEER_CONNECTION_FAILED' })
})

test('a TCP socket that names no pending handshake is closed without a stream', async (t) => {
  const { a, accepted } = await setup(t, true)
  const server = [...a.servers][0]
  const socket = net.connect(server.tcpPort, LOCAL)
  onTeardown(t, () => socket.destroy())
  socket.on('error', () => {})
  await once(socket, 'connect')
  const frame = Buffer.alloc(3 + 56, 9)
  frame.writeUIntLE(56, 0, 3)
  socket.write(frame)
  await once(socket, 'close')
  assert.equal(accepted.length, 0)
  assert.equal(server.stats.tcpConnections, 0)
})
