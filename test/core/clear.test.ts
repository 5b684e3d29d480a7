// clear(): held blocks given back to the disk. The space is really freed
// (blocks on disk, not the apparent size), the core stops claiming the blocks
// at once (reads, peers, a reopen), and nothing wrong is ever read back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { statSync } from 'node:fs'
import { join } from 'node:path'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { isHyperfsError } from '../../src/errors.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'
import { connect, waitFor } from '../helpers/replication.js'

const BLOCK = 64 * 1024

function onDisk (dir: string, name = 'data'): number {
  return statSync(join(dir, name)).blocks * 512
}

function data (n: number, seed = 1): Buffer[] {
  const rand = prng(seed)
  return Array.from({ length: n }, () => randomBuffer(rand, BLOCK))
}

test('a writer that clears blocks gives their space back, stops holding them, and keeps that across a reopen', async (t) => {
  const dir = tmpDir(t)
  const blocks = data(64)
  let core = new Hypercore(dir)
  await core.append(blocks)
  const before = onDisk(dir)
  assert.ok(before >= 64 * BLOCK)

  const r = await core.clear(8, 40)
  assert.deepEqual(r, { blocks: 32, bytes: 32 * BLOCK, punched: true })
  assert.ok(before - onDisk(dir) >= 32 * BLOCK, `freed ${before - onDisk(dir)} bytes on disk`)
  assert.equal(statSync(join(dir, 'data')).size, 64 * BLOCK, 'the file keeps its size: other offsets stay where they are')
  assert.equal(core.has(7), true)
  assert.equal(core.has(8), false)
  assert.equal(core.has(39), false)
  assert.equal(core.has(40), true)
  assert.equal(core.contiguousLength, 8)
  assert.equal(await core.heldBytes(), 32 * BLOCK)
  assert.equal(await core.get(20, { wait: false }), null)
  await assert.rejects(core.get(20, { timeout: 100 }), (err) => isHyperfsError(err, 'REQUEST_TIMEOUT'))
  assert.ok((await core.get(7))!.equals(blocks[7]))
  assert.ok((await core.get(40))!.equals(blocks[40]))
  // clearing again frees nothing more; a range past the end stops at it
  assert.equal((await core.clear(8, 40)).blocks, 0)
  assert.equal((await core.clear(60, 1000)).blocks, 4)
  await core.close()

  core = new Hypercore(dir)
  await core.ready()
  t.after(() => core.close())
  assert.equal(core.length, 64)
  assert.equal(core.has(0), true)
  assert.equal(core.has(39), false)
  assert.equal(core.has(40), true)
  assert.equal(core.has(60), false)
  const report = await core.verify()
  assert.equal(report.checked, 28)
  assert.deepEqual(report.corrupt, [])
  // the writer still appends after its dropped blocks
  await core.append(Buffer.from('after'))
  assert.equal((await core.get(64))!.toString(), 'after')
  assert.equal(core.has(64), true)
})

test('a zero-copy read of cleared blocks reports them missing instead of reading the hole', async (t) => {
  const dir = tmpDir(t)
  const blocks = data(8, 2)
  const core = new Hypercore(dir)
  await core.append(blocks)
  t.after(() => core.close())
  const buf = Buffer.alloc(2 * BLOCK)
  assert.equal(core.readBytesInto(2 * BLOCK, buf, 0, 2 * BLOCK, 2, 4), 2 * BLOCK, 'read (and verified) once')
  await core.clear(3, 4)
  assert.equal(core.readBytesInto(2 * BLOCK, buf, 0, 2 * BLOCK, 2, 4), null)
  assert.equal(core.readBytesInto(2 * BLOCK, buf, 0, BLOCK, 2, 3), BLOCK)
  assert.ok(buf.subarray(0, BLOCK).equals(blocks[2]))
})

test('blocks appended where a truncation cut dropped blocks off are held', async (t) => {
  const dir = tmpDir(t)
  let core = new Hypercore(dir)
  await core.append(data(10, 3))
  await core.clear(5, 10)
  await core.truncate(5)
  const fresh = data(5, 4)
  await core.append(fresh)
  for (let i = 5; i < 10; i++) assert.equal(core.has(i), true)
  await core.close()
  core = new Hypercore(dir)
  await core.ready()
  t.after(() => core.close())
  for (let i = 5; i < 10; i++) assert.ok((await core.get(i, { wait: false }))!.equals(fresh[i - 5]), `block ${i}`)
})

test('a replica that clears blocks tells its peers at once: they get noData, never bytes it no longer holds', async (t) => {
  const blocks = data(32, 5)
  const w = new Hypercore(new MemoryStorage())
  await w.append(blocks)
  t.after(() => w.close())
  const dir = tmpDir(t)
  const b = new Hypercore(dir, w.key!)
  await b.ready()
  t.after(() => b.close())
  const wb = connect(t, w, b)
  await b.update()
  await b.download({ start: 0, end: 32 })
  wb.a.destroy()

  const c = new Hypercore(new MemoryStorage(), w.key!)
  await c.ready()
  t.after(() => c.close())
  connect(t, b, c)
  await c.update()
  assert.ok((await c.get(1, { timeout: 5000 }))!.equals(blocks[1]))
  const peer = c.replicator.peers[0] as any
  assert.equal(peer.hasBlock(5), true)

  const before = onDisk(dir)
  await b.clear(0, 16)
  assert.ok(before - onDisk(dir) >= 16 * BLOCK)
  // the drop reaches C before anything it asks next
  assert.ok((await c.get(20, { timeout: 5000 }))!.equals(blocks[20]))
  assert.equal(peer.hasBlock(5), false, 'C no longer counts on B for block 5')
  assert.equal(peer.hasBlock(20), true)
  await assert.rejects(c.get(5, { timeout: 300 }), (err) => isHyperfsError(err, 'REQUEST_TIMEOUT'))
  // asked straight, B answers noData
  const nodata = waitFor(c.replicator, 'peer-remove').then(() => 'removed')
  const asked = peer.requestBlock(6, false, 1)
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.equal(peer.inflight.has(asked.id), false, 'B answered')
  assert.equal(c.has(6), false)
  assert.equal(await Promise.race([nodata, 'kept']), 'kept', 'B did nothing wrong')

  // B fetches what it dropped again, from the writer, and holds it across a reopen
  connect(t, w, b)
  await b.update()
  assert.ok((await b.get(5, { timeout: 5000 }))!.equals(blocks[5]))
  assert.deepEqual((await b.verify()).corrupt, [])
})

test('a writer fetches a block it cleared back from a peer, and holds it after a reopen', async (t) => {
  const dir = tmpDir(t)
  const blocks = data(16, 6)
  let w = new Hypercore(dir)
  await w.append(blocks)
  const r = new Hypercore(new MemoryStorage(), w.key!)
  await r.ready()
  t.after(() => r.close())
  let link = connect(t, w, r)
  await r.update()
  await r.download({ start: 0, end: 16 })
  await w.clear(0, 8)
  assert.ok((await w.get(3, { timeout: 5000 }))!.equals(blocks[3]))
  assert.equal(w.has(3), true)
  assert.equal(w.has(4), false)
  link.a.destroy()
  await w.close()

  w = new Hypercore(dir)
  await w.ready()
  t.after(() => w.close())
  assert.equal(w.has(3), true)
  assert.equal(w.has(4), false)
  assert.ok((await w.get(3, { wait: false }))!.equals(blocks[3]))
  assert.deepEqual((await w.verify()).corrupt, [])
  link = connect(t, w, r)
  assert.ok(link)
})
