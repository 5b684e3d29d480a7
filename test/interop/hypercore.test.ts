// Our Hypercore against the real hypercore@11: same key pair and blocks must
// give the same key, discovery key, tree hashes and signatures.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { keyPair } from '../../src/crypto/index.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'
import { oracle } from '../helpers/oracle.js'

const RealHypercore = oracle('hypercore')

async function pair (t: any, opts: { compat?: boolean } = {}) {
  const kp = keyPair()
  const real = new RealHypercore(tmpDir(t), opts.compat ? kp.publicKey : null, { keyPair: kp })
  const ours = new Hypercore(new MemoryStorage(), opts.compat ? kp.publicKey : null, { keyPair: kp })
  await Promise.all([real.ready(), ours.ready()])
  t.after(() => Promise.all([real.close(), ours.close()]))
  return { real, ours }
}

async function assertSame (real: any, ours: Hypercore, msg: string) {
  assert.equal(ours.length, real.length, msg + ' length')
  assert.equal(ours.byteLength, real.byteLength, msg + ' byteLength')
  assert.ok((await ours.treeHash()).equals(await real.treeHash()), msg + ' treeHash')
  assert.ok(ours.signature!.equals(real.core.state.signature), msg + ' signature')
}

test('key and discovery key equal the real ones, default and compat', async (t) => {
  for (const compat of [false, true]) {
    const { real, ours } = await pair(t, { compat })
    assert.ok(ours.key!.equals(real.key), 'key, compat=' + compat)
    assert.ok(ours.discoveryKey!.equals(real.discoveryKey), 'discovery key, compat=' + compat)
  }
})

test('tree hashes and signatures match at many lengths, single and batched appends', async (t) => {
  const rand = prng(42)
  for (const compat of [false, true]) {
    const { real, ours } = await pair(t, { compat })
    for (let step = 0; step < 60; step++) {
      const n = rand() < 0.5 ? 1 : 1 + Math.floor(rand() * 40)
      const blocks = Array.from({ length: n }, () => randomBuffer(rand, Math.floor(rand() * 300)))
      await real.append(n === 1 ? blocks[0] : blocks)
      await ours.append(n === 1 ? blocks[0] : blocks)
      await assertSame(real, ours, `compat=${compat} step ${step}`)
    }
    // tree hashes of every earlier length, too
    for (let len = 1; len <= ours.length; len += 7) {
      assert.ok((await ours.treeHash(len)).equals(await real.treeHash(len)), 'treeHash(' + len + ')')
    }
  }
})

test('block sizes from 0 bytes to 1 MiB give the same trees', async (t) => {
  const rand = prng(9)
  const { real, ours } = await pair(t)
  const sizes = [0, 1, 63, 64, 65, 1023, 1024, 4096, 65535, 65536, 65537, 300000, 1024 * 1024]
  for (const size of sizes) {
    const b = randomBuffer(rand, size)
    await real.append(b); await ours.append(b)
    await assertSame(real, ours, 'size ' + size)
  }
  const batch = sizes.map((s) => randomBuffer(rand, s))
  await real.append(batch); await ours.append(batch)
  await assertSame(real, ours, 'batched sizes')
  for (let i = 0; i < ours.length; i++) assert.ok((await ours.get(i))!.equals(await real.get(i)), 'block ' + i)
})

test('seek agrees with the real core', async (t) => {
  const rand = prng(3)
  const { real, ours } = await pair(t)
  const blocks = Array.from({ length: 50 }, () => randomBuffer(rand, 1 + Math.floor(rand() * 100)))
  await real.append(blocks); await ours.append(blocks)
  for (let k = 0; k < 100; k++) {
    const bytes = Math.floor(rand() * ours.byteLength)
    assert.deepEqual(await ours.seek(bytes), await real.seek(bytes), 'seek ' + bytes)
  }
})

test('after a truncation the fork, tree hash and signature match', async (t) => {
  const { real, ours } = await pair(t)
  const blocks = Array.from({ length: 20 }, (_, i) => Buffer.from('block ' + i))
  await real.append(blocks); await ours.append(blocks)
  await real.truncate(11); await ours.truncate(11)
  assert.equal(ours.fork, real.fork)
  await assertSame(real, ours, 'after truncate')
  await real.append(['x', 'y']); await ours.append(['x', 'y'])
  await assertSame(real, ours, 'append after truncate')
})
