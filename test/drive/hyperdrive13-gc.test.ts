// gc of a hyperdrive13 drive (live-blocks.ts over the Drive interface): a
// block-mapped file's Stat names the blocks its map lists (extents) and the
// map's own blocks (blockMap), so gc frees what only old versions name, maps
// included, and keeps what the latest names, however old the block. An old
// version whose map is gone still lists, at the size recorded with the map,
// and reads its own bytes, or fails, never someone else's.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, lstatSync } from 'node:fs'
import { join } from 'node:path'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Drive, FilePatch } from '../../src/drive/types.js'
import type { Hypercore } from '../../src/core/hypercore.js'
import { BLOB_BLOCK_SIZE } from '../../src/drive/hyperdrive13.js'
import { gcPlan, statBlocks } from '../../src/daemon/live-blocks.js'
import { isHyperfsError } from '../../src/errors.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'
import { connect, reader } from '../helpers/replication.js'

const MiB = 1024 * 1024
const BS = BLOB_BLOCK_SIZE

function diskUsage (dir: string): number {
  let n = 0
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name))
    n += st.blocks * 512
    if (st.isDirectory()) n += diskUsage(join(dir, name))
  }
  return n
}

function contentOf (d: Drive): Hypercore {
  return (d as unknown as { content: Hypercore }).content
}

function applyRef (ref: Buffer, p: FilePatch): Buffer {
  const out = Buffer.alloc(p.size)
  ref.copy(out, 0, 0, Math.min(p.keep, ref.length, p.size))
  for (const w of p.writes) (w.data as Buffer).copy(out, w.offset)
  return out
}

// frees what gc's plan frees, keeping the last `keepVersions` versions
async function gc (d: Drive, keepVersions = 1): Promise<number> {
  const content = contentOf(d)
  const plan = await gcPlan(d, { keepVersions, bound: content.length })
  let blocks = 0
  for (const [s, e] of [...plan.free.runs(0, content.length)]) blocks += (await content.clear(s, e)).blocks
  return blocks
}

test('hyperdrive13 gc: rm of a big file frees it on disk; a patched file keeps the old blocks its map still lists; old versions read their bytes or fail, never wrong bytes; the history still lists', { timeout: 120_000 }, async (t) => {
  const dir = tmpDir(t)
  const store = DriveStore.directory(dir)
  t.after(() => store.close())
  const d = await store.create({ format: 'hyperdrive13' })
  const rand = prng(31)
  await d.writeFile('/big', randomBuffer(rand, 8 * MiB))
  let ref = randomBuffer(rand, 10 * BS + 123)
  await d.writeFile('/f', ref)
  const versions: Array<{ version: number, data: Buffer }> = [{ version: d.version, data: ref }]
  const patches: FilePatch[] = [
    { keep: ref.length, size: ref.length, writes: [{ offset: 3 * BS + 10, length: 1, data: Buffer.from([1]) }] },
    { keep: ref.length, size: ref.length + 5000, writes: [{ offset: ref.length, length: 5000, data: randomBuffer(rand, 5000) }] },
    { keep: ref.length, size: ref.length + 5000, writes: [{ offset: 7 * BS - 100, length: 200, data: randomBuffer(rand, 200) }] },
    { keep: 9 * BS + 7, size: 9 * BS + 7, writes: [{ offset: 20, length: 3, data: Buffer.from('abc') }] }
  ]
  for (const p of patches) {
    await d.patchFile!('/f', p)
    ref = applyRef(ref, p)
    versions.push({ version: d.version, data: ref })
  }
  const latest = await d.stat('/f')
  assert.ok(latest.blockMap && latest.extents, 'the patched file is a block map, its blocks named in its Stat')
  await d.unlink('/big')
  const before = diskUsage(dir)

  assert.ok(await gc(d) > 128, 'gc frees the big file and the blocks only old versions of /f list')
  const freed = before - diskUsage(dir)
  assert.ok(freed >= 7.5 * MiB, `freed ${freed} bytes on disk`)
  assert.equal(await gc(d), 0, 'nothing more to free')

  // the latest reads whole, through both read paths, its old blocks included
  const content = contentOf(d)
  const first = await d.checkout(versions[0].version).stat('/f')
  assert.ok(latest.extents!.some((x) => x.offset >= first.offset && x.offset < first.offset + first.blocks), 'the map lists blocks of the first version')
  for (const [s, e] of statBlocks(latest, content.length)) for (let i = s; i < e; i++) assert.equal(content.has(i), true, `listed block ${i} is held`)
  assert.ok((await d.read('/f')).equals(ref))
  const reader = await d.openReader!('/f')
  const local = Buffer.alloc(ref.length)
  assert.equal(reader!.readInto(local, 0, ref.length), ref.length)
  assert.ok(local.equals(ref))

  // old maps were freed with what they alone listed; the history still
  // lists each /f with its size
  const sizes: number[] = []
  let freedMaps = 0
  for await (const h of d.history()) {
    if (h.type !== 'put' || h.name !== '/f') continue
    sizes.push(h.value!.size)
    const map = h.value!.blockMap
    if (map && !content.has(map.offset)) freedMaps++
  }
  assert.deepEqual(sizes, versions.map((v) => v.data.length))
  assert.equal(freedMaps, versions.length - 2, 'the maps of the old versions of /f (the first is a plain blob)')

  // an old version: its own bytes, or an error; never another version's
  let failed = 0
  for (const v of versions.slice(0, -1)) {
    const old = d.checkout(v.version)
    assert.equal((await old.stat('/f')).size, v.data.length)
    try {
      assert.ok((await old.read('/f', { timeout: 200 })).equals(v.data), `version ${v.version} reads its own bytes`)
    } catch (err) {
      if (!isHyperfsError(err, 'REQUEST_TIMEOUT')) throw err
      failed++
    }
    for (let at = 0; at < v.data.length; at += BS) {
      const want = v.data.subarray(at, at + BS)
      const got = await old.read('/f', { start: at, length: want.length, timeout: 200 }).catch((err) => {
        if (!isHyperfsError(err, 'REQUEST_TIMEOUT')) throw err
        return null
      })
      if (got) assert.ok(got.equals(want), `version ${v.version} bytes ${at}+`)
    }
  }
  assert.ok(failed > 0, 'some old bytes were freed')
  assert.deepEqual((await content.verify()).corrupt, [])
})

test('hyperdrive13 gc keeps the content of the last N versions: each of them reads whole', { timeout: 60_000 }, async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create({ format: 'hyperdrive13' })
  const rand = prng(32)
  let ref = randomBuffer(rand, 6 * BS)
  await d.writeFile('/f', ref)
  const versions: Array<{ version: number, data: Buffer }> = []
  for (let i = 0; i < 8; i++) {
    const at = Math.floor(rand() * (ref.length - 100))
    const p = { keep: ref.length, size: ref.length, writes: [{ offset: at, length: 100, data: randomBuffer(rand, 100) }] }
    await d.patchFile!('/f', p)
    ref = applyRef(ref, p)
    versions.push({ version: d.version, data: ref })
  }
  assert.ok(await gc(d, 3) > 0)
  for (const v of versions.slice(-3)) assert.ok((await d.checkout(v.version).read('/f', { timeout: 200 })).equals(v.data), `version ${v.version}`)
  await assert.rejects(d.checkout(versions[0].version - 1).read('/f', { timeout: 200 }), (err) => isHyperfsError(err, 'REQUEST_TIMEOUT'))
})

test('hyperdrive13: an old version whose map and blocks gc freed reads its own bytes again from a peer that has them', { timeout: 60_000 }, async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create({ format: 'hyperdrive13' })
  const rand = prng(33)
  let ref = randomBuffer(rand, 4 * BS)
  await d.writeFile('/f', ref)
  const versions: Array<{ version: number, data: Buffer }> = []
  for (let i = 0; i < 3; i++) {
    const p = { keep: ref.length, size: ref.length, writes: [{ offset: i * BS + 5, length: 1, data: Buffer.from([i]) }] }
    await d.patchFile!('/f', p)
    ref = applyRef(ref, p)
    versions.push({ version: d.version, data: ref })
  }
  const content = contentOf(d)
  const peer = await reader(t, content.key!)
  connect(t, content, peer)
  await peer.update()
  await peer.download({ start: 0, end: content.length })
  assert.ok(await gc(d) > 0)
  const old = versions[0]
  const st = await d.checkout(old.version).stat('/f')
  assert.ok(st.blockMap && !content.has(st.blockMap.offset), 'its map was freed here')
  assert.ok((await d.checkout(old.version).read('/f', { timeout: 10_000 })).equals(old.data))
  assert.ok((await d.read('/f')).equals(ref))
})
