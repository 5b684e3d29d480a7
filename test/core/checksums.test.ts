// The checksums sidecar (core/checksums.ts): a first read after open whose
// bytes match the CRC entry recorded from checked bytes is not hashed; any
// doubt (no entry, a damaged one, a stale one) falls back to hashing against
// the tree, which still decides, and writes the entry again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage, type StorageFile } from '../../src/core/storage.js'
import { CHECKSUM_ENTRY_SIZE } from '../../src/codec/core-storage.js'
import { isHyperfsError } from '../../src/errors.js'
import { connect } from '../helpers/replication.js'
import { tmpDir } from '../helpers/tmp.js'

const BLOCKS = 8
const SIZE = 1000

function blockData (i: number, seed = 0): Buffer {
  const b = Buffer.alloc(SIZE)
  for (let k = 0; k < SIZE; k++) b[k] = (i * 31 + k * 7 + seed * 13) & 0xff
  return b
}
const ALL = Array.from({ length: BLOCKS }, (_, i) => blockData(i))
const WHOLE = Buffer.concat(ALL)

function entry (bytes: Buffer): Buffer {
  const e = Buffer.alloc(CHECKSUM_ENTRY_SIZE)
  e.writeUInt32LE(crc32(bytes), 0)
  e.writeUInt32LE(bytes.byteLength + 1, 4)
  return e
}
const ENTRIES = Buffer.concat(ALL.map(entry))

async function file (storage: MemoryStorage, name: string): Promise<StorageFile> {
  return storage.open(name)
}

async function contents (storage: MemoryStorage, name: string): Promise<Buffer> {
  const f = await file(storage, name)
  return f.read(0, await f.size())
}

async function flip (storage: MemoryStorage, name: string, offset: number): Promise<void> {
  const f = await file(storage, name)
  const b = await f.read(offset, 1)
  b[0] ^= 0x40
  await f.write(offset, b)
}

async function reopen (storage: MemoryStorage | string): Promise<Hypercore> {
  const core = new Hypercore(storage)
  await core.ready()
  return core
}

async function writerOn (storage: MemoryStorage): Promise<void> {
  const core = new Hypercore(storage)
  await core.append(ALL)
  await core.close()
}

// every block through get() and the zero-copy read, checked against ALL
async function readAll (core: Hypercore): Promise<void> {
  for (let i = 0; i < BLOCKS; i++) assert.ok((await core.get(i))!.equals(ALL[i]), `get(${i})`)
  const target = Buffer.alloc(BLOCKS * SIZE)
  assert.equal(core.readBytesInto(0, target, 0, target.length, 0, BLOCKS), target.length)
  assert.ok(target.equals(WHOLE))
}

function noCorruption (core: Hypercore): Error[] {
  const logged: Error[] = []
  core.on('corrupt', (err) => logged.push(err))
  return logged
}

function isCorrupt (file: string, block: number) {
  return (err: unknown): boolean => isHyperfsError(err, 'STORAGE_CORRUPT') && err.message.includes(file) && err.message.includes(`block ${block}`)
}

test('an append records one entry per block: CRC-32 and length + 1, at block index × 8', async () => {
  const storage = new MemoryStorage()
  await writerOn(storage)
  assert.ok((await contents(storage, 'checksums')).equals(ENTRIES))
})

test('a first read after open whose bytes match their entries hashes no block, through get() and the zero-copy read', async (t) => {
  const storage = new MemoryStorage()
  await writerOn(storage)
  const core = await reopen(storage)
  t.after(() => core.close())
  const logged = noCorruption(core)
  const target = Buffer.alloc(3 * SIZE - 10)
  assert.equal(core.readBytesInto(2 * SIZE + 5, target, 0, target.length, 2, 5), target.length)
  assert.ok(target.equals(WHOLE.subarray(2 * SIZE + 5, 5 * SIZE - 5)))
  await readAll(core)
  assert.equal(core.localHashes, 0, 'every block was taken on its checksum entry')
  assert.deepEqual(logged, [])
})

test('a flipped byte in the sidecar: no error, the right bytes, and the entry is written again', async (t) => {
  const storage = new MemoryStorage()
  await writerOn(storage)
  await flip(storage, 'checksums', 3 * CHECKSUM_ENTRY_SIZE + 1) // block 3's CRC
  await flip(storage, 'checksums', 5 * CHECKSUM_ENTRY_SIZE + 4) // block 5's length
  await flip(storage, 'checksums', 6 * CHECKSUM_ENTRY_SIZE + 7) // block 6's length, high byte
  let core = await reopen(storage)
  const logged = noCorruption(core)
  await readAll(core)
  assert.equal(core.localHashes, 3, 'blocks 3, 5 and 6 were hashed against the tree')
  assert.deepEqual(logged, [])
  await core.close()
  assert.ok((await contents(storage, 'checksums')).equals(ENTRIES), 'the entries were repaired')

  core = await reopen(storage)
  t.after(() => core.close())
  await readAll(core)
  assert.equal(core.localHashes, 0)
})

test('a core stored without a sidecar (before there was one) reads right and fills it in', async (t) => {
  const dir = tmpDir(t)
  let core = new Hypercore(dir)
  await core.append(ALL)
  await core.close()
  rmSync(join(dir, 'checksums'))

  core = await reopen(dir)
  await readAll(core)
  assert.equal(core.localHashes, BLOCKS)
  await core.close()
  assert.ok(readFileSync(join(dir, 'checksums')).equals(ENTRIES))
  assert.equal(statSync(join(dir, 'checksums')).mode & 0o777, 0o600)

  core = await reopen(dir)
  t.after(() => core.close())
  await readAll(core)
  assert.equal(core.localHashes, 0)
})

test('a data byte flipped after its entry was recorded still fails with STORAGE_CORRUPT', async (t) => {
  const storage = new MemoryStorage()
  await writerOn(storage)
  await flip(storage, 'data', 3 * SIZE + 17)
  const core = await reopen(storage)
  t.after(() => core.close())
  await assert.rejects(core.get(3), isCorrupt('data', 3))
  const target = Buffer.alloc(3 * SIZE)
  assert.throws(() => core.readBytesInto(2 * SIZE, target, 0, target.length, 2, 5), isCorrupt('data', 3))
  assert.throws(() => core.readBytesInto(3 * SIZE + 900, target, 0, 200, 3, 5), isCorrupt('data', 3))
  // the other blocks went by their entries: only block 3 was hashed (each time it was read)
  assert.ok((await core.get(2))!.equals(ALL[2]))
  assert.equal(core.readBytesInto(4 * SIZE, target, 0, 2 * SIZE, 4, 6), 2 * SIZE)
  assert.equal(core.localHashes, 3)
  assert.deepEqual((await core.verify()).corrupt.map((c) => c.index), [3])
  assert.ok((await contents(storage, 'checksums')).equals(ENTRIES), 'the damaged block\'s entry still names its right bytes')
})

test('a kill between a block\'s bytes and its entry (entries missing or zeroed): reads right, and the entries are written again', async (t) => {
  const storage = new MemoryStorage()
  await writerOn(storage)
  const sums = await file(storage, 'checksums')
  await sums.truncate(4 * CHECKSUM_ENTRY_SIZE) // entries 4.. never written
  await sums.write(1 * CHECKSUM_ENTRY_SIZE, Buffer.alloc(CHECKSUM_ENTRY_SIZE)) // entry 1 zeroed
  let core = await reopen(storage)
  const logged = noCorruption(core)
  await readAll(core)
  assert.equal(core.localHashes, 5)
  assert.deepEqual(logged, [])
  await core.close()
  assert.ok((await contents(storage, 'checksums')).equals(ENTRIES))
  core = await reopen(storage)
  t.after(() => core.close())
  await readAll(core)
  assert.equal(core.localHashes, 0)
})

test('a truncation cuts the entries past it first: old bytes left where new ones never landed are not taken on an old entry', async (t) => {
  const storage = new MemoryStorage()
  await writerOn(storage)
  let core = await reopen(storage)
  await core.truncate(4)
  assert.ok((await contents(storage, 'checksums')).equals(ENTRIES.subarray(0, 4 * CHECKSUM_ENTRY_SIZE)))
  const afterTruncate = await contents(storage, 'checksums')
  // new blocks 4..7, as long as the old ones
  await core.append(Array.from({ length: 4 }, (_, i) => blockData(4 + i, 1)))
  await core.close()
  // a kill after the append's data but before its entries, and the new
  // bytes of block 5 lost: the old ones are still there
  const sums = await file(storage, 'checksums')
  await sums.truncate(0)
  await sums.write(0, afterTruncate)
  await (await file(storage, 'data')).write(5 * SIZE, ALL[5])

  core = await reopen(storage)
  t.after(() => core.close())
  assert.ok((await core.get(4))!.equals(blockData(4, 1)))
  await assert.rejects(core.get(5), isCorrupt('data', 5))
  const target = Buffer.alloc(SIZE)
  assert.throws(() => core.readBytesInto(5 * SIZE, target, 0, SIZE, 5, 6), isCorrupt('data', 5))
})

test('clear() zeroes the entries of the blocks it drops before punching them; a block fetched again from a peer records its own', async (t) => {
  const storage = new MemoryStorage()
  await writerOn(storage) // entries on disk
  const w = await reopen(storage)
  t.after(() => w.close())
  const r = new Hypercore(new MemoryStorage(), w.key!)
  t.after(() => r.close())
  connect(t, w, r)
  await r.update()
  await r.download({ start: 0, end: BLOCKS })

  const sums = await file(storage, 'checksums')
  let zeroedBeforePunch = false
  const data = await file(storage, 'data')
  const punch = data.punch.bind(data)
  data.punch = async (offset, length) => {
    const at = await sums.read(2 * CHECKSUM_ENTRY_SIZE, 3 * CHECKSUM_ENTRY_SIZE)
    zeroedBeforePunch = at.equals(Buffer.alloc(3 * CHECKSUM_ENTRY_SIZE))
    return punch(offset, length)
  }
  await w.clear(2, 5)
  assert.ok(zeroedBeforePunch, 'the entries of blocks 2..4 were zero when the punch came')
  const after = await contents(storage, 'checksums')
  assert.ok(after.subarray(0, 2 * CHECKSUM_ENTRY_SIZE).equals(ENTRIES.subarray(0, 2 * CHECKSUM_ENTRY_SIZE)))
  assert.ok(after.subarray(5 * CHECKSUM_ENTRY_SIZE).equals(ENTRIES.subarray(5 * CHECKSUM_ENTRY_SIZE)))

  for (let i = 2; i < 5; i++) assert.ok((await w.get(i, { timeout: 5000 }))!.equals(ALL[i]), `block ${i} from the peer`)
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok((await contents(storage, 'checksums')).equals(ENTRIES), 'the fetched blocks recorded their entries')
})

test('a replica records entries from verified proofs, and reads them back unhashed after a reopen', async (t) => {
  const writer = new Hypercore(new MemoryStorage())
  await writer.append(ALL)
  t.after(() => writer.close())
  const storage = new MemoryStorage()
  let replica = new Hypercore(storage, writer.key!)
  const link = connect(t, writer, replica)
  await replica.update()
  await replica.download({ start: 0, end: BLOCKS })
  link.a.destroy()
  await replica.close()
  assert.ok((await contents(storage, 'checksums')).equals(ENTRIES))
  replica = new Hypercore(storage, writer.key!)
  await replica.ready()
  t.after(() => replica.close())
  await readAll(replica)
  assert.equal(replica.localHashes, 0)
})

test('a block served to a peer is hashed against the tree even when its entry matches', async (t) => {
  const storage = new MemoryStorage()
  await writerOn(storage)
  const writer = await reopen(storage)
  t.after(() => writer.close())
  await readAll(writer)
  assert.equal(writer.localHashes, 0)
  const replica = new Hypercore(new MemoryStorage(), writer.key!)
  t.after(() => replica.close())
  connect(t, writer, replica)
  await replica.update()
  await replica.download({ start: 0, end: BLOCKS })
  assert.equal(writer.localHashes, BLOCKS)
  for (let i = 0; i < BLOCKS; i++) assert.ok((await replica.get(i))!.equals(ALL[i]))
})

test('verify hashes every block whatever the entries say, and rewrites a damaged entry', async (t) => {
  const storage = new MemoryStorage()
  await writerOn(storage)
  await flip(storage, 'checksums', 2 * CHECKSUM_ENTRY_SIZE)
  await flip(storage, 'data', 6 * SIZE + 3)
  const core = await reopen(storage)
  t.after(() => core.close())
  const report = await core.verify()
  assert.equal(report.checked, BLOCKS)
  assert.deepEqual(report.corrupt.map((c) => c.index), [6])
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok((await contents(storage, 'checksums')).equals(ENTRIES))
})

test('a sidecar that cannot be read counts as no entries: reads hash and give the right bytes', async (t) => {
  const dir = tmpDir(t)
  let core = new Hypercore(dir)
  await core.append(ALL)
  await core.close()
  // garbage of another length: a torn write, a file from somewhere else
  writeFileSync(join(dir, 'checksums'), Buffer.alloc(5 * CHECKSUM_ENTRY_SIZE + 3, 0xff))
  core = await reopen(dir)
  t.after(() => core.close())
  const logged = noCorruption(core)
  await readAll(core)
  assert.equal(core.localHashes, BLOCKS)
  assert.deepEqual(logged, [])
})

test('every single-byte flip of the sidecar: reads give the right bytes without an error, and hash only the block whose entry it hit', async () => {
  const pristine = new MemoryStorage()
  await writerOn(pristine)
  const names = ['header', 'state', 'tree', 'data', 'bitfield', 'checksums']
  const copies = new Map<string, Buffer>()
  for (const name of names) copies.set(name, await contents(pristine, name))
  for (let offset = 0; offset < BLOCKS * CHECKSUM_ENTRY_SIZE; offset++) {
    const storage = new MemoryStorage()
    for (const [name, bytes] of copies) await (await file(storage, name)).write(0, bytes)
    await flip(storage, 'checksums', offset)
    const core = await reopen(storage)
    const logged = noCorruption(core)
    await readAll(core)
    assert.equal(core.localHashes, 1, `a flip at ${offset}`)
    assert.deepEqual(logged, [])
    await core.close()
    assert.ok((await contents(storage, 'checksums')).equals(ENTRIES), `repaired after a flip at ${offset}`)
  }
})
