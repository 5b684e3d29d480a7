// A reader's cache with a cap: content cores we read are kept under it,
// least recently read first out; pinned blocks, cores we write and cores not
// opened as content are never evicted; evicted blocks read back right.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { Bitfield } from '../../src/core/bitfield.js'
import { Store } from '../../src/store/store.js'
import { ReaderCache, LOW_WATER } from '../../src/store/reader-cache.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'

const BLOCK = 64 * 1024
const BLOCKS = 64

async function source (t: TestContext, seed = 1): Promise<{ w: Hypercore, data: Buffer[] }> {
  const rand = prng(seed)
  const data = Array.from({ length: BLOCKS }, () => randomBuffer(rand, BLOCK))
  const w = new Hypercore(new MemoryStorage())
  await w.append(data)
  t.after(() => w.close())
  return { w, data }
}

function link (t: TestContext, store: Store, w: Hypercore): void {
  const a = store.replicate(true)
  const b = w.replicate(false)
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
}

async function reader (t: TestContext, capacity: number, w: Hypercore, role: 'content' | null = 'content'): Promise<{ cache: ReaderCache, store: Store, core: Hypercore }> {
  const cache = new ReaderCache({ capacity })
  const store = new Store(tmpDir(t), { cache })
  t.after(() => store.close())
  const core = await store.get({ key: w.key!, role: role ?? undefined })
  link(t, store, w)
  await core.update({ timeout: 5000 })
  assert.equal(core.length, BLOCKS)
  return { cache, store, core }
}

function ownStore (t: TestContext, cache: ReaderCache): Store {
  const store = new Store(tmpDir(t), { cache })
  t.after(() => store.close())
  return store
}

async function readAll (core: Hypercore, data: Buffer[], from = 0, to = BLOCKS): Promise<void> {
  for (let i = from; i < to; i++) assert.ok((await core.get(i, { timeout: 5000 }))!.equals(data[i]), `block ${i}`)
}

function held (core: Hypercore): number {
  let n = 0
  for (let i = 0; i < core.length; i++) if (core.has(i)) n++
  return n
}

test('a content core read past the cap keeps under it, the most recent blocks held, and reads right again', async (t) => {
  const { w, data } = await source(t)
  const cap = 16 * BLOCK
  const { cache, core } = await reader(t, cap, w)
  await readAll(core, data)
  await cache.settled()
  assert.ok(cache.used <= cap, `counted ${cache.used} > cap ${cap}`)
  assert.equal(cache.used, await core.heldBytes(), 'the count is what the core holds')
  assert.ok(held(core) <= 16)
  assert.ok(cache.evicted >= (BLOCKS - 16) * BLOCK)
  assert.equal(core.has(BLOCKS - 1), true, 'the last read is held')
  assert.equal(core.has(0), false, 'the first read is gone')
  assert.ok(await core.diskBytes() < cap + 4 * BLOCK, `on disk ${await core.diskBytes()}`)
  // evicted blocks come back, right
  await readAll(core, data)
  await cache.settled()
  assert.ok(cache.used <= cap)
  assert.deepEqual((await core.verify()).corrupt, [])
})

test('eviction takes the least recently read first', async (t) => {
  const { w, data } = await source(t, 2)
  const { cache, core } = await reader(t, 32 * BLOCK, w)
  await readAll(core, data, 0, 32)
  await readAll(core, data, 0, 4) // blocks 0-15 read again: now the newest
  await readAll(core, data, 32, 40)
  await cache.settled()
  assert.equal(core.has(0), true, 'read again, kept')
  assert.equal(core.has(16), false, 'least recently read, evicted')
  assert.equal(core.has(39), true)
  assert.ok(cache.used <= 32 * BLOCK)
  assert.ok(cache.used >= Math.floor(32 * BLOCK * LOW_WATER) - 16 * BLOCK, 'no more is evicted than the cap needs')
})

test('pinned blocks survive eviction and do not count against the cap; unpinned, they are evicted first', async (t) => {
  const { w, data } = await source(t, 3)
  const { cache, core } = await reader(t, 8 * BLOCK, w)
  const pins = new Bitfield()
  pins.setRange(0, 10, true)
  cache.setPins(core.key!.toString('hex'), pins)
  await readAll(core, data)
  await cache.settled()
  for (let i = 0; i < 10; i++) assert.equal(core.has(i), true, `pinned block ${i}`)
  assert.ok(cache.used <= 8 * BLOCK)
  assert.equal(cache.used + 10 * BLOCK, await core.heldBytes())
  cache.setPins(core.key!.toString('hex'), new Bitfield())
  await cache.settled()
  assert.equal(core.has(0), false, 'no longer pinned: the oldest, evicted')
  assert.ok(cache.used <= 8 * BLOCK)
})

test('a core whose pins are not known yet keeps everything', async (t) => {
  const { w, data } = await source(t, 4)
  const { cache, core } = await reader(t, 4 * BLOCK, w)
  cache.setPins(core.key!.toString('hex'), null)
  await readAll(core, data, 0, 20)
  await cache.settled()
  assert.equal(held(core), 20)
  assert.equal(cache.used, 0)
})

test('cores not opened as content, and cores we write, are never evicted', async (t) => {
  const { w, data } = await source(t, 5)
  const { cache, core } = await reader(t, 4 * BLOCK, w, null)
  await readAll(core, data, 0, 20)
  await cache.settled()
  assert.equal(held(core), 20)
  assert.equal(cache.status().cores, 0)

  const own = await ownStore(t, cache).get({ role: 'content' })
  t.after(() => own.close())
  await own.append(data.slice(0, 20))
  await cache.settled()
  assert.equal(held(own), 20)
  assert.equal(cache.status().cores, 0)
})
