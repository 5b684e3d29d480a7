// clear(): held blocks given back to the disk. The space is really freed
// (blocks on disk, not the apparent size), the core stops claiming the blocks
// at once (reads, peers, a reopen), and nothing wrong is ever read back.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { statSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage, FileStorage, type Storage, type StorageFile } from '../../src/core/storage.js'
import { isHyperfsError } from '../../src/errors.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'
import { connect, waitFor } from '../helpers/replication.js'

const BLOCK = 64 * 1024
const PAGE = 4096 // what ext4 allocates in
// blocks ext4 may allocate beyond data pages: the extent tree of a file cut
// into many pieces (one 4 KiB index block holds 340 extents)
const EXTENT_TREE_PAGES = 4

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

// The 4 KiB pages that hold a byte of any of these blocks (sizes in order from block 0).
function pagesFor (sizes: number[], held: (i: number) => boolean): number {
  const pages = new Set<number>()
  let off = 0
  for (let i = 0; i < sizes.length; i++) {
    if (held(i) && sizes[i] > 0) for (let p = Math.floor(off / PAGE); p <= Math.floor((off + sizes[i] - 1) / PAGE); p++) pages.add(p)
    off += sizes[i]
  }
  return pages.size
}

test('small blocks cleared in separate calls give back the pages they shared: the data file ends at what the held blocks need', async (t) => {
  const dir = tmpDir(t)
  const rand = prng(21)
  const sizes = Array.from({ length: 600 }, () => 100 + Math.floor(rand() * 2900))
  const blocks = sizes.map((n) => randomBuffer(rand, n))
  let core = new Hypercore(dir)
  await core.append(blocks)
  const total = sizes.reduce((a, b) => a + b, 0)
  assert.ok(onDisk(dir) >= total - PAGE)

  const kept = (i: number) => (i >= 200 && i < 260 && i % 7 === 0) || i >= 560
  // one block at a time, odd ones first: no single clear covers a whole page
  for (let i = 1; i < 560; i += 2) if (!kept(i)) await core.clear(i, i + 1)
  for (let i = 0; i < 560; i += 2) if (!kept(i)) await core.clear(i, i + 1)
  for (let i = 0; i < 600; i++) assert.equal(core.has(i), kept(i), `block ${i}`)

  const need = pagesFor(sizes, kept) * PAGE
  const have = onDisk(dir)
  assert.ok(have <= need + EXTENT_TREE_PAGES * PAGE, `${have} bytes allocated for ${need} in pages of held blocks (${total} written)`)
  for (let i = 0; i < 600; i++) if (kept(i)) assert.ok((await core.get(i, { wait: false }))!.equals(blocks[i]), `block ${i}`)
  await core.close()
  core = new Hypercore(dir)
  await core.ready()
  t.after(() => core.close())
  assert.deepEqual((await core.verify()).corrupt, [])
  assert.equal((await core.verify()).checked, sizes.filter((_, i) => kept(i)).length)
})

// A storage on disk whose data file can be held at one write (after its
// bytes are down) or one punch (before it starts), to run a fetch and a
// clear into each other in a chosen order.
class GatedStorage implements Storage {
  private inner: FileStorage
  gate: { op: 'write' | 'punch', reached: Promise<void>, release: () => void } | null = null
  constructor (dir: string) { this.inner = new FileStorage(dir) }

  hold (op: 'write' | 'punch'): { reached: Promise<void>, release: () => void } {
    let reach!: () => void
    let release!: () => void
    const reached = new Promise<void>((resolve) => { reach = resolve })
    const released = new Promise<void>((resolve) => { release = resolve })
    const g = { op, reached, release, reach, released }
    this.gate = g as any
    return g
  }

  exists (name: string): Promise<boolean> { return this.inner.exists!(name) }

  async open (name: string, opts?: { lock?: boolean }): Promise<StorageFile> {
    const f = await this.inner.open(name, opts)
    if (name !== 'data') return f
    const take = async (op: 'write' | 'punch') => {
      const g = this.gate as any
      if (!g || g.op !== op) return
      this.gate = null
      g.reach()
      await g.released
    }
    return Object.assign(Object.create(f), {
      write: async (offset: number, data: Uint8Array) => { await f.write(offset, data); await take('write') },
      punch: async (offset: number, length: number) => { await take('punch'); return f.punch(offset, length) }
    })
  }
}

// A replica of 1000-byte blocks holding all but block 5; blocks 6..9 cleared
// already, so clearing block 4 may punch out the rest of page 1 ([4096, 8192):
// blocks 4..8), where block 5 lies.
async function neighbourSetup (t: any): Promise<{ b: Hypercore, storage: GatedStorage, dir: string, blocks: Buffer[] }> {
  const rand = prng(22)
  const blocks = Array.from({ length: 40 }, () => randomBuffer(rand, 1000))
  const w = new Hypercore(new MemoryStorage())
  await w.append(blocks)
  t.after(() => w.close())
  const dir = tmpDir(t)
  const storage = new GatedStorage(dir)
  const b = new Hypercore(storage, w.key!)
  await b.ready()
  t.after(() => b.close())
  connect(t, w, b)
  await b.update()
  await b.download({ start: 0, end: 5 })
  await b.download({ start: 6, end: 40 })
  await b.clear(6, 10)
  return { b, storage, dir, blocks }
}

async function holdsRightBytes (b: Hypercore, dir: string, blocks: Buffer[], i: number): Promise<void> {
  assert.equal(b.has(i), true, `block ${i} is claimed`)
  const raw = readFileSync(join(dir, 'data')).subarray(i * 1000, (i + 1) * 1000)
  assert.ok(raw.equals(blocks[i]), `block ${i} is on disk as claimed`)
  assert.deepEqual((await b.verify()).corrupt, [])
}

test('a clear does not punch out a neighbour whose bytes a fetch has written but not yet claimed', async (t) => {
  const { b, storage, dir, blocks } = await neighbourSetup(t)
  const gate = storage.hold('write')
  const fetched = b.get(5, { timeout: 10_000 })
  await gate.reached
  await b.clear(4, 5)
  gate.release()
  assert.ok((await fetched)!.equals(blocks[5]))
  await holdsRightBytes(b, dir, blocks, 5)
})

test('a fetch of a neighbour that arrives during the punch of its page waits for it', async (t) => {
  const { b, storage, dir, blocks } = await neighbourSetup(t)
  const before = onDisk(dir)
  const gate = storage.hold('punch')
  const cleared = b.clear(4, 5)
  await gate.reached
  const fetched = b.get(5, { timeout: 10_000 })
  // time for the block to arrive and be written, were it not held back
  await new Promise((resolve) => setTimeout(resolve, 300))
  gate.release()
  await cleared
  assert.ok((await fetched)!.equals(blocks[5]))
  await holdsRightBytes(b, dir, blocks, 5)
  assert.ok(onDisk(dir) <= before, 'the page was punched, then block 5 written into it')
})
