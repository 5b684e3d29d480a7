import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { Hyperbee, type BeeEntry } from '../../src/bee/hyperbee.js'
import { encode } from '../../src/codec/state.js'
import { beeHeader, beeNode, type BeeLevel } from '../../src/codec/bee-node.js'
import { isHyperfsError } from '../../src/errors.js'
import { connect } from '../helpers/replication.js'

async function open (t: { after: (fn: () => Promise<void>) => void }) {
  const core = new Hypercore(new MemoryStorage())
  await core.ready()
  t.after(() => core.close())
  return { core, bee: new Hyperbee(core) }
}

async function collect<T> (it: AsyncIterable<T>, max = 100_000): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) {
    out.push(x)
    if (out.length > max) throw new Error('iterator did not end')
  }
  return out
}

const keys = (l: BeeEntry[]) => l.map((e) => e.key.toString())
const val = (e: BeeEntry | null) => e && e.value ? e.value.toString() : null

test('a new bee is empty at version 1 and writes its header with the first operation', async (t) => {
  const { core, bee } = await open(t)
  assert.equal(bee.version, 1)
  assert.equal(await bee.get('a'), null)
  assert.deepEqual(await collect(bee.range()), [])
  assert.equal(core.length, 0)
  await bee.del('nothing') // as the library does: the header, and no block for a miss
  assert.equal(core.length, 1)
  assert.equal((await core.get(0))!.toString('hex'), '0a086879706572626565')
  assert.equal((await bee.getHeader()).protocol, 'hyperbee')
})

test('a header with metadata carries it', async (t) => {
  const core = new Hypercore(new MemoryStorage())
  t.after(() => core.close())
  const bee = new Hyperbee(core, { metadata: {} })
  await bee.put('a', 'b')
  assert.equal((await core.get(0))!.toString('hex'), '0a0868797065726265651200')
})

test('put, overwrite, del; ranges in both directions with bounds and limits', async (t) => {
  const { bee } = await open(t)
  for (let i = 0; i < 100; i++) await bee.put('k' + String(i).padStart(3, '0'), 'v' + i)
  await bee.put('k005', 'again')
  assert.equal(val(await bee.get('k005')), 'again')
  await bee.del('k006')
  assert.equal(await bee.get('k006'), null)
  assert.equal(await bee.get('k1000'), null)
  const all = keys(await collect(bee.range()))
  assert.equal(all.length, 99)
  assert.deepEqual(all, [...all].sort())
  assert.deepEqual(keys(await collect(bee.range({ gt: 'k010', lte: 'k014' }))), ['k011', 'k012', 'k013', 'k014'])
  assert.deepEqual(keys(await collect(bee.range({ gte: 'k010', lt: 'k014', reverse: true }))), ['k013', 'k012', 'k011', 'k010'])
  assert.deepEqual(keys(await collect(bee.range({ gte: 'k0055', lt: 'k008' }))), ['k007']) // k006 deleted, k0055 absent
  assert.deepEqual(keys(await collect(bee.range({ lt: 'k0055', reverse: true, limit: 2 }))), ['k005', 'k004'])
  assert.deepEqual(keys(await collect(bee.range({ gt: 'k098' }))), ['k099'])
  assert.deepEqual(keys(await collect(bee.range({ gt: 'z' }))), [])
  assert.equal((await bee.peek({ gte: 'k05' }))!.key.toString(), 'k050')
})

test('a batch appends all its blocks at once; checkouts read the past', async (t) => {
  const { core, bee } = await open(t)
  await bee.put('a', '1')
  const v = bee.version
  const appends: number[] = []
  core.on('append', () => appends.push(core.length))
  const b = bee.batch()
  for (let i = 0; i < 20; i++) await b.put('b' + i, String(i))
  await b.del('a')
  assert.equal(core.length, v, 'nothing is written before flush')
  assert.equal(await b.flush(), v + 21)
  assert.deepEqual(appends, [v + 21])
  assert.equal(await bee.get('a'), null)
  assert.equal(val(await bee.checkout(v).get('a')), '1')
  assert.equal(await bee.checkout(v).get('b3'), null)
  await assert.rejects(bee.checkout(v).put('x', 'y'), (err) => isHyperfsError(err, 'EROFS'))
  // a version inside the batch has no root of its own (docs/hyperbee.md §2.7)
  await assert.rejects(bee.checkout(v + 3).get('b1'), (err) => isHyperfsError(err, 'INVALID_BEE'))
  const h = await collect(bee.history({ gte: v }))
  assert.deepEqual(h.map((e) => e.type), [...Array(20).fill('put'), 'del'])
  const d = await collect(bee.diff(v))
  assert.equal(d.length, 21)
  assert.ok(d.some((e) => e.left === null && e.right!.key.toString() === 'a'))
})

test('a closed batch writes nothing and frees the lock', async (t) => {
  const { core, bee } = await open(t)
  const b = bee.batch()
  await b.put('x', '1')
  await b.close()
  await bee.put('y', '2')
  assert.equal(await bee.get('x'), null)
  assert.equal(core.length, 2)
})

test('a sparse replica looks keys up and lists ranges, fetching only what it needs', async (t) => {
  const { core, bee } = await open(t)
  const b = bee.batch()
  for (let i = 0; i < 2000; i++) await b.put('f' + String(i).padStart(5, '0'), 'x'.repeat(50))
  await b.flush()
  const rcore = new Hypercore(new MemoryStorage(), core.key)
  await rcore.ready()
  t.after(() => rcore.close())
  connect(t, core, rcore)
  await rcore.update({ timeout: 5000 })
  const reader = new Hyperbee(rcore, { timeout: 5000 })
  assert.equal(val(await reader.get('f01234')), 'x'.repeat(50))
  const page = await collect(reader.range({ gte: 'f00100', limit: 50 }))
  assert.deepEqual(keys(page), Array.from({ length: 50 }, (_, i) => 'f' + String(100 + i).padStart(5, '0')))
  let local = 0
  for (let i = 0; i < rcore.length; i++) if (rcore.has(i)) local++
  assert.ok(local < 400, `fetched ${local} of ${rcore.length} blocks`)
})

// ---- bad input: hand-made blocks ----

function node (key: string, index: BeeLevel[], value: string | null = 'v'): Buffer {
  return encode(beeNode, { index, key: Buffer.from(key), value: value === null ? null : Buffer.from(value) })
}

async function rawBee (t: { after: (fn: () => Promise<void>) => void }, blocks: Buffer[]) {
  const core = new Hypercore(new MemoryStorage())
  await core.append([encode(beeHeader, { protocol: 'hyperbee', metadata: null }), ...blocks])
  t.after(() => core.close())
  // a timeout only so that a bug here fails instead of hanging; none of these waits
  return new Hyperbee(core, { timeout: 2000 })
}

const invalid = (err: unknown) => isHyperfsError(err, 'INVALID_BEE')

test('a block that does not decode is a DECODE_ERROR', async (t) => {
  const bee = await rawBee(t, [Buffer.from('0a05ffffffffff', 'hex')])
  await assert.rejects(bee.get('a'), (err) => isHyperfsError(err, 'DECODE_ERROR'))
  await assert.rejects(collect(bee.history()), (err) => isHyperfsError(err, 'DECODE_ERROR'))
})

test('a pointer to a later block (one that does not exist yet) is refused, not waited for', async (t) => {
  const bee = await rawBee(t, [node('a', [{ keys: [1, 9], children: [] }])])
  await assert.rejects(bee.get('b'), invalid)
  const bee2 = await rawBee(t, [node('a', [{ keys: [1], children: [{ seq: 1, offset: 1 }, { seq: 500, offset: 0 }] }, { keys: [], children: [] }])])
  await assert.rejects(bee2.get('b'), invalid)
  await assert.rejects(collect(bee2.range()), invalid)
})

test('pointers to the header block or to a missing level are refused', async (t) => {
  const bee = await rawBee(t, [node('a', [{ keys: [0], children: [] }])])
  await assert.rejects(bee.get('b'), invalid)
  const bee2 = await rawBee(t, [node('a', [{ keys: [1], children: [{ seq: 1, offset: 7 }, { seq: 1, offset: 8 }] }])])
  await assert.rejects(bee2.get('0'), invalid)
})

test('a node whose children do not match its keys is refused', async (t) => {
  const bee = await rawBee(t, [node('a', [{ keys: [1], children: [{ seq: 1, offset: 0 }] }])])
  await assert.rejects(bee.get('a'), invalid)
})

test('a child pointer loop ends in INVALID_BEE for lookups and listings', async (t) => {
  // block 1: root (level 0) holds key 1 and points both children at itself
  const loop = [{ keys: [1], children: [{ seq: 1, offset: 0 }, { seq: 1, offset: 0 }] }]
  const bee = await rawBee(t, [node('m', loop)])
  await assert.rejects(bee.get('z'), invalid)
  await assert.rejects(collect(bee.range()), invalid)
  await assert.rejects(collect(bee.range({ reverse: true })), invalid)
  // writing onto it walks the same loop
  await assert.rejects(bee.put('z', 'v'), invalid)
  await assert.rejects(bee.del('z'), invalid)
  const b = bee.batch()
  await assert.rejects(b.put('z', 'v'), invalid)
  await assert.rejects(b.flush(), (err) => isHyperfsError(err, 'INVALID_OPERATION'))
  // a cycle through two levels of one block
  const cycle = [
    { keys: [1], children: [{ seq: 1, offset: 1 }, { seq: 1, offset: 1 }] },
    { keys: [1], children: [{ seq: 1, offset: 0 }, { seq: 1, offset: 0 }] }
  ]
  const bee2 = await rawBee(t, [node('m', cycle)])
  await assert.rejects(bee2.get('a'), invalid)
  await assert.rejects(collect(bee2.range({ gte: 'n' })), invalid)
})

test('keys out of order end a listing in INVALID_BEE', async (t) => {
  const bee = await rawBee(t, [node('b', [{ keys: [1], children: [] }]), node('a', [{ keys: [1, 2], children: [] }])])
  await assert.rejects(collect(bee.range()), invalid)
  await assert.rejects(collect(bee.range({ reverse: true })), invalid)
  // a subtree reached twice repeats its keys
  const twice = [
    { keys: [1], children: [{ seq: 1, offset: 1 }, { seq: 1, offset: 1 }] },
    { keys: [1], children: [] }
  ]
  const bee2 = await rawBee(t, [node('m', twice)])
  await assert.rejects(collect(bee2.range()), invalid)
})

test('a block 0 that is not a bee header is a DECODE_ERROR', async (t) => {
  const core = new Hypercore(new MemoryStorage())
  await core.append([Buffer.from('hello'), node('a', [{ keys: [1], children: [] }])])
  t.after(() => core.close())
  await assert.rejects(new Hyperbee(core).getHeader(), (err) => isHyperfsError(err, 'DECODE_ERROR'))
})
