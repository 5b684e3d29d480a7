// Local reads are checked against the tree: a flipped byte in a core's data or
// tree file never comes back as data. A writer fails the read with
// STORAGE_CORRUPT naming the file and the block; a replica drops the block and
// fetches it again from a peer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage, type StorageFile } from '../../src/core/storage.js'
import { TREE_RECORD_SIZE } from '../../src/codec/core-storage.js'
import * as flat from '../../src/core/flat-tree.js'
import { isHyperfsError } from '../../src/errors.js'
import { connect } from '../helpers/replication.js'
import { SpyStorage } from '../helpers/spy-storage.js'

const BLOCKS = 8
const SIZE = 1000

function blockData (i: number): Buffer {
  const b = Buffer.alloc(SIZE)
  for (let k = 0; k < SIZE; k++) b[k] = (i * 31 + k * 7) & 0xff
  return b
}
const ALL = Array.from({ length: BLOCKS }, (_, i) => blockData(i))
const WHOLE = Buffer.concat(ALL)

async function flip (storage: MemoryStorage, name: string, offset: number): Promise<void> {
  const f: StorageFile = await storage.open(name)
  const b = await f.read(offset, 1)
  b[0] ^= 0x40
  await f.write(offset, b)
}

function isCorrupt (file: string, block: number | null) {
  return (err: unknown): boolean => isHyperfsError(err, 'STORAGE_CORRUPT') && err.message.includes(file) &&
    (block === null || err.message.includes(`block ${block}`))
}

async function writerOn (storage: MemoryStorage): Promise<Hypercore> {
  const core = new Hypercore(storage)
  await core.append(ALL)
  await core.close()
  const again = new Hypercore(storage)
  await again.ready()
  return again
}

// Reads every block with get() and as one zero-copy range, and checks each
// answer is either the right bytes or STORAGE_CORRUPT, never anything else.
async function readsNeverLie (core: Hypercore): Promise<number> {
  let failed = 0
  for (let i = 0; i < BLOCKS; i++) {
    try {
      const b = await core.get(i)
      assert.ok(b!.equals(ALL[i]), `get(${i}) returned wrong bytes`)
    } catch (err) {
      assert.ok(isHyperfsError(err, 'STORAGE_CORRUPT'), String(err))
      failed++
    }
  }
  for (const [from, to] of [[0, BLOCKS], [1, 3], [5, 6]]) {
    const target = Buffer.alloc((to - from) * SIZE - 10)
    try {
      const n = core.readBytesInto(from * SIZE + 5, target, 0, target.length, from, to)
      assert.equal(n, target.length)
      assert.ok(target.equals(WHOLE.subarray(from * SIZE + 5, from * SIZE + 5 + target.length)), `readBytesInto [${from}, ${to}) returned wrong bytes`)
    } catch (err) {
      assert.ok(isHyperfsError(err, 'STORAGE_CORRUPT'), String(err))
      failed++
    }
  }
  return failed
}

test('a writer: a flipped data byte fails get() and the zero-copy read with STORAGE_CORRUPT naming the file and block, and is logged', async (t) => {
  const storage = new MemoryStorage()
  const core = await writerOn(storage)
  t.after(() => core.close())
  const logged: Error[] = []
  core.on('corrupt', (err) => logged.push(err))
  await flip(storage, 'data', 3 * SIZE + 17)

  await assert.rejects(core.get(3), isCorrupt('data', 3))
  assert.ok((await core.get(2))!.equals(ALL[2]))
  const target = Buffer.alloc(3 * SIZE)
  assert.throws(() => core.readBytesInto(2 * SIZE, target, 0, 3 * SIZE, 2, 5), isCorrupt('data', 3))
  // a range that cuts the damaged block at its edge is checked too
  assert.throws(() => core.readBytesInto(3 * SIZE + 900, target, 0, 200, 3, 5), isCorrupt('data', 3))
  assert.equal(core.readBytesInto(4 * SIZE, target, 0, 2 * SIZE, 4, 6), 2 * SIZE)
  assert.ok(target.subarray(0, 2 * SIZE).equals(WHOLE.subarray(4 * SIZE, 6 * SIZE)))
  assert.ok(logged.length >= 2 && logged.every(isCorrupt('data', 3)))

  const report = await core.verify()
  assert.equal(report.checked, BLOCKS)
  assert.deepEqual(report.corrupt.map((c) => c.index), [3])
  assert.ok(core.has(3), 'a writer keeps the block: there is nowhere to fetch it from')
})

test('a writer: a flipped byte in a tree node above the leaves fails the reads of the blocks below it', async (t) => {
  const storage = new MemoryStorage()
  const core = await writerOn(storage)
  t.after(() => core.close())
  // node 9 is the parent of blocks 4 and 5 (leaves 8 and 10), and the sibling
  // on the path of blocks 6 and 7 up to the root, 7
  await flip(storage, 'tree', 9 * TREE_RECORD_SIZE + 2)
  await assert.rejects(core.get(4), isCorrupt('tree', 4))
  await assert.rejects(core.get(5), isCorrupt('tree', 5))
  await assert.rejects(core.get(6), isCorrupt('tree', 6))
  assert.ok((await core.get(3))!.equals(ALL[3]))
  const target = Buffer.alloc(SIZE)
  assert.throws(() => core.readBytesInto(7 * SIZE, target, 0, SIZE, 7, 8), isCorrupt('tree', 7))
  const report = await core.verify()
  assert.deepEqual(report.corrupt.map((c) => c.index), [4, 5, 6, 7])
})

test('every single-byte flip of a core\'s tree file: reads give the right bytes or STORAGE_CORRUPT, and verify finds what reads find', async () => {
  const pristine = new MemoryStorage()
  const built = new Hypercore(pristine)
  await built.append(ALL)
  await built.close()
  const files = ['header', 'state', 'tree', 'data', 'bitfield']
  const copies = new Map<string, Buffer>()
  for (const name of files) { const f = await pristine.open(name); copies.set(name, await f.read(0, await f.size())) }
  const roots = new Set(flat.fullRoots(2 * BLOCKS))
  const treeSize = copies.get('tree')!.byteLength
  let detected = 0
  for (let offset = 0; offset < treeSize; offset++) {
    const storage = new MemoryStorage()
    for (const [name, bytes] of copies) await (await storage.open(name)).write(0, bytes)
    await flip(storage, 'tree', offset)
    const core = new Hypercore(storage)
    const node = Math.floor(offset / TREE_RECORD_SIZE)
    try {
      await core.ready()
    } catch (err) {
      assert.ok(isHyperfsError(err, 'STORAGE_CORRUPT'), String(err))
      assert.ok(roots.has(node), `only a damaged root stops the core from opening (node ${node})`)
      await core.close()
      continue
    }
    const failed = await readsNeverLie(core)
    const report = await core.verify()
    const field = offset % TREE_RECORD_SIZE
    if (field < 40 && !roots.has(node)) {
      // hash or size of a node on the path of some block
      assert.ok(failed > 0, `a flip in node ${node} at ${field} was read without error`)
      assert.ok(report.corrupt.length > 0, `verify missed a flip in node ${node} at ${field}`)
      detected++
    }
    await core.close()
  }
  assert.equal(detected, (2 * BLOCKS - 1 - roots.size) * 40)
})

test('a replica drops a block whose local copy is damaged, fetches it again and returns the right bytes', async (t) => {
  const writer = new Hypercore(new MemoryStorage())
  await writer.append(ALL)
  t.after(() => writer.close())
  const storage = new MemoryStorage()
  const replica = new Hypercore(storage, writer.key)
  t.after(() => replica.close())
  connect(t, writer, replica)
  await replica.update()
  await replica.download({ start: 0, end: BLOCKS })
  assert.equal(replica.contiguousLength, BLOCKS)

  const logged: Error[] = []
  replica.on('corrupt', (err) => logged.push(err))
  await flip(storage, 'data', 6 * SIZE + 1)
  const target = Buffer.alloc(2 * SIZE)
  assert.equal(replica.readBytesInto(5 * SIZE, target, 0, 2 * SIZE, 5, 7), null, 'the zero-copy read gives up on it')
  assert.equal(replica.has(6), false, 'dropped, and no longer offered to peers')
  assert.equal(replica.contiguousLength, 6)
  assert.ok(logged.some(isCorrupt('data', 6)))
  assert.ok((await replica.get(6, { timeout: 5000 }))!.equals(ALL[6]), 'fetched again from the writer')
  assert.equal(replica.readBytesInto(5 * SIZE, target, 0, 2 * SIZE, 5, 7), 2 * SIZE)
  assert.ok(target.equals(WHOLE.subarray(5 * SIZE, 7 * SIZE)))
  assert.equal(replica.peers, 1, 'the writer was not blamed for our damage')
})

test('a replica whose tree file is damaged drops the blocks below the damage and fetches blocks and nodes again', async (t) => {
  const writer = new Hypercore(new MemoryStorage())
  await writer.append(ALL)
  t.after(() => writer.close())
  const storage = new MemoryStorage()
  const first = new Hypercore(storage, writer.key)
  const streams = connect(t, writer, first)
  await first.update()
  await first.download({ start: 0, end: BLOCKS })
  streams.a.destroy()
  await first.close()

  // the parent of blocks 0 and 1 (node 1) and the leaf of block 6 (node 12)
  await flip(storage, 'tree', 1 * TREE_RECORD_SIZE + 5)
  await flip(storage, 'tree', 12 * TREE_RECORD_SIZE + 30)
  const replica = new Hypercore(storage, writer.key)
  t.after(() => replica.close())
  await replica.ready()
  const logged: Error[] = []
  replica.on('corrupt', (err) => logged.push(err))
  connect(t, writer, replica)
  for (let i = 0; i < BLOCKS; i++) assert.ok((await replica.get(i, { timeout: 5000 }))!.equals(ALL[i]), `block ${i}`)
  assert.ok(logged.some(isCorrupt('tree', 0)) || logged.some(isCorrupt('tree', 1)))
  assert.ok(logged.some(isCorrupt('tree', 6)))
  const report = await replica.verify()
  assert.equal(report.checked, BLOCKS)
  assert.deepEqual(report.corrupt, [], 'the nodes fetched again replaced the damaged ones')
  assert.equal(replica.peers, 1)
})

test('verify on a replica reports damaged blocks and drops them; they come back from a peer', async (t) => {
  const writer = new Hypercore(new MemoryStorage())
  await writer.append(ALL)
  t.after(() => writer.close())
  const storage = new MemoryStorage()
  const replica = new Hypercore(storage, writer.key)
  t.after(() => replica.close())
  connect(t, writer, replica)
  await replica.update()
  await replica.download({ start: 0, end: BLOCKS })
  await flip(storage, 'data', 2 * SIZE)
  await flip(storage, 'data', 7 * SIZE + SIZE - 1)
  const report = await replica.verify()
  assert.equal(report.checked, BLOCKS)
  assert.deepEqual(report.corrupt.map((c) => c.index), [2, 7])
  assert.ok(report.corrupt.every((c) => isCorrupt('data', c.index)(c.error)))
  assert.equal(replica.has(2), false)
  await replica.download({ start: 0, end: BLOCKS })
  assert.deepEqual((await replica.verify()).corrupt, [])
  assert.ok((await replica.get(7))!.equals(ALL[7]))
})

const ORDERED_BLOCKS = 1024
const RUN = 16 // blocks per zero-copy read, as a drive reads 1 MiB of 64 KiB blocks

// A core of ORDERED_BLOCKS blocks of about `size` bytes, written and closed.
async function orderedCore (size: number): Promise<{ storage: MemoryStorage, blocks: Buffer[] }> {
  const storage = new MemoryStorage()
  const blocks = Array.from({ length: ORDERED_BLOCKS }, (_, i) => Buffer.alloc(size + (i % 7), i & 0xff))
  const writer = new Hypercore(storage)
  await writer.append(blocks)
  await writer.close()
  return { storage, blocks }
}

test('a first read in order after open reads the tree file about once per run of blocks, not per block or per tree level', async (t) => {
  const { storage, blocks } = await orderedCore(100)
  const bound = ORDERED_BLOCKS / RUN + Math.log2(ORDERED_BLOCKS)

  for (const how of ['zero-copy', 'get']) {
    const spy = new SpyStorage(storage)
    const core = new Hypercore(spy)
    await core.ready()
    t.after(() => core.close())
    const opened = spy.readsOf('tree')
    let offset = 0
    for (let i = 0; i < ORDERED_BLOCKS; i += RUN) {
      if (how === 'get') {
        for (let k = i; k < i + RUN; k++) assert.ok((await core.get(k))!.equals(blocks[k]), `get(${k})`)
        continue
      }
      const want = Buffer.concat(blocks.slice(i, i + RUN))
      const target = Buffer.alloc(want.byteLength)
      assert.equal(core.readBytesInto(offset, target, 0, target.length, i, i + RUN), target.length)
      assert.ok(target.equals(want), `blocks [${i}, ${i + RUN})`)
      offset += want.byteLength
    }
    const reads = spy.readsOf('tree') - opened
    assert.ok(reads <= bound, `${how}: ${reads} reads of the tree file for ${ORDERED_BLOCKS} blocks (at most ${bound})`)
    assert.equal(core.localHashes, 0, 'every block matched its checksum entry')
    await core.close()
  }
})

test('a writer reads back what it appended in this open without hashing the tree again, and still checks the bytes in the data file', async (t) => {
  const storage = new MemoryStorage()
  const core = new Hypercore(storage)
  t.after(() => core.close())
  await core.append(ALL.slice(0, 5))
  await core.append(ALL.slice(5))
  const target = Buffer.alloc(WHOLE.byteLength)
  assert.equal(core.readBytesInto(0, target, 0, target.length, 0, BLOCKS), target.length)
  assert.ok(target.equals(WHOLE))
  assert.equal(core.localParentHashes, 0, 'its own leaves and parents were computed here, from the bytes it wrote')
  assert.equal(core.localHashes, 0, 'and the bytes matched their checksum entries')

  // the same core after a reopen proves its leaves again, up to the signed roots
  await core.close()
  const again = new Hypercore(storage)
  t.after(() => again.close())
  await again.ready()
  assert.equal(again.readBytesInto(0, target, 0, target.length, 0, BLOCKS), target.length)
  assert.ok(again.localParentHashes > 0, 'a reopened core climbs from the leaves it reads')

  // a byte flipped in the data file after the append, in the same open: the
  // first read of that block still fails
  const other = new MemoryStorage()
  const writer = new Hypercore(other)
  t.after(() => writer.close())
  await writer.append(ALL)
  await flip(other, 'data', 3 * SIZE + 7)
  await assert.rejects(writer.get(3), isCorrupt('data', 3))
  assert.throws(() => writer.readBytesInto(2 * SIZE, Buffer.alloc(2 * SIZE), 0, 2 * SIZE, 2, 4), isCorrupt('data', 3))
  assert.ok((await writer.get(4))!.equals(ALL[4]))
})

test('a first read out of order after open hashes each parent once and reads the tree file about once per window of blocks', async (t) => {
  const { storage, blocks } = await orderedCore(50)
  const spy = new SpyStorage(storage)
  const core = new Hypercore(spy)
  t.after(() => core.close())
  await core.ready()
  const opened = spy.readsOf('tree')
  // a listing's order: scattered, and never the next block
  const order = Array.from({ length: ORDERED_BLOCKS }, (_, i) => (i * 389) % ORDERED_BLOCKS)
  for (const i of order) assert.ok((await core.get(i))!.equals(blocks[i]), `get(${i})`)
  // a tree of 1024 leaves has 1023 parents; a parent proven from one child proves the other
  assert.ok(core.localParentHashes <= ORDERED_BLOCKS - 1, `${core.localParentHashes} parents hashed`)
  const reads = spy.readsOf('tree') - opened
  assert.ok(reads <= 2 * ORDERED_BLOCKS / 128, `${reads} reads of the tree file for ${ORDERED_BLOCKS} blocks out of order`)
  assert.equal(core.localHashes, 0)
})
