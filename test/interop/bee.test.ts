// Our Hyperbee against the real hyperbee@2 on hypercore@11: the same
// operations must append the same bytes, and each side must read what the
// other wrote, over replication.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { keyPair } from '../../src/crypto/index.js'
import { Hyperbee, type BeeEntry } from '../../src/bee/hyperbee.js'
import { tmpDir, prng } from '../helpers/tmp.js'
import { oracle } from '../helpers/oracle.js'

const RealHypercore = oracle('hypercore')
const RealHyperbee = oracle('hyperbee')

const OPS = 1500 // random operations in the long run (bounded: both sides run them)

type Op = { type: 'put', key: Buffer, value: Buffer | null } | { type: 'del', key: Buffer }
type Step = Op[] // one op alone, or a batch

// Keys share prefixes ("k1", "k12", "k12x") and lengths vary, so comparisons
// take every path; values include empty and absent ones.
function randomSteps (seed: number, n: number, big = false): Step[] {
  const rand = prng(seed)
  const pool = Array.from({ length: 220 }, (_, i) => Buffer.from('k' + i + (i % 7 === 0 ? 'x'.repeat(i % 13) : '')))
  const pick = () => pool[Math.floor(rand() * pool.length)]
  const op = (): Op => {
    const r = rand()
    if (r < 0.6) return { type: 'put', key: pick(), value: rand() < 0.03 ? null : Buffer.from('v'.repeat(Math.floor(rand() * 40)) + Math.floor(rand() * 1000)) }
    return { type: 'del', key: pick() }
  }
  const steps: Step[] = []
  let count = 0
  while (count < n) {
    // big: long batches in which nodes are split, merged and rewritten several times
    const size = big ? 10 + Math.floor(rand() * 60) : rand() < 0.1 ? 2 + Math.floor(rand() * 12) : 1
    const step = Array.from({ length: size }, op)
    steps.push(step)
    count += step.length
  }
  return steps
}

async function applyReal (db: any, step: Step): Promise<void> {
  if (step.length === 1) {
    const o = step[0]
    if (o.type === 'put') await db.put(o.key, o.value)
    else await db.del(o.key)
    return
  }
  const b = db.batch()
  for (const o of step) {
    if (o.type === 'put') await b.put(o.key, o.value)
    else await b.del(o.key)
  }
  await b.flush()
}

async function applyOurs (bee: Hyperbee, step: Step): Promise<void> {
  if (step.length === 1) {
    const o = step[0]
    if (o.type === 'put') await bee.put(o.key, o.value)
    else await bee.del(o.key)
    return
  }
  const b = bee.batch()
  for (const o of step) {
    if (o.type === 'put') await b.put(o.key, o.value)
    else await b.del(o.key)
  }
  await b.flush()
}

async function realBee (t: any, kp: any = undefined) {
  const core = new RealHypercore(tmpDir(t), kp ? { keyPair: kp } : {})
  const db = new RealHyperbee(core, { keyEncoding: 'binary', valueEncoding: 'binary' })
  await db.ready()
  t.after(() => db.close())
  return { core, db }
}

async function ourBee (t: any, key: Buffer | null = null, kp: any = undefined) {
  const core = new Hypercore(new MemoryStorage(), key, kp ? { keyPair: kp } : {})
  await core.ready()
  t.after(() => core.close())
  return { core, bee: new Hyperbee(core, { timeout: 10_000 }) }
}

function pipe (t: any, a: any, b: any) {
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
}

const show = (e: { seq: number, key: Buffer, value: Buffer | null } | null) => e && `${e.seq}:${e.key.toString()}=${e.value === null ? 'null' : e.value.toString()}`

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

test('our bee appends the same bytes as hyperbee@2 over a long random run of puts, dels and batches', async (t) => {
  const kp = keyPair()
  const { core: rc, db } = await realBee(t, kp)
  const { core: oc, bee } = await ourBee(t, null, kp)
  let checked = 0
  for (const [i, step] of [...randomSteps(1, OPS), ...randomSteps(5, OPS / 2, true)].entries()) {
    await applyReal(db, step)
    await applyOurs(bee, step)
    assert.equal(oc.length, rc.length, `length after step ${i}`)
    for (; checked < oc.length; checked++) {
      const ours = (await oc.get(checked))!.toString('hex')
      const real = (await rc.get(checked)).toString('hex')
      assert.equal(ours, real, `block ${checked} (step ${i}: ${JSON.stringify(step.map((o) => [o.type, o.key.toString()]))})`)
    }
  }
  assert.ok((await oc.treeHash()).equals(await rc.treeHash()), 'tree hash')
  // the run went through splits, merges and root changes: a deep tree, many versions
  assert.ok(oc.length > OPS / 2, 'length ' + oc.length)
})

test('the sheet\'s 00..49 run: the same blocks and the same hash of all blocks', async (t) => {
  const kp = keyPair(Buffer.alloc(32, 1))
  const { core: oc, bee } = await ourBee(t, null, kp)
  for (let i = 0; i < 50; i++) { const k = String(i).padStart(2, '0'); await bee.put(k, 'v' + k) }
  for (const k of ['17', '05', '20', '21', '22', '24']) await bee.del(k)
  assert.equal(oc.length, 57)
  assert.equal((await oc.treeHash()).toString('hex'), 'a7d14f1b8c7e9fa1357343f6676b9e9024d5dbe2a77bafc31f8b4e1afb2e314b')
  assert.equal((await oc.get(53))!.toString('hex'), '0a320a1e0a08050b13191e23282d12120901340135013502220127012c01310332020a080a060c0d0e0f10110a060a041416171812023230')
})

test('edge cases give the same bytes: a del on an empty bee, deleting the last key, null and empty values', async (t) => {
  const kp = keyPair()
  const { core: rc, db } = await realBee(t, kp)
  const { core: oc, bee } = await ourBee(t, null, kp)
  const steps: Step[] = [
    [{ type: 'del', key: Buffer.from('x') }],
    [{ type: 'put', key: Buffer.from('a'), value: Buffer.from('1') }],
    [{ type: 'del', key: Buffer.from('a') }],
    [{ type: 'put', key: Buffer.from('b'), value: null }],
    [{ type: 'put', key: Buffer.from('c'), value: Buffer.alloc(0) }],
    [{ type: 'put', key: Buffer.alloc(0), value: Buffer.from('empty key') }],
    [{ type: 'del', key: Buffer.from('b') }, { type: 'del', key: Buffer.from('c') }, { type: 'del', key: Buffer.alloc(0) }]
  ]
  for (const step of steps) { await applyReal(db, step); await applyOurs(bee, step) }
  assert.equal(oc.length, rc.length)
  for (let i = 0; i < oc.length; i++) assert.equal((await oc.get(i))!.toString('hex'), (await rc.get(i)).toString('hex'), 'block ' + i)
  assert.equal(show(await bee.checkout(6).get('b')), show(await db.checkout(6).get(Buffer.from('b'))))
})

test('our bee reads a real bee replicated into our core: get, ranges, checkouts, history and diff agree', async (t) => {
  const { core: rc, db } = await realBee(t)
  const steps = [...randomSteps(2, 600), ...randomSteps(6, 200, true), ...randomSteps(7, 100)]
  const versions: number[] = []
  for (const step of steps) { await applyReal(db, step); versions.push(rc.length) }
  const { core: oc, bee } = await ourBee(t, rc.key)
  pipe(t, oc.replicate(true), rc.replicate(false))
  await oc.update({ timeout: 5000 })
  assert.equal(oc.length, rc.length)

  const rand = prng(3)
  const keys = Array.from({ length: 220 }, (_, i) => 'k' + i + (i % 7 === 0 ? 'x'.repeat(i % 13) : ''))
  for (let n = 0; n < 60; n++) {
    const k = keys[Math.floor(rand() * keys.length)]
    assert.equal(show(await bee.get(k)), show(await db.get(Buffer.from(k))), 'get ' + k)
  }
  const ranges = [{}, { gte: 'k1', lt: 'k2' }, { gt: 'k100', lte: 'k150', reverse: true }, { lt: 'k5', limit: 7 }, { gt: 'k3', reverse: true, limit: 11 }, { gte: 'k99', lte: 'k99' }]
  for (const r of ranges) {
    const ours = (await collect(bee.range(r))).map(show)
    const real = (await collect<any>(db.createReadStream(enc(r)))).map(show)
    assert.deepEqual(ours, real, 'range ' + JSON.stringify(r))
  }
  // a few earlier versions: the real bee's checkouts at batch ends
  for (const v of [versions[10], versions[100], versions[versions.length - 50]]) {
    const ours = (await collect(bee.checkout(v).range({ gte: 'k2' }))).map(show)
    const real = (await collect<any>(db.checkout(v).createReadStream({ gte: Buffer.from('k2') }))).map(show)
    assert.deepEqual(ours, real, 'checkout ' + v)
    const d1 = (await collect(bee.diff(v, { gte: 'k1', lt: 'k3' }))).map((e) => [show(e.left), show(e.right)])
    const d2 = (await collect(db.createDiffStream(v, { gte: Buffer.from('k1'), lt: Buffer.from('k3') }))).map((e: any) => [show(e.left), show(e.right)])
    assert.deepEqual(d1, d2, 'diff against ' + v)
  }
  // every block parses and passes our pointer checks, batch blocks included
  assert.equal((await collect(bee.history())).length, oc.length - 1)
  const h1 = (await collect(bee.history({ gte: 5, lt: 60 }))).map((e) => e.type + show(e))
  const h2 = (await collect(db.createHistoryStream({ gte: 5, lt: 60 }))).map((e: any) => e.type + show(e))
  assert.deepEqual(h1, h2, 'history')
  const h3 = (await collect(bee.history({ gte: -20, reverse: true, limit: 9 }))).map((e) => e.type + show(e))
  const h4 = (await collect(db.createHistoryStream({ gte: -20, reverse: true, limit: 9 }))).map((e: any) => e.type + show(e))
  assert.deepEqual(h3, h4, 'history, reverse and relative')
})

test('the real hyperbee reads what our bee wrote, over replication', async (t) => {
  const { core: oc, bee } = await ourBee(t)
  for (const step of randomSteps(4, 500)) await applyOurs(bee, step)
  const rc = new RealHypercore(tmpDir(t), oc.key)
  const db = new RealHyperbee(rc, { keyEncoding: 'binary', valueEncoding: 'binary' })
  await db.ready()
  t.after(() => db.close())
  pipe(t, oc.replicate(true), rc.replicate(false))
  await rc.update({ wait: true })
  assert.equal(rc.length, oc.length)
  const ours = (await collect(bee.range())).map(show)
  const real = (await collect<any>(db.createReadStream())).map(show)
  assert.deepEqual(real, ours)
  assert.ok(ours.length > 20)
  for (const e of (await collect(bee.range({ limit: 30 })))) {
    assert.equal(show(await db.get(e.key)), show(e))
  }
})

function enc (r: any) {
  const out: any = {}
  for (const [k, v] of Object.entries(r)) out[k] = typeof v === 'string' ? Buffer.from(v) : v
  return out
}

export type { BeeEntry }
