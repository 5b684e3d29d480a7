// Our replication against real hypercore@11: both directions, both initiator
// roles, sparse and full, live appends, and a chain real → ours → real that
// shows we re-serve what we fetched.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { tmpDir } from '../helpers/tmp.js'
import { oracle } from '../helpers/oracle.js'
import { blocks } from '../helpers/replication.js'

const RealHypercore = oracle('hypercore')

function pipe (t: any, a: any, b: any) {
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
}

async function realCore (t: any, key: Buffer | null = null) {
  const c = new RealHypercore(tmpDir(t), key)
  await c.ready()
  t.after(() => c.close())
  return c
}

async function ourCore (t: any, key: Buffer | null = null) {
  const c = new Hypercore(new MemoryStorage(), key)
  await c.ready()
  t.after(() => c.close())
  return c
}

for (const ourRole of [true, false]) {
  test(`a real reader fetches from our writer, sparse then full (ours initiator: ${ourRole})`, async (t) => {
    const data = blocks(150, 700)
    const w = await ourCore(t)
    await w.append(data)
    const r = await realCore(t, w.key)
    pipe(t, w.replicate(ourRole), r.replicate(!ourRole))
    assert.ok((await r.get(97)).equals(data[97]))
    assert.equal(r.length, 150)
    assert.equal(r.contiguousLength, 0)
    await r.download({ start: 0, end: 150 }).done()
    for (const i of [0, 1, 64, 149]) assert.ok((await r.get(i)).equals(data[i]))
    const more = waitAppend(r)
    await w.append(['live one', 'live two'])
    await more
    assert.equal((await r.get(151)).toString(), 'live two')
  })

  test(`our reader fetches from a real writer, sparse then full (ours initiator: ${ourRole})`, async (t) => {
    const data = blocks(150, 700)
    const w = await realCore(t)
    await w.append(data)
    const r = await ourCore(t, w.key)
    pipe(t, r.replicate(ourRole), w.replicate(!ourRole))
    assert.ok((await r.get(97, { timeout: 5000 }))!.equals(data[97]))
    assert.equal(r.length, 150)
    assert.equal(r.contiguousLength, 0)
    await r.download({ start: 0, end: 150 })
    assert.equal(r.contiguousLength, 150)
    assert.ok((await r.treeHash()).equals(await w.treeHash()))
    assert.deepEqual(await r.seek(150 * 700 - 1), [149, 699])
    const more = waitAppend(r)
    await w.append(['live one', 'live two'])
    await more
    assert.equal((await r.get(151, { timeout: 5000 }))!.toString(), 'live two')
  })
}

test('a real writer answers the short proofs of blocks we ask together, and a real reader takes our batched answers', async (t) => {
  const data = blocks(512, 300)
  const w = await realCore(t)
  await w.append(data)
  const r = await ourCore(t, w.key)
  let nodes = 0
  const apply = r.applyProof.bind(r)
  r.applyProof = (p) => { nodes += p.block?.nodes.length ?? 0; return apply(p) }
  pipe(t, r.replicate(true), w.replicate(false))
  await r.update()
  const got = await Promise.all(data.map((_, i) => r.get(i, { timeout: 10_000 })))
  for (let i = 0; i < data.length; i++) assert.ok(got[i]!.equals(data[i]), 'block ' + i)
  // one sibling per tree node below the root at most (511), not a climb to it per block
  assert.ok(nodes <= 511, `${nodes} proof nodes for 512 blocks`)
  // and the other way: a real reader asking all of our blocks at once
  const r2 = await realCore(t, w.key)
  pipe(t, r.replicate(false), r2.replicate(true))
  const got2 = await Promise.all(data.map((_, i) => r2.get(i)))
  for (let i = 0; i < data.length; i++) assert.ok(got2[i].equals(data[i]), 'real reader, block ' + i)
})

test('a real core re-served by ours reaches another real core (real → ours → real)', async (t) => {
  const data = blocks(80, 2000)
  const origin = await realCore(t)
  await origin.append(data)
  const middle = await ourCore(t, origin.key)
  const end = await realCore(t, origin.key)
  const first = [middle.replicate(true), origin.replicate(false)]
  pipe(t, first[0], first[1])
  await middle.update()
  await middle.download({ start: 0, end: 80 })
  first[0].destroy() // the origin is gone
  pipe(t, middle.replicate(false), end.replicate(true))
  for (const i of [0, 40, 79]) assert.ok((await end.get(i, { timeout: 5000 })).equals(data[i]))
  assert.equal(end.length, 80)
})

test('a remote seek on a real writer resolves to the same block as the real one', async (t) => {
  const w = await realCore(t)
  await w.append(Array.from({ length: 300 }, (_, i) => Buffer.alloc(1 + (i % 50), i)))
  const r = await ourCore(t, w.key)
  pipe(t, r.replicate(true), w.replicate(false))
  await r.update()
  for (const bytes of [0, 1234, 5000, w.byteLength - 1]) {
    assert.deepEqual(await r.seek(bytes, { timeout: 5000 }), await w.seek(bytes), 'seek ' + bytes)
  }
})

function waitAppend (core: any): Promise<void> {
  return new Promise((resolve) => core.once('append', () => resolve()))
}

test('compat cores (key = public key) replicate both ways without a manifest', async (t) => {
  const { keyPair } = await import('../../src/crypto/index.js')
  const kp = keyPair()
  const realWriter = new RealHypercore(tmpDir(t), kp.publicKey, { keyPair: kp })
  await realWriter.ready()
  t.after(() => realWriter.close())
  await realWriter.append(['one', 'two', 'three'])
  const ours = await ourCore(t, kp.publicKey)
  pipe(t, ours.replicate(true), realWriter.replicate(false))
  assert.equal((await ours.get(2, { timeout: 5000 }))!.toString(), 'three')
  assert.equal(ours.manifest, null)

  const kp2 = keyPair()
  const ourWriter = new Hypercore(new MemoryStorage(), kp2.publicKey, { keyPair: kp2 })
  await ourWriter.append(['a', 'b'])
  t.after(() => ourWriter.close())
  const realReader = await realCore(t, kp2.publicKey)
  pipe(t, ourWriter.replicate(false), realReader.replicate(true))
  assert.equal((await realReader.get(1)).toString(), 'b')
})
