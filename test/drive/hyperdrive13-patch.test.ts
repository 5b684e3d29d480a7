// hyperdrive13 drives store what changed: a patch (Drive#patchFile, and
// truncate through it) makes the entry's blob a block map (block-map.ts) that
// lists the old blocks it keeps, so a one-byte write costs about a block, an
// append its bytes, a truncate nothing but a cut block. The planner's algebra
// first, then the format on disk, against a reference file and in du.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, lstatSync } from 'node:fs'
import { join } from 'node:path'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Drive, FilePatch } from '../../src/drive/types.js'
import { BLOB_BLOCK_SIZE } from '../../src/drive/hyperdrive13.js'
import { decodeEntry } from '../../src/drive/drive13-entry.js'
import { Hyperbee } from '../../src/bee/hyperbee.js'
import { blockParts, patchParts, planMap, cutParts, isWhole, zeros, ZERO, OLD_BYTES, type Part } from '../../src/drive/block-map.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'

const KiB = 1024
const MiB = 1024 * 1024
const BS = BLOB_BLOCK_SIZE

// The bytes of parts over a fake blobs core whose block i holds `blocks[i]`.
function bytesOf (parts: Part[], blocks: Buffer[]): Buffer {
  return Buffer.concat(parts.map((p) => p.index < 0 ? Buffer.alloc(p.length) : blocks[p.index].subarray(p.skip, p.skip + p.length)))
}

function applyRef (ref: Buffer, p: FilePatch): Buffer {
  const out = Buffer.alloc(p.size)
  ref.copy(out, 0, 0, Math.min(p.keep, ref.length, p.size))
  for (const w of p.writes) (w.data as Buffer).copy(out, w.offset)
  return out
}

test('block map plans: a patch\'s parts hold the patched bytes, whole blocks are listed again, a cut block is written again (whole, or as pages that a later page write replaces)', () => {
  const rand = prng(7)
  const blocks: Buffer[] = []
  const add = (b: Buffer): Part[] => {
    const parts: Part[] = []
    for (let i = 0; i < b.length; i += BS) {
      const piece = b.subarray(i, i + BS)
      blocks.push(piece)
      parts.push({ index: blocks.length - 1, skip: 0, length: piece.length, blockLength: piece.length })
    }
    return parts
  }
  let ref = randomBuffer(rand, 10 * BS + 123)
  let parts = add(ref)
  for (let round = 0; round < 200; round++) {
    const size = rand() < 0.2 ? (rand() * 12 * BS) | 0 : ref.length + (rand() < 0.3 ? (rand() * 300) | 0 : 0)
    const keep = rand() < 0.2 ? (rand() * size) | 0 : size
    const writes: FilePatch['writes'] = []
    for (let i = 0, n = (rand() * 3) | 0; i < n && size > 0; i++) {
      const offset = (rand() * size) | 0
      const length = Math.min(size - offset, 1 + ((rand() * 2 * BS) | 0))
      writes.push({ offset, length, data: randomBuffer(rand, length) })
    }
    const patch = { keep, size, writes }
    const next = applyRef(ref, patch)
    parts = patchParts(parts, ref.length, keep, size, writes.map((w) => ({ at: w.offset, parts: add(w.data as Buffer) })))
    assert.ok(bytesOf(parts, blocks).equals(next), `round ${round}: the parts hold the patched bytes`)
    // the plan lists the same bytes; written again, its new items become blocks
    const page = round % 2 === 0 ? 4096 : BS
    const items = planMap(parts, { blockSize: BS, page, softSmall: 32 })!
    const planned: Part[] = []
    for (const item of items) {
      if (item.kind === 'block') { planned.push({ index: item.index, skip: 0, length: item.length, blockLength: item.length }); continue }
      assert.ok(item.length <= page || item.length <= BS && item.parts.some((p) => isWhole(p)) || item.parts.every((p) => p.index === ZERO), 'a new item is a page at most, a join of small blocks, or zeros')
      planned.push(...add(bytesOf(item.parts, blocks)))
    }
    assert.ok(bytesOf(planned, blocks).equals(next), `round ${round}: the plan holds the patched bytes`)
    parts = planned
    ref = next
  }

  const coarse = { blockSize: BS, page: BS, softSmall: 32 }
  const fine = { blockSize: BS, page: 4096, softSmall: 32 }
  // one byte into the middle of a file of whole blocks: its block is written again, the rest listed again
  const file = blockParts(Array.from({ length: 8 }, (_, i) => ({ index: 100 + i, byteLength: BS })))
  const one = patchParts(file, 8 * BS, 8 * BS, 8 * BS, [{ at: 3 * BS + 10, parts: [{ index: 200, skip: 0, length: 1, blockLength: 1 }] }])
  const items = planMap(one, coarse)!
  assert.deepEqual(items.map((x) => x.kind), ['block', 'block', 'block', 'new', 'block', 'block', 'block', 'block'])
  assert.equal(items[3].length, BS)
  // in pages: the block is written again as 16 pages; a later write of a page replaces one, writing nothing again
  const paged = planMap(one, fine)!
  assert.deepEqual(paged.map((x) => x.length), [BS, BS, BS, ...Array(16).fill(4096), BS, BS, BS, BS])
  let k = 300
  const pages = paged.map((x) => x.kind === 'block' ? { index: x.index, byteLength: x.length } : { index: k++, byteLength: x.length })
  const rewrite = patchParts(blockParts(pages), 8 * BS, 8 * BS, 8 * BS, [{ at: 3 * BS + 5 * 4096, parts: [{ index: 400, skip: 0, length: 4096, blockLength: 4096 }] }])
  const again = planMap(rewrite, fine)!
  assert.ok(again.every((x) => x.kind === 'block'), 'a page written over a page block: nothing written again')
  assert.equal(again.filter((x) => x.kind === 'block' && x.index === 400).length, 1)
  // an append lists only the new bytes, until small blocks pass the soft limit
  let log = blockParts([{ index: 1, byteLength: BS }])
  let size = BS
  for (let i = 0; i < 32; i++) {
    log = patchParts(log, size, size, size + 100, [{ at: size, parts: [{ index: 10 + i, skip: 0, length: 100, blockLength: 100 }] }])
    size += 100
    const plan = planMap(log, fine)!
    assert.ok(plan.every((x) => x.kind === 'block'), `append ${i}: nothing written again`)
  }
  log = patchParts(log, size, size, size + 100, [{ at: size, parts: [{ index: 99, skip: 0, length: 100, blockLength: 100 }] }])
  const compacted = planMap(log, fine)!
  assert.deepEqual(compacted.map((x) => x.kind), ['block', 'new'], 'past the soft limit the small blocks are joined')
  assert.equal(compacted[1].length, 3300)
  // zeros past the end: whole pages of them are one item
  const grown = planMap(patchParts(blockParts([{ index: 1, byteLength: 10 }]), 10, 10, 10 * BS, []), fine)!
  assert.deepEqual(grown.map((x) => [x.kind, x.length]), [['new', 4096], ['new', 10 * BS - 4096]])
  assert.equal(planMap([{ index: OLD_BYTES, skip: 0, length: 5, blockLength: 5 }], fine), null, 'old bytes not in blocks: the file is written whole')
  assert.deepEqual(cutParts([zeros(10)], 2, 5), [{ index: -1, skip: 2, length: 3, blockLength: 10 }])
})

// bytes a folder takes on disk (what du counts)
function diskUsage (dir: string): number {
  let n = 0
  for (const name of readdirSync(dir)) {
    const st = lstatSync(join(dir, name))
    n += st.blocks * 512
    if (st.isDirectory()) n += diskUsage(join(dir, name))
  }
  return n
}

async function blobOf (d: Drive, path: string): Promise<{ blockMap?: true, blockLength: number }> {
  const bee = new Hyperbee((d as unknown as { metadata: ConstructorParameters<typeof Hyperbee>[0] }).metadata)
  const e = await bee.get(Buffer.from('files\0' + path))
  return decodeEntry(e!.value).blob!
}

test('hyperdrive13: 20 one-byte writes into a 64 MiB file grow the storage by well under 4 MiB (a block and a map each), and read back right after a reopen', { timeout: 120_000 }, async (t) => {
  const dir = tmpDir(t)
  let store = DriveStore.directory(dir)
  const d = await store.create({ format: 'hyperdrive13' })
  const big = randomBuffer(prng(1), 64 * MiB)
  await d.writeFile('/big', big)
  const before = diskUsage(dir)
  const rand = prng(2)
  for (let i = 0; i < 20; i++) {
    const at = Math.floor(rand() * big.length)
    big[at] ^= 0x5a
    await d.patchFile!('/big', { keep: big.length, size: big.length, writes: [{ offset: at, length: 1, data: big.subarray(at, at + 1) }] })
  }
  const grew = diskUsage(dir) - before
  t.diagnostic(`20 one-byte writes into 64 MiB grew the storage by ${(grew / KiB).toFixed(0)} KiB`)
  assert.ok(grew < 4 * MiB, `${grew} bytes for 20 one-byte writes`)
  assert.equal((await blobOf(d, '/big')).blockMap, true)
  assert.equal((await d.stat('/big')).size, big.length)
  assert.ok((await d.read('/big')).equals(big))
  const key = d.key
  await store.close()
  store = DriveStore.directory(dir)
  t.after(() => store.close())
  const again = await store.open(key)
  assert.ok((await again.read('/big')).equals(big), 'the same bytes after a reopen')
  assert.ok((await again.read('/big', { start: 30 * MiB + 5, length: 3 * BS })).equals(big.subarray(30 * MiB + 5, 30 * MiB + 5 + 3 * BS)))
  // the zero-copy reader reads through the map
  const reader = await again.openReader!('/big')
  assert.ok(reader, 'a block-mapped file has a local reader')
  const local = Buffer.alloc(big.length)
  assert.equal(reader.readInto(local, 0, big.length), big.length)
  assert.ok(local.equals(big))
  const piece = Buffer.alloc(BS + 3)
  assert.equal(reader.readInto(piece, 7 * BS - 1, piece.length), piece.length)
  assert.ok(piece.equals(big.subarray(7 * BS - 1, 8 * BS + 2)))
})

test('hyperdrive13: random writes, truncates and appends read as a reference file, in every version, after a reopen', { timeout: 120_000 }, async (t) => {
  const dir = tmpDir(t)
  let store = DriveStore.directory(dir)
  const d = await store.create({ format: 'hyperdrive13' })
  const rand = prng(11)
  let ref = randomBuffer(rand, 5 * BS + 77)
  await d.writeFile('/r', ref, { mode: 0o755 })
  await d.setxattr('/r', 'tag', Buffer.from('kept'))
  const versions: Array<{ version: number, data: Buffer }> = []
  for (let i = 0; i < 60; i++) {
    const op = rand()
    if (op < 0.15) {
      const size = (rand() * 8 * BS) | 0
      await d.truncate('/r', size)
      ref = applyRef(ref, { keep: size, size, writes: [] })
    } else if (op < 0.4) {
      const data = randomBuffer(rand, 1 + ((rand() * 300) | 0))
      const patch = { keep: ref.length, size: ref.length + data.length, writes: [{ offset: ref.length, length: data.length, data }] }
      await d.patchFile!('/r', patch)
      ref = applyRef(ref, patch)
    } else {
      const writes: FilePatch['writes'] = []
      const size = rand() < 0.2 ? ref.length + ((rand() * BS) | 0) : ref.length
      for (let k = 0, n = 1 + ((rand() * 3) | 0); k < n && size > 0; k++) {
        const offset = (rand() * size) | 0
        const length = Math.min(size - offset, 1 + ((rand() * 1.5 * BS) | 0))
        writes.push({ offset, length, data: randomBuffer(rand, length) })
      }
      const patch = { keep: rand() < 0.1 ? (rand() * ref.length) | 0 : ref.length, size, writes }
      await d.patchFile!('/r', patch)
      ref = applyRef(ref, patch)
    }
    versions.push({ version: d.version, data: ref })
    if (i % 10 === 0) assert.ok((await d.read('/r')).equals(ref), `op ${i}`)
  }
  const st = await d.stat('/r')
  assert.equal(st.size, ref.length)
  assert.equal(st.mode & 0o777, 0o755, 'a patch keeps the mode')
  assert.equal((await d.getxattr('/r', 'tag'))?.toString(), 'kept', 'and the xattrs')
  const key = d.key
  await store.close()
  store = DriveStore.directory(dir)
  t.after(() => store.close())
  const again = await store.open(key)
  assert.ok((await again.read('/r')).equals(ref), 'the latest after a reopen')
  for (const v of versions) assert.ok((await again.checkout(v.version).read('/r')).equals(v.data), `version ${v.version}`)
  // ranges cross map entries of any size
  for (let i = 0; i < 50 && ref.length > 0; i++) {
    const start = (rand() * ref.length) | 0
    const length = Math.min(ref.length - start, (rand() * 3 * BS) | 0)
    assert.ok((await again.read('/r', { start, length })).equals(ref.subarray(start, start + length)), `[${start}, +${length})`)
  }
})

test('hyperdrive13: appends store their bytes (a plain blob while they follow each other), a truncate only its cut block', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create({ format: 'hyperdrive13' })
  const blobs = () => (d as unknown as { content: { byteLength: number } }).content.byteLength
  let ref = randomBuffer(prng(3), 2 * BS)
  await d.writeFile('/log', ref)
  let before = blobs()
  for (let i = 0; i < 10; i++) {
    const line = Buffer.alloc(100, 0x61 + i)
    await d.patchFile!('/log', { keep: ref.length, size: ref.length + 100, writes: [{ offset: ref.length, length: 100, data: line }] })
    ref = Buffer.concat([ref, line])
  }
  assert.equal(blobs() - before, 1000, 'each append stored its 100 bytes and nothing else')
  assert.equal((await blobOf(d, '/log')).blockMap, undefined, 'blocks that follow each other stay a plain blob')
  assert.ok((await d.read('/log')).equals(ref))

  await d.writeFile('/other', Buffer.from('between'))
  before = blobs()
  await d.patchFile!('/log', { keep: ref.length, size: ref.length + 5, writes: [{ offset: ref.length, length: 5, data: Buffer.from('tail!') }] })
  ref = Buffer.concat([ref, Buffer.from('tail!')])
  const mapped = await blobOf(d, '/log')
  assert.equal(mapped.blockMap, true, 'a block written elsewhere in between: a map')
  assert.ok(blobs() - before < 200, `an append after another file stored ${blobs() - before} bytes (5 and a map)`)
  assert.ok((await d.read('/log')).equals(ref))

  before = blobs()
  await d.truncate('/log', BS + 10)
  assert.ok(blobs() - before < 100, `a truncate stored ${blobs() - before} bytes (10 of a cut block and a map)`)
  assert.ok((await d.read('/log')).equals(ref.subarray(0, BS + 10)))
  before = blobs()
  await d.truncate('/log', 100 * BS)
  assert.ok(blobs() - before < 3 * BS, `a truncate up by 99 blocks stored ${blobs() - before} bytes (a block of zeros listed 98 times, the zeros after that, and a map)`)
  const grown = Buffer.alloc(100 * BS)
  ref.copy(grown, 0, 0, BS + 10)
  assert.ok((await d.read('/log')).equals(grown))
  await d.truncate('/log', 0)
  assert.equal((await d.stat('/log')).size, 0)
  assert.equal((await d.read('/log')).length, 0)
})
