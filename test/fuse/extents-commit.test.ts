// The FUSE commit path over a drive of extents (the Hypertrie format): a file
// opened for writing commits only the byte ranges written since it was loaded
// or last committed, so a 1-byte write or a short append stores that much, and
// the drive ends up with the same bytes as a reference file through any mix of
// writes, truncates and appends, after a reopen and on a replica.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Drive } from '../../src/drive/types.js'
import { DriveFilesystem } from '../../src/fuse/drive-filesystem.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'
import { ReplicaEnv } from '../drive/kits.js'

const O_RDWR = 2
const O_WRONLY = 1
const O_TRUNC = 0o1000
const MiB = 1024 * 1024
const logger = { error: () => {}, warn: () => {} }

function filesystem (drive: Drive, tmp: string): DriveFilesystem {
  return new DriveFilesystem({ drive, logger }, {
    readOnly: false,
    readTimeout: 5000,
    readAhead: { min: 0, max: 0 },
    spillThreshold: MiB, // files past 1 MiB are staged in a temp file
    tmpDir: tmp
  })
}

function contentLength (d: Drive): number {
  return (d as unknown as { content: { byteLength: number } }).content.byteLength
}

test('one-byte writes into a big file commit one byte each, through flush and release', async (t) => {
  const store = DriveStore.directory(tmpDir(t))
  t.after(() => store.close())
  const d = await store.create()
  const ref = randomBuffer(prng(1), 8 * MiB)
  await d.writeFile('/big', ref)
  const fs = filesystem(d, tmpDir(t))
  t.after(() => fs.close())
  const before = contentLength(d)
  // 400 KiB or more apart and from the ends: no two pieces are small enough to be
  // rewritten as one (41 extents is past the soft limit, and none is cheap)
  const place = (i: number) => (i * 7 % 20) * 409_600 + 100_000
  const fh = await fs.open('/big', O_RDWR)
  for (let i = 0; i < 10; i++) {
    const at = place(i)
    ref[at] ^= 0xff
    await fs.write(fh, ref.subarray(at, at + 1), at)
    await fs.fsync(fh)
  }
  await fs.release(fh)
  for (let i = 10; i < 20; i++) {
    const at = place(i)
    ref[at] ^= 0xff
    const h = await fs.open('/big', O_WRONLY)
    await fs.write(h, ref.subarray(at, at + 1), at)
    await fs.release(h)
  }
  assert.equal(contentLength(d) - before, 20, 'twenty bytes stored for twenty one-byte writes')
  assert.ok((await d.read('/big')).equals(ref))
})

test('appends commit only the appended bytes (while the file has few extents: no rewrite at all)', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  let ref = randomBuffer(prng(3), 200_000)
  await d.writeFile('/app.log', ref)
  const fs = filesystem(d, tmpDir(t))
  t.after(() => fs.close())
  const before = contentLength(d)
  const rand = prng(4)
  for (let i = 0; i < 25; i++) {
    const line = randomBuffer(rand, 100)
    const fh = await fs.open('/app.log', O_WRONLY)
    await fs.write(fh, line, ref.length)
    await fs.release(fh)
    ref = Buffer.concat([ref, line])
  }
  assert.equal(contentLength(d) - before, 25 * 100)
  assert.ok((await d.read('/app.log')).equals(ref))
})

test('a file changed in the drive after it was staged is committed whole, as before', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  await d.writeFile('/f', Buffer.from('0123456789'))
  const fs = filesystem(d, tmpDir(t))
  t.after(() => fs.close())
  const fh = await fs.open('/f', O_WRONLY)
  await fs.write(fh, Buffer.from('AB'), 0)
  await d.writeFile('/f', Buffer.from('abcdefghijklmnop'))
  await fs.release(fh)
  assert.equal((await d.read('/f')).toString(), 'AB23456789', 'the staged file wins whole, not patched into the other content')
})

// Random writes, truncates and appends through the filesystem, mirrored on a reference.
async function randomOps (fs: DriveFilesystem, d: Drive, seed: number): Promise<Buffer> {
  const rand = prng(seed)
  let ref = randomBuffer(rand, 300_000)
  await d.writeFile('/r', ref)
  let fh: number | null = null
  for (let i = 0; i < 150; i++) {
    if (fh === null) fh = await fs.open('/r', rand() < 0.1 ? O_WRONLY | O_TRUNC : O_RDWR)
    if ((await fs.getattr('/r')).size === 0) ref = Buffer.alloc(0)
    const k = rand()
    if (k < 0.45) {
      const offset = Math.floor(rand() * (ref.length + 5000))
      const data = randomBuffer(rand, 1 + Math.floor(rand() * (rand() < 0.1 ? 200_000 : 400)))
      await fs.write(fh, data, offset)
      const grown = Buffer.alloc(Math.max(ref.length, offset + data.length))
      ref.copy(grown)
      data.copy(grown, offset)
      ref = grown
    } else if (k < 0.6) {
      const data = randomBuffer(rand, 1 + Math.floor(rand() * 300))
      await fs.write(fh, data, ref.length)
      ref = Buffer.concat([ref, data])
    } else if (k < 0.75) {
      const size = Math.floor(rand() * (ref.length + 100_000))
      if (rand() < 0.5) await fs.ftruncate(fh, size)
      else await fs.truncate('/r', size)
      const next = Buffer.alloc(size)
      ref.copy(next, 0, 0, Math.min(size, ref.length))
      ref = next
    } else if (k < 0.9) {
      await fs.fsync(fh)
    } else {
      await fs.release(fh)
      fh = null
      assert.ok((await d.read('/r')).equals(ref), `the drive holds the reference after change ${i}`)
    }
  }
  if (fh !== null) await fs.release(fh)
  return ref
}

test('random writes, truncates and appends through the filesystem match a reference after a reopen', async (t) => {
  const dir = tmpDir(t)
  let store = DriveStore.directory(dir)
  const d = await store.create()
  const fs = filesystem(d, tmpDir(t))
  const ref = await randomOps(fs, d, 5)
  await fs.close()
  assert.ok((await d.read('/r')).equals(ref))
  assert.ok((await d.stat('/r')).extents, 'the file is made of extents')
  const key = d.key
  await store.close()
  store = DriveStore.directory(dir)
  t.after(() => store.close())
  const again = await store.open(key)
  assert.ok((await again.read('/r')).equals(ref), 'the same bytes after a reopen')
})

test('random writes, truncates and appends through the filesystem read the same on a replica', async (t) => {
  const env = new ReplicaEnv(t)
  const d = await env.create()
  const fs = filesystem(d, tmpDir(t))
  const ref = await randomOps(fs, d, 6)
  await fs.close()
  const r = await env.reader(d)
  assert.ok((await r.read('/r')).equals(ref), 'the replica reads the same bytes')
})

test('a hyperdrive13 drive takes the commit as a patch too (block-map.ts), and reads it right', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create({ format: 'hyperdrive13' })
  await d.writeFile('/f', Buffer.from('0123456789'))
  const fs = filesystem(d, tmpDir(t))
  t.after(() => fs.close())
  const fh = await fs.open('/f', O_WRONLY)
  await fs.write(fh, Buffer.from('AB'), 4)
  await fs.ftruncate(fh, 8)
  await fs.release(fh)
  assert.equal((await d.read('/f')).toString(), '0123AB67')
})
