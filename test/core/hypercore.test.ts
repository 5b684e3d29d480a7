import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync, readFileSync, truncateSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { keyPair } from '../../src/crypto/index.js'
import { tmpDir } from '../helpers/tmp.js'
import type { ProofRequest } from '../../src/core/merkle-tree.js'

function req (r: Partial<ProofRequest> & { fork?: number }): ProofRequest {
  return { fork: 0, block: null, hash: null, seek: null, upgrade: null, manifest: true, ...r }
}

async function writerWith (n: number, size = (i: number) => 10 + (i % 7)) {
  const core = new Hypercore(new MemoryStorage())
  const blocks = Array.from({ length: n }, (_, i) => Buffer.alloc(size(i), i & 0xff))
  if (n) await core.append(blocks)
  return { core, blocks }
}

test('append returns the new length and blocks read back', async (t) => {
  const core = new Hypercore(new MemoryStorage())
  t.after(() => core.close())
  assert.deepEqual(await core.append('a'), { length: 1, byteLength: 1 })
  assert.deepEqual(await core.append(['bb', 'ccc', '']), { length: 4, byteLength: 6 })
  assert.equal(core.length, 4)
  assert.equal(core.contiguousLength, 4)
  assert.equal((await core.get(1))!.toString(), 'bb')
  assert.equal((await core.get(3))!.byteLength, 0)
  assert.ok(core.has(2) && !core.has(4))
  assert.ok(core.writable)
})

test('a core reopened from disk has the same key, length and blocks', async (t) => {
  const dir = tmpDir(t)
  const a = new Hypercore(dir)
  await a.append(['one', 'two', 'three'])
  const key = a.key!
  await a.close()
  const b = new Hypercore(dir)
  await b.ready()
  t.after(() => b.close())
  assert.ok(b.key!.equals(key))
  assert.equal(b.length, 3)
  assert.ok(b.writable)
  assert.equal((await b.get(2))!.toString(), 'three')
  await b.append('four')
  assert.equal((await b.get(3))!.toString(), 'four')
})

test('a core opened by key alone is a reader and refuses appends', async (t) => {
  const { core } = await writerWith(2)
  const reader = new Hypercore(new MemoryStorage(), core.key)
  await reader.ready()
  t.after(() => Promise.all([core.close(), reader.close()]))
  assert.equal(reader.writable, false)
  await assert.rejects(reader.append('x'), { code: 'SESSION_NOT_WRITABLE' })
})

test('get of a missing block: null without wait, REQUEST_TIMEOUT or REQUEST_CANCELLED with it', async (t) => {
  const core = new Hypercore(new MemoryStorage())
  t.after(() => core.close())
  await core.append('x')
  assert.equal(await core.get(5, { wait: false }), null)
  await assert.rejects(core.get(5, { timeout: 20 }), { code: 'REQUEST_TIMEOUT' })
  const ac = new AbortController()
  const p = core.get(5, { signal: ac.signal })
  ac.abort()
  await assert.rejects(p, { code: 'REQUEST_CANCELLED' })
})

test('a waiting get resolves when the block is appended', async (t) => {
  const core = new Hypercore(new MemoryStorage())
  t.after(() => core.close())
  await core.ready()
  const p = core.get(1, { timeout: 5000 })
  await core.append(['a', 'b'])
  assert.equal((await p)!.toString(), 'b')
})

test('seek maps byte offsets to [block, offset]', async (t) => {
  const core = new Hypercore(new MemoryStorage())
  t.after(() => core.close())
  await core.append(['aaaa', 'bb', '', 'cccccc', 'd'])
  assert.deepEqual(await core.seek(0), [0, 0])
  assert.deepEqual(await core.seek(3), [0, 3])
  assert.deepEqual(await core.seek(4), [1, 0])
  assert.deepEqual(await core.seek(6), [3, 0])
  assert.deepEqual(await core.seek(11), [3, 5])
  assert.deepEqual(await core.seek(12), [4, 0])
  assert.deepEqual(await core.seek(13), [5, 0])
  await assert.rejects(core.seek(14), { code: 'BAD_ARGUMENT' })
})

test('truncate moves to a new fork and appends continue from there', async (t) => {
  const dir = tmpDir(t)
  const core = new Hypercore(dir)
  await core.append(['a', 'b', 'c', 'd', 'e'])
  const hash3 = await core.treeHash(3)
  await core.truncate(3)
  assert.equal(core.length, 3)
  assert.equal(core.fork, 1)
  assert.ok((await core.treeHash()).equals(hash3))
  await core.append(['x', 'y'])
  await core.close()
  const again = new Hypercore(dir)
  await again.ready()
  t.after(() => again.close())
  assert.equal(again.length, 5)
  assert.equal(again.fork, 1)
  assert.equal((await again.get(3))!.toString(), 'x')
  assert.equal((await again.get(2))!.toString(), 'c')
})

test('a second open of the same folder gets STORAGE_LOCKED', async (t) => {
  const dir = tmpDir(t)
  const a = new Hypercore(dir)
  await a.ready()
  t.after(() => a.close())
  const b = new Hypercore(dir)
  await assert.rejects(b.ready(), { code: 'STORAGE_LOCKED' })
})

test('the proof for block 5 of 10 with an upgrade from 0 matches Hypercore 11', async (t) => {
  const { core } = await writerWith(10)
  t.after(() => core.close())
  const p = await core.proof(req({ block: { index: 5, nodes: 0 }, upgrade: { start: 0, length: 10 } }))
  assert.deepEqual(p.block!.nodes.map((n) => n.index), [8, 13, 3])
  assert.deepEqual(p.upgrade!.nodes.map((n) => n.index), [17])
  assert.deepEqual(p.upgrade!.additionalNodes, [])
})

test('a reader verifies and stores upgrades, blocks, and hashes from proofs', async (t) => {
  const { core, blocks } = await writerWith(37)
  const reader = new Hypercore(new MemoryStorage(), core.key)
  await reader.ready()
  t.after(() => Promise.all([core.close(), reader.close()]))

  // upgrade to 20 with block 13, then to 37 with nothing
  const small = await core.proof(req({ block: { index: 13, nodes: 0 }, upgrade: { start: 0, length: 20 } }))
  // the writer signs its full length, so the upgrade carries additional nodes up to 37
  await reader.applyProof(small)
  assert.equal(reader.length, 37)
  assert.ok((await reader.get(13))!.equals(blocks[13]))
  assert.ok((await reader.treeHash()).equals(await core.treeHash()))

  // blocks below the length, asking for as many nodes as the reader lacks
  for (const i of [0, 36, 7, 8, 21, 22, 35]) {
    const p = await core.proof(req({ block: { index: i, nodes: await reader.missingNodes(2 * i) } }))
    await reader.applyProof(p)
    assert.ok((await reader.get(i))!.equals(blocks[i]), 'block ' + i)
  }
  assert.equal(reader.contiguousLength, 1)
  assert.ok(reader.has(36) && !reader.has(1))
})

test('upgrade proofs from every start length verify', async (t) => {
  const { core } = await writerWith(33)
  t.after(() => core.close())
  for (let start = 0; start < 33; start += 4) {
    const reader = new Hypercore(new MemoryStorage(), core.key)
    await reader.ready()
    if (start > 0) await reader.applyProof(await core.proof(req({ upgrade: { start: 0, length: start } })))
    // reader may already be at 33 (signature covers the full length)
    if (reader.length < 33) {
      await reader.applyProof(await core.proof(req({ upgrade: { start: reader.length, length: 33 - reader.length } })))
    }
    assert.equal(reader.length, 33)
    assert.ok((await reader.treeHash()).equals(await core.treeHash()))
    await reader.close()
  }
})

test('a seek proof lets a reader find the block for a byte offset', async (t) => {
  const { core } = await writerWith(20, (i) => 3 + i)
  const reader = new Hypercore(new MemoryStorage(), core.key)
  t.after(() => Promise.all([core.close(), reader.close()]))
  await reader.applyProof(await core.proof(req({ upgrade: { start: 0, length: 20 } })))
  const target = await core.seek(100)
  await assert.rejects(reader.seek(100, { wait: false }), { code: 'BLOCK_NOT_AVAILABLE' })
  const p = await core.proof(req({ seek: { bytes: 100, padding: 0 }, block: { index: target[0], nodes: await reader.missingNodes(2 * target[0]) } }))
  await reader.applyProof(p)
  assert.deepEqual(await reader.seek(100), target)
})

test('a tampered block, node or signature is rejected and nothing is stored', async (t) => {
  const { core } = await writerWith(8)
  const reader = new Hypercore(new MemoryStorage(), core.key)
  t.after(() => Promise.all([core.close(), reader.close()]))
  const good = () => core.proof(req({ block: { index: 3, nodes: 0 }, upgrade: { start: 0, length: 8 } }))

  const badValue = await good()
  badValue.block!.value = Buffer.from(badValue.block!.value!); badValue.block!.value[0] ^= 1
  await assert.rejects(reader.applyProof(badValue), { code: 'INVALID_SIGNATURE' })

  const badNode = await good()
  badNode.block!.nodes[0] = { ...badNode.block!.nodes[0], hash: Buffer.alloc(32, 9) }
  await assert.rejects(reader.applyProof(badNode), { code: 'INVALID_SIGNATURE' })

  const badSig = await good()
  badSig.upgrade!.signature = Buffer.from(badSig.upgrade!.signature!); badSig.upgrade!.signature[10] ^= 1
  await assert.rejects(reader.applyProof(badSig), { code: 'INVALID_SIGNATURE' })

  const wrongOrder = await good()
  wrongOrder.block!.nodes.reverse()
  await assert.rejects(reader.applyProof(wrongOrder), { code: 'INVALID_PROOF' })

  assert.equal(reader.length, 0)
  assert.equal(reader.has(3), false)
  await reader.applyProof(await good())
  assert.equal(reader.length, 8)

  // below the signed length a wrong block fails against the stored tree
  const p = await core.proof(req({ block: { index: 5, nodes: await reader.missingNodes(10) } }))
  p.block!.value = Buffer.from('evil')
  await assert.rejects(reader.applyProof(p), { code: 'INVALID_PROOF' })
  assert.equal(reader.has(5), false)
})

test('a proof signed by another key, or with a foreign manifest, is rejected', async (t) => {
  const kp = keyPair()
  const a = new Hypercore(new MemoryStorage(), { keyPair: kp })
  const b = new Hypercore(new MemoryStorage())
  await a.append(['x', 'y']); await b.append(['x', 'y'])
  const reader = new Hypercore(new MemoryStorage(), a.key)
  const informed = new Hypercore(new MemoryStorage(), a.key, { manifest: a.manifest! })
  t.after(() => Promise.all([a.close(), b.close(), reader.close(), informed.close()]))
  await assert.rejects(reader.applyProof(await b.proof(req({ upgrade: { start: 0, length: 2 } }))), { code: 'INVALID_MANIFEST' })
  await assert.rejects(informed.applyProof(await b.proof(req({ upgrade: { start: 0, length: 2 }, manifest: false }))), { code: 'INVALID_SIGNATURE' })
  assert.equal(reader.length + informed.length, 0)
  await informed.applyProof(await a.proof(req({ upgrade: { start: 0, length: 2 }, manifest: false })))
  assert.equal(informed.length, 2)
})

test('corrupt files give STORAGE_CORRUPT naming the file', async (t) => {
  const dir = tmpDir(t)
  const make = async () => {
    const c = new Hypercore(dir)
    await c.append(['hello', 'world', 'again'])
    await c.close()
  }
  await make()
  const open = async () => { const c = new Hypercore(dir); try { await c.ready(); return c } catch (e) { await c.close(); throw e } }

  // a flipped data byte is caught when the block is read
  const data = readFileSync(join(dir, 'data')); data[6] ^= 0xff; writeFileSync(join(dir, 'data'), data)
  const c1 = await open()
  assert.equal((await c1.get(0))!.toString(), 'hello')
  await assert.rejects(c1.get(1), (e: any) => e.code === 'STORAGE_CORRUPT' && /data/.test(e.message))
  await c1.close()
  data[6] ^= 0xff; writeFileSync(join(dir, 'data'), data)

  // a short data file is caught at open
  truncateSync(join(dir, 'data'), 7)
  await assert.rejects(open(), (e: any) => e.code === 'STORAGE_CORRUPT' && /data/.test(e.message))
  writeFileSync(join(dir, 'data'), data)

  // a damaged tree no longer matches the signature
  const tree = readFileSync(join(dir, 'tree')); tree[48 + 3] ^= 1; writeFileSync(join(dir, 'tree'), tree)
  await assert.rejects(open(), (e: any) => e.code === 'STORAGE_CORRUPT' && /tree/.test(e.message))
  tree[48 + 3] ^= 1
  truncateSync(join(dir, 'tree'), 48)
  await assert.rejects(open(), (e: any) => e.code === 'STORAGE_CORRUPT' && /tree/.test(e.message))
  writeFileSync(join(dir, 'tree'), tree)

  // both state slots garbage
  const size = statSync(join(dir, 'state')).size
  writeFileSync(join(dir, 'state'), Buffer.alloc(size, 0xaa))
  await assert.rejects(open(), (e: any) => e.code === 'STORAGE_CORRUPT' && /state/.test(e.message))

  // a garbage header
  writeFileSync(join(dir, 'header'), Buffer.from('not a header at all'))
  await assert.rejects(open(), (e: any) => e.code === 'STORAGE_CORRUPT' && /header/.test(e.message))
})

test('a torn newest state slot falls back to the previous one', async (t) => {
  const dir = tmpDir(t)
  const c = new Hypercore(dir)
  await c.append('a')
  await c.append('b') // seq 2 → slot 0; seq 1 → slot 1
  await c.close()
  const state = readFileSync(join(dir, 'state'))
  state[10] ^= 0xff // damages slot 0, the newest
  writeFileSync(join(dir, 'state'), state)
  const again = new Hypercore(dir)
  await again.ready()
  t.after(() => again.close())
  assert.equal(again.length, 1)
})

test('tree records decode to null when absent and round-trip otherwise', async () => {
  const { encodeTreeRecord, decodeTreeRecord, TREE_RECORD_SIZE } = await import('../../src/codec/core-storage.js')
  const buf = Buffer.alloc(2 * TREE_RECORD_SIZE)
  assert.equal(decodeTreeRecord(buf, 0), null)
  encodeTreeRecord({ hash: Buffer.alloc(32, 7), size: 2 ** 40, byteOffset: 0 }, buf, TREE_RECORD_SIZE)
  assert.deepEqual(decodeTreeRecord(buf, TREE_RECORD_SIZE), { hash: Buffer.alloc(32, 7), size: 2 ** 40, byteOffset: 0 })
})
