// The transport layer, driven from a raw udx socket that plays a peer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import UDX, { type UDXSocket } from 'udx-native'
import { encode, decode } from '../../src/codec/index.js'
import { requestMessage, responseMessage, type RequestMessage } from '../../src/codec/dht-messages.js'
import { DHTNode } from '../../src/dht/dht-node.js'
import { isHyperfsError } from '../../src/errors.js'
import { randomBytes } from '../../src/crypto/index.js'

const LOCAL = '127.0.0.1'

interface Datagram { buf: Buffer, port: number }

function rawPeer (t: { after (fn: () => unknown): void }): { socket: UDXSocket, port: number, received: Datagram[], next (): Promise<Datagram> } {
  const udx = new UDX()
  const socket = udx.createSocket()
  socket.bind(0, LOCAL)
  t.after(() => socket.close())
  const received: Datagram[] = []
  let waiter: ((d: Datagram) => void) | null = null
  socket.on('message', (buf, rinfo) => {
    const d = { buf: Buffer.from(buf), port: rinfo.port }
    if (waiter !== null) {
      const w = waiter
      waiter = null
      w(d)
    } else {
      received.push(d)
    }
  })
  return {
    socket,
    port: socket.address()?.port as number,
    received,
    next: () => {
      const d = received.shift()
      if (d !== undefined) return Promise.resolve(d)
      return new Promise((resolve) => { waiter = resolve })
    }
  }
}

async function lonelyNode (t: { after (fn: () => unknown): void }, opts: { rateLimit?: number } = {}): Promise<DHTNode> {
  const node = new DHTNode({ bootstrap: [], host: LOCAL, ephemeral: false, firewalled: false, ...opts })
  t.after(() => node.destroy())
  await node.fullyBootstrapped()
  return node
}

function pingRequest (tid: number, port: number): Buffer {
  return encode(requestMessage, { tid, to: { host: LOCAL, port }, id: null, token: null, internal: true, command: 0, target: null, value: null })
}

test('responses with tids we never sent are dropped and counted; the real reply still matches', async (t) => {
  const node = await lonelyNode(t)
  const peer = rawPeer(t)
  const pending = node.ping({ host: LOCAL, port: peer.port })
  const { buf, port } = await peer.next()
  const req = decode(requestMessage, buf)
  assert.equal(req.internal, true)
  assert.equal(req.command, 0)
  assert.equal(req.id, null, 'an id-less node sends no id')

  const reply = (tid: number): Buffer => encode(responseMessage, { tid, to: { host: LOCAL, port }, id: null, token: null, closerNodes: null, error: 0, value: null })
  peer.socket.trySend(reply((req.tid + 1) & 0xffff), port, LOCAL)
  peer.socket.trySend(reply((req.tid + 77) & 0xffff), port, LOCAL)
  peer.socket.trySend(reply(req.tid), port, LOCAL)
  const res = await pending
  assert.equal(res.tid, req.tid)
  // a duplicate of the answer arrives after the request settled
  peer.socket.trySend(reply(req.tid), port, LOCAL)
  await node.ping({ host: LOCAL, port: node.address()?.port as number }) // flushes the loop through a round trip
  assert.equal(node.stats.io.dropped.unmatched, 3)
  assert.equal(node.io.inflightCount, 0)
})

test('malformed datagrams are dropped and counted, and the node keeps serving', async (t) => {
  const node = await lonelyNode(t)
  const peer = rawPeer(t)
  const nodePort = node.address()?.port as number
  const junk = [Buffer.from([0x03]), Buffer.from([0x03, 0x04]), Buffer.from([0x13, 0x04, 1]), Buffer.from([0x55, 0x01, 0x02]), randomBytes(100)]
  junk[4][0] = 0x03
  junk[4][1] = 0xff // a flags varint prefix: u64 follows, then garbage
  for (const j of junk) peer.socket.trySend(j, nodePort, LOCAL)
  peer.socket.trySend(pingRequest(5, nodePort), nodePort, LOCAL)
  const { buf } = await peer.next()
  const res = decode(responseMessage, buf)
  assert.equal(res.tid, 5)
  assert.equal(res.to.port, peer.port)
  assert.ok(node.stats.io.dropped.malformed >= 3, `malformed: ${node.stats.io.dropped.malformed}`)
})

test('a request to a silent peer is resent retries times, then fails with REQUEST_TIMEOUT', async (t) => {
  const node = await lonelyNode(t)
  const peer = rawPeer(t)
  await assert.rejects(node.ping({ host: LOCAL, port: peer.port }, { retries: 2, timeout: 50 }), (e) => isHyperfsError(e, 'REQUEST_TIMEOUT'))
  assert.equal(peer.received.length, 3)
  const tids = new Set(peer.received.map((d) => decode(requestMessage, d.buf).tid))
  assert.equal(tids.size, 1, 'a resend keeps its tid')
  assert.equal(node.io.inflightCount, 0)
})

test('aborting a request rejects it with REQUEST_CANCELLED and forgets its tid', async (t) => {
  const node = await lonelyNode(t)
  const peer = rawPeer(t)
  const ctrl = new AbortController()
  const p = node.ping({ host: LOCAL, port: peer.port }, { signal: ctrl.signal })
  const { buf, port } = await peer.next()
  ctrl.abort()
  await assert.rejects(p, (e) => isHyperfsError(e, 'REQUEST_CANCELLED'))
  const tid = decode(requestMessage, buf).tid
  peer.socket.trySend(encode(responseMessage, { tid, to: { host: LOCAL, port }, id: null, token: null, closerNodes: null, error: 0, value: null }), port, LOCAL)
  await node.ping({ host: LOCAL, port: node.address()?.port as number })
  assert.equal(node.stats.io.dropped.unmatched, 1)
  await assert.rejects(node.ping({ host: LOCAL, port: peer.port }, { signal: AbortSignal.abort() }), (e) => isHyperfsError(e, 'REQUEST_CANCELLED'))
})

test('one address flooding requests is rate limited; the excess is dropped and counted', async (t) => {
  const node = await lonelyNode(t, { rateLimit: 10 })
  const peer = rawPeer(t)
  const nodePort = node.address()?.port as number
  for (let i = 0; i < 200; i++) peer.socket.trySend(pingRequest(i, nodePort), nodePort, LOCAL)
  // a second address is not affected by the first one's flood
  const other = rawPeer(t)
  other.socket.trySend(pingRequest(999, nodePort), nodePort, LOCAL)
  const { buf } = await other.next()
  assert.equal(decode(responseMessage, buf).tid, 999)
  assert.ok(node.stats.io.dropped.rateLimited > 0)
  assert.ok(peer.received.length < 200, `${peer.received.length} answered`)
  assert.equal(peer.received.length + node.stats.io.dropped.rateLimited, 200)
})

test('a request with a token we did not issue gets INVALID_TOKEN and a fresh token', async (t) => {
  const node = await lonelyNode(t)
  const peer = rawPeer(t)
  const nodePort = node.address()?.port as number
  const m: RequestMessage = { tid: 1, to: { host: LOCAL, port: nodePort }, id: null, token: randomBytes(32), internal: false, command: 9, target: null, value: null }
  peer.socket.trySend(encode(requestMessage, m), nodePort, LOCAL)
  const res = decode(responseMessage, (await peer.next()).buf)
  assert.equal(res.error, 2)
  assert.ok(res.token !== null && node.io.tokens.verify(LOCAL, res.token))
  // with the fresh token the same request reaches command dispatch (unknown command)
  peer.socket.trySend(encode(requestMessage, { ...m, tid: 2, token: res.token }), nodePort, LOCAL)
  const res2 = decode(responseMessage, (await peer.next()).buf)
  assert.equal(res2.tid, 2)
  assert.equal(res2.error, 1)
})

test('destroy rejects in-flight requests with REQUEST_DESTROYED and later ones at once', async () => {
  const node = new DHTNode({ bootstrap: [], host: LOCAL, ephemeral: true })
  await node.fullyBootstrapped()
  const udx = new UDX()
  const silent = udx.createSocket()
  silent.bind(0, LOCAL)
  try {
    const p = assert.rejects(node.ping({ host: LOCAL, port: silent.address()?.port as number }), (e) => isHyperfsError(e, 'REQUEST_DESTROYED'))
    await node.destroy()
    await p
    await assert.rejects(node.ping({ host: LOCAL, port: 1 }), (e) => isHyperfsError(e, 'REQUEST_DESTROYED'))
    assert.throws(() => node.findNode(randomBytes(32)), (e) => isHyperfsError(e, 'REQUEST_DESTROYED'))
  } finally {
    await silent.close()
  }
})

test('a node cannot be built without an explicit bootstrap list', () => {
  assert.throws(() => new DHTNode({} as never), (e) => isHyperfsError(e, 'BAD_ARGUMENT'))
})
