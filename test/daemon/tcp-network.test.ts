// The daemon's TCP peers (--peer) through outages, restarts and lies: a
// silent link is declared dead and redialled, a read that finds no peer
// redials at once, and a peer whose data does not verify is backed off from
// and logged. Everything runs on 127.0.0.1, with cores held in memory.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { TcpNetwork } from '../../src/daemon/tcp-network.js'
import type { Logger } from '../../src/daemon/logger.js'
import { Store } from '../../src/store/store.js'
import type { Hypercore } from '../../src/core/hypercore.js'
import { connect, writer, reader, blocks, liar } from '../helpers/replication.js'
import { tcpRelay } from '../net/tcp-relay.js'
import { isPeerFault } from '../../src/replication/replicator.js'

const KEEP_ALIVE = 100
const SILENCE = 1000
const WAIT_STEP = 50
const WAIT_STEPS = 400 // 20 s at most for any condition below

async function until (what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < WAIT_STEPS && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, WAIT_STEP))
  assert.ok(cond(), what)
}

function memoryLogger (): Logger & { lines: string[] } {
  const lines: string[] = []
  return { lines, info: (m) => lines.push('info ' + m), warn: (m) => lines.push('warn ' + m), error: (m) => lines.push('error ' + m) }
}

// Serves `core` to every socket accepted on `port` (0: any free port).
async function serve (t: any, core: Hypercore, port = 0): Promise<{ port: number, server: Server, sockets: Set<Socket> }> {
  const sockets = new Set<Socket>()
  const server = createServer((sock) => {
    sockets.add(sock)
    sock.on('error', () => {})
    sock.once('close', () => sockets.delete(sock))
    core.replicate(sock, { isInitiator: false, keepAlive: KEEP_ALIVE, timeout: SILENCE })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.after(() => { for (const s of sockets) s.destroy(); server.close() })
  return { port: (server.address() as any).port, server, sockets }
}

async function readerNetwork (t: any, key: Buffer) {
  const store = Store.memory()
  const core = await store.get({ key })
  const logger = memoryLogger()
  const net = new TcpNetwork({ replicate: (sock, isInitiator) => { store.replicate(sock, { isInitiator, keepAlive: KEEP_ALIVE, timeout: SILENCE }) }, logger })
  store.on('starved', () => net.redialNow())
  t.after(async () => { await net.close(); await store.close() })
  return { store, core, net, logger }
}

test('a link that goes silent is declared dead and redialled, and reads resume once it is back', { timeout: 60_000 }, async (t) => {
  const data = blocks(32, 1024)
  const w = await writer(t, data)
  const { port } = await serve(t, w)
  const relay = await tcpRelay(t, port)
  const { core, net } = await readerNetwork(t, w.key!)
  await net.addPeer({ host: '127.0.0.1', port: relay.port })
  await core.update({ timeout: 5000 })
  assert.ok((await core.get(0, { timeout: 5000 }))!.equals(data[0]))

  relay.down()
  await until('the silent connection is declared dead', () => !net.status().peers[0].connected)
  relay.up()
  assert.ok((await core.get(9, { timeout: 10_000 }))!.equals(data[9]))
})

test('redialNow dials a configured peer that is down at once, instead of at the end of its backoff', { timeout: 60_000 }, async (t) => {
  const w = await writer(t, blocks(4))
  const spare = await serve(t, w)
  const port = spare.port
  await new Promise((resolve) => spare.server.close(resolve)) // a port nobody listens on
  const { net } = await readerNetwork(t, w.key!)
  await net.addPeer({ host: '127.0.0.1', port })
  assert.equal(net.status().peers[0].connected, false)
  const before = net.status().peers[0].attempts
  net.redialNow()
  assert.equal(net.status().peers[0].attempts, before + 1)
})

test('a read of a drive whose peer has come back resumes within its timeout, however long the peer was away', { timeout: 60_000 }, async (t) => {
  const data = blocks(16)
  const w = await writer(t, data)
  const spare = await serve(t, w)
  const port = spare.port
  await new Promise((resolve) => spare.server.close(resolve))
  const { core, net } = await readerNetwork(t, w.key!)
  await net.addPeer({ host: '127.0.0.1', port })
  // enough failed dials that an uncapped backoff would wait longer than the read below
  await until('four dials failed', () => net.status().peers[0].attempts >= 4)
  await serve(t, w, port)
  assert.ok((await core.get(5, { timeout: 4000 }))!.equals(data[5]))
})

test('a peer that sends blocks that do not verify is named to the reader, logged, and not redialled on demand', { timeout: 60_000 }, async (t) => {
  const data = blocks(32)
  const w = await writer(t, data)
  const evil = await liar(t, w)
  const { port } = await serve(t, evil)
  const { core, net, logger } = await readerNetwork(t, w.key!)
  await net.addPeer({ host: '127.0.0.1', port })
  await core.update({ timeout: 5000 })
  await assert.rejects(core.get(3, { timeout: 2000 }), { code: 'INVALID_PROOF' })
  await until('the fault is counted', () => net.status().peers[0].faults === 1)
  assert.ok(logger.lines.some((l) => l.startsWith('warn') && /does not verify/.test(l) && /INVALID_PROOF/.test(l)), logger.lines.join('\n'))
  const before = net.status().peers[0].attempts
  net.redialNow()
  assert.equal(net.status().peers[0].attempts, before, 'a lying peer waits out its backoff')
})

// Dials `port` from `localAddress` and replicates `core` over it, as a peer
// that found us would.
function dialFrom (t: any, core: Hypercore, port: number, localAddress: string): Socket {
  const sock = createConnection({ host: '127.0.0.1', port, localAddress })
  sock.on('error', () => {})
  core.replicate(sock, { isInitiator: true, keepAlive: KEEP_ALIVE, timeout: SILENCE })
  t.after(() => sock.destroy())
  return sock
}

test('a peer that dialled us and sent blocks that do not verify is logged, and its address is refused at accept for a while', { timeout: 60_000 }, async (t) => {
  const data = blocks(32)
  const w = await writer(t, data)
  const evil = await liar(t, w)
  const { core, net, logger } = await readerNetwork(t, w.key!)
  const { port } = await net.listen({ host: '127.0.0.1', port: 0 })

  dialFrom(t, evil, port, '127.0.0.2')
  // the read fails with the liar's fault only at its timeout, while the
  // shut-out (5 s) runs from the fault: it is checked while the read waits
  const failed = assert.rejects(core.get(3, { timeout: 5000 }), (err) => isPeerFault(err))
  await until('the address is shut out', () => net.status().penalised.length === 1)
  assert.deepEqual(net.status().penalised, ['tcp-in 127.0.0.2'])
  assert.ok(logger.lines.some((l) => l.startsWith('warn') && /from 127\.0\.0\.2:\d+ sent data that does not verify/.test(l) && /refused for 5 s/.test(l)), logger.lines.join('\n'))
  await until('the lying connection is gone', () => net.connections === 0)

  // it dials again at once: closed before the handshake, nothing replicated
  const again = dialFrom(t, evil, port, '127.0.0.2')
  await until('the second connection is refused', () => again.closed)
  assert.equal(net.status().refused, 1)
  await failed

  // another address is not shut out, and serves the block
  const honest = await reader(t, w.key!)
  connect(t, w, honest)
  await honest.update()
  await honest.download({ start: 0, end: w.length })
  dialFrom(t, honest, port, '127.0.0.3')
  assert.ok((await core.get(3, { timeout: 5000 }))!.equals(data[3]))
  assert.equal(net.status().refused, 1)
})
