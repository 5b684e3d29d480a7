// hyperdrive13 files changed in part (block maps, src/drive/block-map.ts) are
// read by the real hyperdrive@13 on corestore@7 over a replication stream,
// byte for byte: random writes, truncates and appends against a reference
// file, every version, and ranges that start and end inside map entries.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { FilePatch } from '../../src/drive/types.js'
import { BLOB_BLOCK_SIZE } from '../../src/drive/hyperdrive13.js'
import { prng, randomBuffer, tmpDir } from '../helpers/tmp.js'
import { oracle } from '../helpers/oracle.js'

const RealHyperdrive = oracle('hyperdrive')
const Corestore = oracle('corestore')
const MAX_WAIT_MS = 10_000
const BS = BLOB_BLOCK_SIZE

function pipe (t: TestContext, a: any, b: any): void {
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
}

function applyRef (ref: Buffer, p: FilePatch): Buffer {
  const out = Buffer.alloc(p.size)
  ref.copy(out, 0, 0, Math.min(p.keep, ref.length, p.size))
  for (const w of p.writes) (w.data as Buffer).copy(out, w.offset)
  return out
}

async function readStream (s: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = []
  for await (const c of s) out.push(c)
  return Buffer.concat(out)
}

test('the real hyperdrive@13 reads a hyperdrive13 file we patched (block maps) byte for byte, in every version and in ranges', { timeout: 120_000 }, async (t) => {
  const ours = DriveStore.memory()
  t.after(() => ours.close())
  const d = await ours.create({ format: 'hyperdrive13' })
  const rand = prng(17)
  let ref = randomBuffer(rand, 3 * 1024 * 1024 + 123)
  await d.writeFile('/f.bin', ref)
  await d.writeFile('/log', Buffer.from('start\n'))
  let log = Buffer.from('start\n')
  const versions: Array<{ version: number, data: Buffer, log: Buffer }> = []
  for (let i = 0; i < 40; i++) {
    const op = rand()
    let patch: FilePatch
    if (op < 0.15) {
      const size = (rand() * 4 * 1024 * 1024) | 0
      patch = { keep: size, size, writes: [] }
    } else if (op < 0.35) {
      const data = randomBuffer(rand, 1 + ((rand() * 5000) | 0))
      patch = { keep: ref.length, size: ref.length + data.length, writes: [{ offset: ref.length, length: data.length, data }] }
    } else {
      const size = ref.length
      const writes: FilePatch['writes'] = []
      for (let k = 0, n = 1 + ((rand() * 4) | 0); k < n && size > 0; k++) {
        const offset = (rand() * size) | 0
        const length = Math.min(size - offset, 1 + ((rand() * 2 * BS) | 0))
        writes.push({ offset, length, data: randomBuffer(rand, length) })
      }
      patch = { keep: size, size, writes }
    }
    await d.patchFile!('/f.bin', patch)
    ref = applyRef(ref, patch)
    // a log appended to between the big file's changes
    const line = Buffer.from(`line ${i}\n`)
    await d.patchFile!('/log', { keep: log.length, size: log.length + line.length, writes: [{ offset: log.length, length: line.length, data: line }] })
    log = Buffer.concat([log, line])
    versions.push({ version: d.version, data: ref, log })
  }
  assert.ok((await d.read('/f.bin')).equals(ref), 'ours reads the reference')

  const store = new Corestore(tmpDir(t))
  t.after(() => store.close())
  pipe(t, ours.replicate(true), store.replicate(false))
  const r = new RealHyperdrive(store, d.key)
  await r.ready()
  t.after(() => r.close())
  await r.update({ wait: true })
  assert.equal(r.version, d.version)
  const entry = await r.entry('/f.bin')
  assert.equal(entry.value.blob.blockMap, true, 'the file is a block map now')
  assert.equal(await (await r.getBlobs()).getByteLength(entry.value.blob), ref.length, 'its size is the sum of the map')

  const got = await r.get('/f.bin', { wait: true, timeout: MAX_WAIT_MS })
  assert.ok(got && got.equals(ref), 'the real reader reads the latest byte for byte')
  assert.ok((await r.get('/log', { wait: true, timeout: MAX_WAIT_MS })).equals(log))
  for (let i = 0; i < 30; i++) {
    const start = (rand() * ref.length) | 0
    const end = Math.min(ref.length - 1, start + ((rand() * 3 * BS) | 0))
    const part = await readStream(r.createReadStream('/f.bin', { start, end, wait: true, timeout: MAX_WAIT_MS }))
    assert.ok(part.equals(ref.subarray(start, end + 1)), `range [${start}, ${end}]`)
  }
  for (const v of versions.filter((_, i) => i % 5 === 4)) {
    const c = r.checkout(v.version)
    const old = await c.get('/f.bin', { wait: true, timeout: MAX_WAIT_MS })
    assert.ok(old && old.equals(v.data), `version ${v.version} of /f.bin`)
    assert.ok((await c.get('/log', { wait: true, timeout: MAX_WAIT_MS })).equals(v.log), `version ${v.version} of /log`)
  }
})
