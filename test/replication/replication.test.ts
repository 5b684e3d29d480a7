import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, connect as tcpConnect, type Socket } from 'node:net'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { connect, writer, reader, blocks, waitFor } from '../helpers/replication.js'

test('a sparse get fetches only the block asked for', async (t) => {
  const data = blocks(200, 1024)
  const w = await writer(t, data)
  const r = await reader(t, w.key!)
  connect(t, w, r)
  assert.ok((await r.get(123, { timeout: 5000 }))!.equals(data[123]))
  assert.equal(r.length, 200)
  let held = 0
  for (let i = 0; i < 200; i++) if (r.has(i)) held++
  assert.equal(held, 1)
  assert.equal(w.replicator.uploadedBytes, 1024)
})

test('download fetches a range and resolves when it is local', async (t) => {
  const data = blocks(300)
  const w = await writer(t, data)
  const r = await reader(t, w.key!)
  connect(t, w, r, false)
  await r.update()
  await r.download({ start: 50, end: 250 })
  for (let i = 0; i < 300; i++) assert.equal(r.has(i), i >= 50 && i < 250, 'block ' + i)
  assert.ok((await r.get(200))!.equals(data[200]))
})

test('seek resolves a byte offset through a peer', async (t) => {
  const w = await writer(t, Array.from({ length: 64 }, (_, i) => Buffer.alloc(10 + i, i)))
  const r = await reader(t, w.key!)
  connect(t, w, r)
  await r.update()
  for (const bytes of [0, 9, 10, 777, 1500, w.byteLength - 1]) {
    assert.deepEqual(await r.seek(bytes), await w.seek(bytes), 'seek ' + bytes)
  }
})

test('an append on the writer reaches a connected reader as an upgrade', async (t) => {
  const w = await writer(t, ['a'])
  const r = await reader(t, w.key!)
  connect(t, w, r)
  await r.update()
  assert.equal(r.length, 1)
  const appended = waitFor(r, 'append')
  await w.append(['b', 'c'])
  await appended
  assert.equal(r.length, 3)
  assert.equal((await r.get(2, { timeout: 5000 }))!.toString(), 'c')
})

test('replication runs over TCP on 127.0.0.1', async (t) => {
  const data = blocks(100, 4096)
  const w = await writer(t, data)
  const r = await reader(t, w.key!)
  const sockets: Socket[] = []
  const server = createServer((sock) => { sockets.push(sock); sock.pipe(w.replicate(false)).pipe(sock) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const s of sockets) s.destroy(); server.close() })
  const port = (server.address() as any).port
  const sock = tcpConnect(port, '127.0.0.1')
  sockets.push(sock)
  sock.pipe(r.replicate(true)).pipe(sock)
  await r.update()
  await r.download({ start: 0, end: 100 })
  for (let i = 0; i < 100; i++) assert.ok((await r.get(i))!.equals(data[i]))
})

test('one writer and three readers each get the data', async (t) => {
  const data = blocks(120)
  const w = await writer(t, data)
  const readers = await Promise.all([0, 1, 2].map(() => reader(t, w.key!)))
  for (const r of readers) connect(t, w, r)
  await Promise.all(readers.map(async (r) => { await r.update(); await r.download({ start: 0, end: 120 }) }))
  for (const r of readers) {
    assert.equal(r.contiguousLength, 120)
    assert.ok((await r.get(77))!.equals(data[77]))
  }
  assert.equal(w.peers, 3)
})

test('a reader re-serves blocks it holds to another reader', async (t) => {
  const data = blocks(40)
  const w = await writer(t, data)
  const middle = await reader(t, w.key!)
  const last = await reader(t, w.key!)
  const link = connect(t, w, middle)
  await middle.update()
  await middle.download({ start: 0, end: 40 })
  link.a.destroy() // the writer is gone; only the middle reader can serve
  connect(t, middle, last)
  await last.update()
  assert.equal(last.length, 40)
  for (const i of [0, 17, 39]) assert.ok((await last.get(i, { timeout: 5000 }))!.equals(data[i]))
})

test('get times out with REQUEST_TIMEOUT when no peer has the block', async (t) => {
  const w = await writer(t, blocks(5))
  const r = await reader(t, w.key!)
  const link = connect(t, w, r)
  await r.update()
  link.a.destroy()
  await assert.rejects(r.get(3, { timeout: 200 }), { code: 'REQUEST_TIMEOUT' })
})

test('a core opened from disk by key keeps what it fetched', async (t) => {
  const { tmpDir } = await import('../helpers/tmp.js')
  const dir = tmpDir(t)
  const data = blocks(50)
  const w = await writer(t, data)
  const r = new Hypercore(dir, w.key)
  await r.ready()
  const link = connect(t, w, r)
  await r.update()
  await r.download({ start: 10, end: 20 })
  link.a.destroy()
  await r.close()
  const again = new Hypercore(dir, w.key)
  await again.ready()
  t.after(() => again.close())
  assert.equal(again.length, 50)
  assert.equal(again.writable, false)
  for (let i = 0; i < 50; i++) assert.equal(again.has(i), i >= 10 && i < 20)
  assert.ok((await again.get(15))!.equals(data[15]))
  const fresh = new Hypercore(new MemoryStorage(), w.key)
  t.after(() => fresh.close())
  connect(t, again, fresh)
  assert.ok((await fresh.get(12, { timeout: 5000 }))!.equals(data[12]))
})

test('a block held by two peers is asked of the second when the first is slow', async (t) => {
  const data = blocks(16)
  const w = await writer(t, data)
  const slow = await reader(t, w.key!)
  connect(t, w, slow)
  await slow.update()
  await slow.download({ start: 0, end: 16 })
  // the slow copy answers nothing for block requests: it just sits on them
  const honest = slow.proof.bind(slow)
  slow.proof = (req) => req.block ? new Promise(() => {}) : honest(req)
  const fast = await reader(t, w.key!)
  connect(t, w, fast)
  await fast.update()
  await fast.download({ start: 0, end: 16 })
  const r = await reader(t, w.key!, { requestTimeout: 60_000 })
  connect(t, slow, r)
  await r.update()
  connect(t, fast, r)
  await r.update()
  assert.equal(r.peers, 2)
  // whichever peer is asked first, the block arrives well before the per-peer request timeout
  for (const i of [3, 9, 12]) assert.ok((await r.get(i, { timeout: 5000 }))!.equals(data[i]), 'block ' + i)
})

test('a reader keeps no received message alive through the tree hashes it remembers', async (t) => {
  // each data message carries a 16 KiB block; a cached hash that is a view into
  // the message would pin the block for as long as the node stays cached
  const data = blocks(64, 16 * 1024)
  const w = await writer(t, data)
  const r = await reader(t, w.key!)
  connect(t, w, r)
  await r.update()
  await r.download({ start: 0, end: 64 })
  let checked = 0
  for (let i = 0; i < 64; i++) {
    const n = await r.tree.getNode(2 * i)
    assert.ok(n !== null, 'leaf ' + i)
    // not even a slab of Node's 8 KiB Buffer pool: the hash has a backing store of its own
    assert.equal(n.hash.buffer.byteLength, 32, `leaf ${i}'s hash sits in a ${n.hash.buffer.byteLength}-byte backing store`)
    checked++
  }
  assert.equal(checked, 64)
})

test('blocks answered together in one frame each keep only their own bytes alive', async (t) => {
  const size = 16 * 1024
  const data = blocks(64, size)
  const w = await writer(t, data)
  const r = await reader(t, w.key!)
  connect(t, w, r)
  await r.update()
  // asked together, answered as one batch frame of 1 MiB
  const got = await Promise.all(data.map((_, i) => r.get(i, { timeout: 5000 })))
  for (let i = 0; i < data.length; i++) {
    assert.ok(got[i]!.equals(data[i]), 'block ' + i)
    assert.ok(got[i]!.buffer.byteLength < 2 * size, `block ${i} keeps a ${got[i]!.buffer.byteLength}-byte frame alive`)
  }
})
