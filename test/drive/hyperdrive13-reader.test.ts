// openReader on the hyperdrive13 format: local bytes copied straight into a
// caller's buffer, blocks of any size located through the blobs core's tree,
// and never another file's bytes for an entry whose blob id lies.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { DriveStore } from '../../src/drive/drive-store.js'
import { Hyperbee } from '../../src/bee/hyperbee.js'
import { encodeEntry, fileKey } from '../../src/drive/drive13-entry.js'

async function * pieces (data: Buffer, sizes: number[]): AsyncIterable<Buffer> {
  let pos = 0
  for (let i = 0; pos < data.length; i++) {
    const n = sizes[i % sizes.length]
    yield data.subarray(pos, pos + n)
    pos += n
  }
}

test('hyperdrive13 openReader copies local bytes at any offset, over blocks of 64 KiB and of any size', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const drive = await store.create({ format: 'hyperdrive13' })
  await drive.writeFile('/before.bin', Buffer.from('something before'))
  const even = randomBytes(300 * 1024 + 17)
  await drive.writeFile('/even.bin', even)
  // blocks of odd sizes, as the real hyperdrive's write stream appends them
  // (one per write): put straight into the blobs core and the bee
  const odd = randomBytes(250_000)
  const blobs = drive.content!
  const blob = { blockOffset: blobs.length, byteOffset: blobs.byteLength, blockLength: 0, byteLength: odd.length }
  for await (const piece of pieces(odd, [10, 100_000, 3, 70_000, 1])) { await blobs.append(piece); blob.blockLength++ }
  await new Hyperbee(drive.metadata).put(fileKey(['odd.bin']), encodeEntry({ executable: false, linkname: null, blob, metadata: null }))
  const target = Buffer.alloc(100_000)
  for (const [path, data] of [['/even.bin', even], ['/odd.bin', odd]] as const) {
    const r = (await drive.openReader(path))!
    assert.ok(r, `a reader for ${path}`)
    assert.equal(r.size, data.length)
    for (const pos of [0, 1, 9, 10, 11, 65535, 65536, 100_012, 100_013, 170_013, 200_000, data.length - 10]) {
      const n = r.readInto(target, pos, target.length)!
      assert.equal(n, Math.min(target.length, data.length - pos), `${path} at ${pos}`)
      assert.ok(target.subarray(0, n).equals(data.subarray(pos, pos + n)), `${path} at ${pos}`)
    }
    assert.equal(r.readInto(target, data.length, 10), 0)
  }
})

test('on a hyperdrive13 replica openReader answers null until the blocks are local', async (t) => {
  const a = DriveStore.memory()
  const b = DriveStore.memory({ timeout: 5000 })
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  t.after(async () => { s1.destroy(); s2.destroy(); await b.close(); await a.close() })
  const drive = await a.create({ format: 'hyperdrive13' })
  const data = randomBytes(200 * 1024)
  await drive.writeFile('/f.bin', data)
  const remote = await b.open(drive.key)
  await remote.metadata.update()
  const r = (await remote.openReader('/f.bin'))!
  const target = Buffer.alloc(4096)
  assert.equal(r.readInto(target, 0, 4096), null, 'no block is here yet')
  await remote.read('/f.bin', { start: 0, length: 10 }) // block 0 and its tree nodes arrive
  assert.equal(r.readInto(target, 150 * 1024, 4096), null, 'block 2 is not here yet')
  assert.equal(r.readInto(target, 0, 4096), 4096)
  assert.ok(target.equals(data.subarray(0, 4096)))
  await remote.read('/f.bin', { start: 150 * 1024, length: 10 })
  assert.equal(r.readInto(target, 150 * 1024, 4096), 4096)
  assert.ok(target.equals(data.subarray(150 * 1024, 150 * 1024 + 4096)))
})

test('a hyperdrive13 entry whose blob id disagrees with the blobs core\'s tree gets no local reads, never other bytes', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const drive = await store.create({ format: 'hyperdrive13' })
  await drive.writeFile('/a.bin', Buffer.alloc(1000, 0x61))
  await drive.writeFile('/b.bin', Buffer.alloc(1000, 0x62))
  // a writer that runs its own code puts entries straight into the bee
  const bee = new Hyperbee(drive.metadata)
  const put = (name: string, blob: { blockOffset: number, byteOffset: number, blockLength: number, byteLength: number }) =>
    bee.put(fileKey([name]), encodeEntry({ executable: false, linkname: null, blob, metadata: null }))
  // block 1 (b's) named with a's byte offset: a's bytes if believed
  await put('shifted', { blockOffset: 1, byteOffset: 0, blockLength: 1, byteLength: 1000 })
  // a's block, its bytes said to run on into b's
  await put('long', { blockOffset: 0, byteOffset: 0, blockLength: 1, byteLength: 2000 })
  // past the end of the blobs core
  await put('past', { blockOffset: 5, byteOffset: 2000, blockLength: 1, byteLength: 1000 })
  const target = Buffer.alloc(100)
  for (const name of ['shifted', 'long', 'past']) {
    const r = await drive.openReader('/' + name)
    assert.equal(r?.readInto(target, 0, 100) ?? null, null, name)
  }
  const good = (await drive.openReader('/b.bin'))!
  assert.equal(good.readInto(target, 900, 100), 100)
  assert.ok(target.equals(Buffer.alloc(100, 0x62)))
})

test('hyperdrive13 reads and streams of local bytes come from the data file in chunks, not block by block', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const drive = await store.create({ format: 'hyperdrive13' })
  const data = randomBytes(3 * 1024 * 1024 + 5)
  await drive.writeFile('/f.bin', data)
  const blobs = drive.content!
  let gets = 0
  const get = blobs.get.bind(blobs)
  blobs.get = ((...args: Parameters<typeof get>) => { gets++; return get(...args) }) as typeof get
  assert.ok((await drive.read('/f.bin')).equals(data))
  assert.ok((await drive.read('/f.bin', { start: 100_000, length: 2_000_000 })).equals(data.subarray(100_000, 2_100_000)))
  const streamed: Buffer[] = []
  for await (const c of drive.createReadStream('/f.bin', { start: 7, end: 1_500_000 })) streamed.push(c)
  assert.ok(Buffer.concat(streamed).equals(data.subarray(7, 1_500_001)))
  assert.equal(gets, 0)
})
