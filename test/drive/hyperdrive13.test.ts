// The hyperdrive13 format's own behaviour: key derivation (docs/hyperdrive13.md
// vectors), a drive on disk that reopens, the bytes we write, and entries
// from a hostile writer.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { RoutedDrive } from '../../src/drive/routed-drive.js'
import { keyPair } from '../../src/crypto/index.js'
import { defaultManifest, keyFromManifest } from '../../src/core/signer.js'
import { discoveryKey } from '../../src/crypto/index.js'
import { blobsManifest, encodeEntry, decodeEntry, fileKey, entryStat } from '../../src/drive/drive13-entry.js'
import { Hyperbee } from '../../src/bee/hyperbee.js'
import { S_IFDIR, S_IFMT, S_IFREG, type Drive } from '../../src/drive/types.js'
import { prng, tmpDir } from '../helpers/tmp.js'
import { collect, names } from './drive-suite.js'

test('the blobs key is derived from the db manifest as hyperdrive@13 derives it (sheet vector: key pair of 32 × 0x01)', () => {
  const kp = keyPair(Buffer.alloc(32, 1))
  const db = defaultManifest(kp.publicKey)
  const dbKey = keyFromManifest(db)
  assert.equal(dbKey.toString('hex'), 'd8c3a0597903b28d751c6e0b7107775e388ec5a3cf669bdd1e7ec41b8b8f6e72')
  const m = blobsManifest(db, dbKey)!
  assert.equal(m.signers[0].namespace.toString('hex'), '3d0fea92d0d4b98439ecece3a694336ebe0b0f2a6dc29859b64f5489f00d5177')
  const key = keyFromManifest(m)
  assert.equal(key.toString('hex'), 'dcfebacc1dfea8bebb791477d3ff1751820b9637f7ecf3b1014cba0d02c75e01')
  assert.equal(discoveryKey(key).toString('hex'), 'a2bf72fbe8f95acb7ada9aed3ce7e387d6fb22c0f39aea0985f841375843a90e')
  assert.equal(blobsManifest({ ...db, version: 0 }, dbKey), null)
})

test('entries encode as hyperdrive writes them, and decoding refuses what is not one (DECODE_ERROR)', () => {
  // block 1 of the sheet's drive (docs/hyperdrive13.md §3)
  const blob = { blockOffset: 0, byteOffset: 0, blockLength: 1, byteLength: 5 }
  assert.equal(encodeEntry({ executable: false, linkname: null, blob, metadata: null }).toString(),
    '{"executable":false,"linkname":null,"blob":{"blockOffset":0,"byteOffset":0,"blockLength":1,"byteLength":5},"metadata":null}')
  assert.equal(fileKey(['a.txt']).toString('hex'), '66696c6573002f612e747874')
  // any field order is read
  const e = decodeEntry(Buffer.from('{"metadata":{"mode":416},"blob":{"byteLength":3,"blockLength":1,"byteOffset":9,"blockOffset":2},"executable":true}'))
  assert.deepEqual(e.blob, { blockOffset: 2, byteOffset: 9, blockLength: 1, byteLength: 3 })
  assert.equal(entryStat(e).mode, S_IFREG | 0o751, 'executable decides the x bits over a mode that says otherwise')
  for (const bad of ['', 'nul', '[]', '"x"', '{"linkname":5}', '{"linkname":"a\\u0000b"}', '{"blob":{"blockOffset":-1,"byteOffset":0,"blockLength":1,"byteLength":1}}',
    '{"blob":{"blockOffset":1.5,"byteOffset":0,"blockLength":1,"byteLength":1}}', '{"blob":{"blockOffset":0,"byteOffset":0,"blockLength":65,"byteLength":1,"blockMap":true}}',
    '['.repeat(100_000)]) {
    assert.throws(() => decodeEntry(Buffer.from(bad)), { code: 'DECODE_ERROR' }, bad.slice(0, 40))
  }
  assert.throws(() => decodeEntry(null), { code: 'DECODE_ERROR' })
  // random bytes never crash the decoder
  const rand = prng(5)
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.from(encodeEntry({ executable: true, linkname: null, blob, metadata: { mtime: 1, xattrs: { a: 'YQ==' } } }))
    for (let j = 0; j < 3; j++) b[Math.floor(rand() * b.byteLength)] = Math.floor(rand() * 256)
    try { entryStat(decodeEntry(b.subarray(0, Math.floor(rand() * (b.byteLength + 1))))) } catch (err: any) { assert.equal(err.code, 'DECODE_ERROR') }
  }
})

test('a hyperdrive13 drive on disk reopens in its format, writable, with its files, modes and empty folders', async (t) => {
  const dir = tmpDir(t)
  let store = DriveStore.directory(dir)
  const d = await store.create({ format: 'hyperdrive13' })
  await d.writeFile('/bin/tool', Buffer.from('#!'), { mode: 0o750, mtime: 42_000 })
  await d.mkdir('/empty', { mode: 0o700 })
  await d.setxattr('/bin/tool', 'color', Buffer.from('red'))
  const key = d.key
  const version = d.version
  await store.close()
  store = DriveStore.directory(dir)
  t.after(() => store.close())
  const r = await store.open(key)
  assert.equal(r.format, 'hyperdrive13')
  assert.equal(r.writable, true)
  assert.equal(r.version, version)
  assert.deepEqual(await names(r, '/'), ['bin', 'empty'])
  assert.deepEqual(await names(r, '/empty'), [])
  assert.equal((await r.stat('/empty')).mode, S_IFDIR | 0o700)
  const st = await r.stat('/bin/tool')
  assert.equal(st.mode, S_IFREG | 0o750)
  assert.equal(st.mtime, 42_000)
  assert.equal((await r.getxattr('/bin/tool', 'color'))!.toString(), 'red')
  await r.writeFile('/empty/now', Buffer.from('filled'))
  assert.equal((await r.read('/empty/now')).toString(), 'filled')
})

test('a hyperdrive13 file keeps a time set with a fraction of a ms (utimensat gives ns: rsync, touch -d, cp -p), to the ms', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create({ format: 'hyperdrive13' })
  await d.writeFile('/f', Buffer.from('x'))
  await d.utimes('/f', 1_700_000_000_000, 1_700_000_000_123.456)
  assert.equal((await d.stat('/f')).mtime, 1_700_000_000_123)
  await d.writeFile('/g', Buffer.from('y'), { mtime: 42.9 })
  assert.equal((await d.stat('/g')).mtime, 42)
  // and an app's fractional time is read to the ms, not dropped
  assert.equal(entryStat({ executable: false, linkname: null, blob: null, metadata: { mtime: 1234.5 } }).mtime, 1234)
})

// A writer that runs its own code: entries put straight into the drive's bee.
async function hostile (t: TestContext): Promise<{ writer: RoutedDrive, bee: Hyperbee, reader: () => Promise<Drive>, warnings: string[] }> {
  const writers = DriveStore.memory()
  const warnings: string[] = []
  const readers = DriveStore.memory({ timeout: 3000, onwarning: (m) => warnings.push(m) })
  t.after(() => Promise.all([writers.close(), readers.close()]))
  const a = writers.replicate(true)
  const b = readers.replicate(false)
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
  const writer = await writers.create({ format: 'hyperdrive13' })
  await writer.writeFile('/good.txt', Buffer.from('good'))
  const bee = new Hyperbee(writer.metadata)
  return { writer, bee, warnings, reader: async () => { const r = await readers.open(writer.key); await r.metadata.update(); return r } }
}

test('a remote hyperdrive13 drive\'s entries that do not decode, or whose names a drive cannot hold, are skipped with a warning; named, they are coded errors', async (t) => {
  const { bee, reader, warnings } = await hostile(t)
  await bee.put(Buffer.from('files\0/garbage'), Buffer.from('{not json'))
  await bee.put(Buffer.from('files\0/novalue'), null)
  await bee.put(Buffer.from('files\0/evil\0name'), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(Buffer.from('files\0/dd/../x'), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(Buffer.from('files\0//empty-name'), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(Buffer.from('other keyspace'), Buffer.from('ignored'))
  const r = await reader()
  assert.deepEqual(await names(r, '/'), ['dd', 'good.txt'])
  assert.deepEqual(await names(r, '/dd'), [])
  await assert.rejects(r.stat('/garbage'), { code: 'DECODE_ERROR' })
  await assert.rejects(r.read('/novalue'), { code: 'DECODE_ERROR' })
  for (const what of ['not JSON', 'no value', 'a NUL byte in a name', 'an empty name']) {
    assert.ok(warnings.some((m) => m.includes(what)), `a warning about ${what}: ${warnings.join(' | ')}`)
  }
  assert.deepEqual((await collect(r.history())).map((h) => h.name), ['/good.txt'])
})

test('a remote entry whose blob lies past the blobs core, or outside its own blocks, is a DECODE_ERROR, not a wait', async (t) => {
  const { writer, bee, reader } = await hostile(t)
  const blobs = writer.content!
  const past = { blockOffset: blobs.length + 5, byteOffset: blobs.byteLength, blockLength: 2, byteLength: 10 }
  await bee.put(fileKey(['past']), encodeEntry({ executable: false, linkname: null, blob: past, metadata: null }))
  // its bytes claimed in block 0, its id saying block 0 holds them from byte 2 on: more bytes than the block has
  const short = { blockOffset: 0, byteOffset: 2, blockLength: 1, byteLength: 100 }
  await bee.put(fileKey(['short']), encodeEntry({ executable: false, linkname: null, blob: short, metadata: null }))
  const r = await reader()
  await assert.rejects(r.read('/past'), { code: 'DECODE_ERROR' })
  await assert.rejects(r.read('/short'), { code: 'DECODE_ERROR' })
  await assert.rejects(r.read('/short', { start: 50, length: 10 }), { code: 'DECODE_ERROR' })
  await assert.rejects(r.download('/'), { code: 'DOWNLOAD_INCOMPLETE' })
  assert.equal((await r.read('/good.txt')).toString(), 'good')
})

test('a path that is both a file and a folder (a real writer can make one) is the file, in lookups and listings', async (t) => {
  const { bee, reader } = await hostile(t)
  await bee.put(fileKey(['d']), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(fileKey(['d-a']), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(fileKey(['d', 'x']), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(fileKey(['a']), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(fileKey(['a0']), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(fileKey(['b', 'in']), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  await bee.put(fileKey(['b0']), encodeEntry({ executable: false, linkname: null, blob: null, metadata: null }))
  const r = await reader()
  // not hyperdrive's ["d","d-a",…,"d"] nor its readdir that skips "b0" after the folder "b"
  assert.deepEqual(await names(r, '/'), ['a', 'a0', 'b', 'b0', 'd', 'd-a', 'good.txt'])
  assert.equal((await r.stat('/d')).mode & S_IFMT, S_IFREG)
  assert.equal((await r.stat('/b')).mode & S_IFMT, S_IFDIR)
  await assert.rejects(collect(r.readdir('/d')), { code: 'ENOTDIR' })
})

test('a compat drive (db key = public key, no manifest) finds its blobs core through the header\'s contentFeed, also over replication', async (t) => {
  const writers = DriveStore.memory()
  const readers = DriveStore.memory({ timeout: 5000 })
  t.after(() => Promise.all([writers.close(), readers.close()]))
  const kp = keyPair()
  const db = await writers.store.get({ keyPair: kp, compat: true })
  assert.ok(db.key!.equals(kp.publicKey))
  const blobs = await writers.store.get({})
  await blobs.append([Buffer.from('compat '), Buffer.from('bytes')])
  const bee = new Hyperbee(db, { metadata: { contentFeed: blobs.key! } })
  await bee.put(fileKey(['old.txt']), encodeEntry({ executable: false, linkname: null, blob: { blockOffset: 0, byteOffset: 0, blockLength: 2, byteLength: 12 }, metadata: null }))
  const local = await writers.open(db.key!)
  assert.equal(local.format, 'hyperdrive13')
  assert.equal((await local.read('/old.txt')).toString(), 'compat bytes')
  assert.ok(local.content!.key!.equals(blobs.key!))

  const a = writers.replicate(true)
  const b = readers.replicate(false)
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
  const r = await readers.open(db.key!)
  assert.equal((await r.read('/old.txt', { start: 7, length: 5 })).toString(), 'bytes')
})
