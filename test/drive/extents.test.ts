// Files as extents (Hypertrie format): a change to part of a file stores only
// the bytes written, a truncate stores none, and the result reads the same
// through every path (block by block, the zero-copy reader, after a reopen,
// and on a replica).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Drive, FilePatch } from '../../src/drive/types.js'
import { Bitfield } from '../../src/core/bitfield.js'
import { gcPlan, statBlocks } from '../../src/daemon/live-blocks.js'
import { encode, decode } from '../../src/codec/state.js'
import { driveStat } from '../../src/codec/drive-stat.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'
import { ReplicaEnv } from './kits.js'

const BLOCK = 64 * 1024
const MIB = 1024 * 1024

function contentLength (d: Drive): number {
  return (d as unknown as { content: { byteLength: number } }).content.byteLength
}

async function readAll (d: Drive, path: string): Promise<Buffer> {
  return d.read(path)
}

// What the zero-copy reader gives for [pos, pos + len), or null.
async function readLocal (d: Drive, path: string, pos: number, len: number): Promise<Buffer | null> {
  const r = await d.openReader!(path)
  if (!r) return null
  const buf = Buffer.alloc(len)
  const n = r.readInto(buf, pos, len)
  return n === null ? null : buf.subarray(0, n)
}

// Applies a patch to a reference buffer the way FilePatch says.
function applyRef (ref: Buffer, p: FilePatch): Buffer {
  const out = Buffer.alloc(p.size)
  ref.copy(out, 0, 0, Math.min(p.keep, ref.length, p.size))
  for (const w of p.writes) (w.data as Buffer).copy(out, w.offset)
  return out
}

test('20 one-byte writes into a 64 MiB file store 20 bytes of content, and read back right', async (t) => {
  const store = DriveStore.directory(tmpDir(t))
  t.after(() => store.close())
  const d = await store.create()
  const big = randomBuffer(prng(1), 64 * MIB)
  await d.writeFile('/big', big)
  const before = contentLength(d)
  const rand = prng(2)
  for (let i = 0; i < 20; i++) {
    const at = Math.floor(rand() * big.length)
    big[at] ^= 0x5a
    await d.patchFile!('/big', { keep: big.length, size: big.length, writes: [{ offset: at, length: 1, data: big.subarray(at, at + 1) }] })
  }
  assert.equal(contentLength(d) - before, 20, 'only the written bytes were appended')
  const st = await d.stat('/big')
  assert.equal(st.size, big.length)
  assert.ok(st.extents && st.extents.length <= 41, 'each write splits one extent in three at most')
  assert.ok((await readAll(d, '/big')).equals(big))
  const local = await readLocal(d, '/big', 0, big.length)
  assert.ok(local && local.equals(big), 'the zero-copy reader reads through the extents')
})

test('500 appends of 100 bytes store each appended byte once, plus a bounded rewrite of small extents', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  let ref = randomBuffer(prng(3), 100_000)
  await d.writeFile('/log', ref)
  const before = contentLength(d)
  const rand = prng(4)
  for (let i = 0; i < 500; i++) {
    const line = randomBuffer(rand, 100)
    await d.patchFile!('/log', { keep: ref.length, size: ref.length + 100, writes: [{ offset: ref.length, length: 100, data: line }] })
    ref = Buffer.concat([ref, line])
  }
  const grown = contentLength(d) - before
  assert.ok(grown >= 50_000, `${grown} bytes stored for 50,000 appended`)
  // compaction rewrites windows of small extents now and then, never the file's old blocks
  assert.ok(grown < 4 * 50_000, `${grown} bytes stored for 50,000 appended`)
  const st = await d.stat('/log')
  assert.ok(st.extents && st.extents.length <= 33, `${st.extents?.length} extents`)
  assert.ok((await readAll(d, '/log')).equals(ref))
})

test('truncate stores no content: shorter keeps the blocks, longer ends in a hole that reads as zeros', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  const data = randomBuffer(prng(5), 3 * BLOCK + 10)
  await d.writeFile('/f', data)
  const before = contentLength(d)
  await d.truncate('/f', BLOCK + 7)
  await d.truncate('/f', 5 * BLOCK)
  await d.rename('/f', '/g')
  assert.equal(contentLength(d), before)
  const want = Buffer.concat([data.subarray(0, BLOCK + 7), Buffer.alloc(5 * BLOCK - BLOCK - 7)])
  assert.ok((await readAll(d, '/g')).equals(want))
  assert.ok((await d.read('/g', { start: BLOCK, length: 20 })).equals(want.subarray(BLOCK, BLOCK + 20)))
  const local = await readLocal(d, '/g', 0, want.length)
  assert.ok(local && local.equals(want))
})

test('a file that is one run again is written in the entry format of before extents', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  await d.writeFile('/f', randomBuffer(prng(6), 2 * BLOCK))
  await d.truncate('/f', BLOCK + 1)
  const st = await d.stat('/f')
  assert.equal(st.extents, undefined, 'a shortened run needs no extents')
  assert.equal(st.blocks, 2)
  await d.truncate('/f', 3 * BLOCK)
  assert.ok((await d.stat('/f')).extents, 'a hole needs extents')
})

test('random writes, truncates and appends match a reference file, after a reopen and on a replica', async (t) => {
  const dir = tmpDir(t)
  let store = DriveStore.directory(dir)
  const d = await store.create()
  const key = d.key
  const rand = prng(7)
  let ref = randomBuffer(rand, 5 * BLOCK + 123)
  await d.writeFile('/r', ref)
  for (let i = 0; i < 120; i++) {
    const kind = rand()
    let p: FilePatch
    if (kind < 0.5) {
      const offset = Math.floor(rand() * (ref.length + 1000))
      const length = 1 + Math.floor(rand() * (rand() < 0.2 ? 3 * BLOCK : 300))
      const size = Math.max(ref.length, offset + length)
      p = { keep: ref.length, size, writes: [{ offset, length, data: randomBuffer(rand, length) }] }
    } else if (kind < 0.7) {
      const size = Math.floor(rand() * (ref.length + 2 * BLOCK))
      p = { keep: size, size, writes: [] }
    } else if (kind < 0.9) {
      const length = 1 + Math.floor(rand() * 500)
      p = { keep: ref.length, size: ref.length + length, writes: [{ offset: ref.length, length, data: randomBuffer(rand, length) }] }
    } else {
      // a shrink and a regrow in one change (ftruncate down, then writes past it)
      const keep = Math.floor(rand() * ref.length)
      const offset = keep + Math.floor(rand() * 1000)
      p = { keep, size: offset + 10, writes: [{ offset, length: 10, data: randomBuffer(rand, 10) }] }
    }
    if (p.writes.length === 0 && rand() < 0.5) await d.truncate('/r', p.size)
    else await d.patchFile!('/r', p)
    ref = applyRef(ref, p)
    if (i % 20 === 0) {
      const start = Math.floor(rand() * ref.length)
      const length = Math.floor(rand() * (ref.length - start))
      assert.ok((await d.read('/r', { start, length })).equals(ref.subarray(start, start + length)), `range read after change ${i}`)
    }
  }
  assert.ok((await readAll(d, '/r')).equals(ref))
  await store.close()

  store = DriveStore.directory(dir)
  t.after(() => store.close())
  const again = await store.open(key)
  assert.ok((await readAll(again, '/r')).equals(ref), 'the same bytes after a reopen')
  const local = await readLocal(again, '/r', 0, ref.length)
  assert.ok(local && local.equals(ref), 'the zero-copy reader too')
  for (let i = 0; i < 20; i++) {
    const pos = Math.floor(rand() * ref.length)
    const len = Math.floor(rand() * Math.min(3 * BLOCK, ref.length - pos))
    const part = await readLocal(again, '/r', pos, len)
    assert.ok(part && part.equals(ref.subarray(pos, pos + len)), `zero-copy read of ${len} at ${pos}`)
  }
})

test('a replica reads a file of extents, fetching only the blocks of the range asked for', async (t) => {
  const env = new ReplicaEnv(t)
  const d = await env.create()
  const rand = prng(8)
  let ref = randomBuffer(rand, 40 * BLOCK)
  await d.writeFile('/x', ref)
  for (let i = 0; i < 30; i++) {
    const offset = Math.floor(rand() * ref.length)
    const length = Math.min(1 + Math.floor(rand() * 2000), ref.length - offset)
    const data = randomBuffer(rand, length)
    await d.patchFile!('/x', { keep: ref.length, size: ref.length, writes: [{ offset, length, data }] })
    ref = applyRef(ref, { keep: ref.length, size: ref.length, writes: [{ offset, length, data }] })
  }
  const r = await env.reader(d)
  const replica = await env.replica(d.key)
  const start = 20 * BLOCK + 100
  const part = await r.read('/x', { start, length: 1000 })
  assert.ok(part.equals(ref.subarray(start, start + 1000)))
  let held = 0
  for (let i = 0; i < replica.content.core.length; i++) if (replica.content.core.has(i)) held++
  assert.ok(held <= 3, `${held} content blocks fetched for a 1000-byte read`)
  assert.ok((await r.read('/x')).equals(ref), 'the whole file on the replica')
})

test('gc keeps every block the latest extents use and frees the ones only old versions use', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  const ref = randomBuffer(prng(9), 10 * BLOCK)
  await d.writeFile('/f', ref)
  await d.patchFile!('/f', { keep: ref.length, size: ref.length, writes: [{ offset: 3 * BLOCK, length: 2 * BLOCK, data: Buffer.alloc(2 * BLOCK, 7) }] })
  const bound = (d as unknown as { content: { length: number } }).content.length
  const plan = await gcPlan(d, { keepVersions: 1, bound })
  const used = new Bitfield()
  for (const [s, e] of statBlocks(await d.stat('/f'), bound)) used.setRange(s, e, true)
  for (let i = 0; i < bound; i++) {
    assert.equal(plan.keep.get(i), used.get(i), `block ${i} kept iff the latest version uses it`)
    assert.equal(plan.free.get(i), !used.get(i), `block ${i} freed iff only an old version uses it`)
  }
  assert.equal([...plan.free.runs()].reduce((n, [s, e]) => n + e - s, 0), 2, 'the two overwritten blocks')

  // freeing them leaves the latest version whole, through both read paths
  const content = (d as unknown as { content: { clear: (s: number, e: number) => Promise<unknown> } }).content
  for (const [s, e] of [...plan.free.runs()]) await content.clear(s, e)
  const want = Buffer.from(ref)
  want.fill(7, 3 * BLOCK, 5 * BLOCK)
  assert.ok((await d.read('/f')).equals(want))
  const local = await readLocal(d, '/f', 0, want.length)
  assert.ok(local && local.equals(want))
  assert.equal(await readLocal(d.checkout(2), '/f', 3 * BLOCK, 10), null, 'the old version\'s freed bytes are not read locally')
})

test('an entry of a newer format version is refused with DECODE_ERROR', () => {
  const st = { mode: 0o100644, uid: 0, gid: 0, size: 3, blocks: 1, offset: 0, byteOffset: 0, mtime: 1, ctime: 1, linkname: null, metadata: {}, mount: null, extents: [{ offset: 4, blocks: 1, skip: 0, length: 3 }] }
  const b = encode(driveStat, st)
  assert.equal(b[0], 8, 'flag 8: a versioned entry')
  assert.equal(b[1], 1, 'version 1')
  const back = decode(driveStat, b)
  assert.deepEqual(back.extents, st.extents)
  b[1] = 2
  assert.throws(() => decode(driveStat, b), (err: any) => err.code === 'DECODE_ERROR' && /version 2 is newer/.test(err.message))
})
