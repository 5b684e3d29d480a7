// The hyperdrive13 format against the real hyperdrive@13 on corestore@7, both
// ways, over replication streams (our DriveStore's against corestore's):
// - a drive we write is read completely by their reader;
// - a drive their writer makes is read completely by ours, and a file it adds
//   later appears.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Drive } from '../../src/drive/types.js'
import { S_IFMT, S_IFDIR, S_IFLNK, S_IFREG } from '../../src/drive/types.js'
import { prng, randomBuffer, tmpDir } from '../helpers/tmp.js'
import { oracle } from '../helpers/oracle.js'
import { collect, names } from '../drive/drive-suite.js'

const RealHyperdrive = oracle('hyperdrive')
const Corestore = oracle('corestore')
const MAX_WAIT_MS = 10_000

function pipe (t: TestContext, a: any, b: any): void {
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
}

async function until (f: () => boolean | Promise<boolean>): Promise<boolean> {
  const end = Date.now() + MAX_WAIT_MS
  while (!(await f()) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20))
  return f()
}

async function realGet (r: any, path: string): Promise<Buffer> {
  const b = await r.get(path, { wait: true, timeout: MAX_WAIT_MS })
  assert.ok(b, `the real reader has ${path}`)
  return b
}

async function readStream (s: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = []
  for await (const c of s) out.push(c)
  return Buffer.concat(out)
}

test('a drive we write in the hyperdrive13 format is read completely by the real hyperdrive@13', async (t) => {
  const ours = DriveStore.memory()
  t.after(() => ours.close())
  const d = await ours.create({ format: 'hyperdrive13' })
  const big = randomBuffer(prng(1), 3 * 1024 * 1024 + 123)
  const files: Record<string, Buffer> = {
    '/hello.txt': Buffer.from('hello world'),
    '/nested/deep/dir/big.bin': big,
    '/ünïcødé/名前.txt': Buffer.from('unicode ✓'),
    '/bin/run.sh': Buffer.from('#!/bin/sh\necho hi\n'),
    '/zero': Buffer.alloc(0)
  }
  for (const [path, data] of Object.entries(files)) await d.writeFile(path, data, path === '/bin/run.sh' ? { mode: 0o755 } : {})
  await d.symlink('/hello.txt', '/link')
  await d.symlink('deep/dir/big.bin', '/nested/rel')
  await d.mkdir('/empty')
  await d.writeFile('/gone/file', Buffer.from('x'))
  await d.unlink('/gone/file') // its folder stays, empty

  const store = new Corestore(tmpDir(t))
  t.after(() => store.close())
  pipe(t, ours.replicate(true), store.replicate(false))
  const r = new RealHyperdrive(store, d.key)
  await r.ready()
  t.after(() => r.close())
  await r.update({ wait: true })
  assert.equal(r.version, d.version)
  assert.ok((await r.getBlobs()).core.key.equals(d.content!.key), 'the blobs key they derive is ours')

  for (const [path, data] of Object.entries(files)) assert.ok((await realGet(r, path)).equals(data), path)
  assert.ok((await readStream(r.createReadStream('/nested/deep/dir/big.bin', { start: 65530, end: 200_000 }))).equals(big.subarray(65530, 200_001)))
  assert.equal((await r.entry('/bin/run.sh')).value.executable, true)
  assert.equal((await r.entry('/hello.txt')).value.executable, false)
  assert.equal((await r.entry('/link')).value.linkname, '/hello.txt')
  assert.equal((await r.entry('/nested/rel')).value.linkname, 'deep/dir/big.bin')
  assert.equal(typeof (await r.entry('/hello.txt')).value.metadata.mtime, 'number')

  // every folder listed once, empty ones included; a folder has no entry of its own
  const readdir = async (p: string) => { const out: string[] = []; for await (const n of r.readdir(p)) out.push(n); return out }
  assert.deepEqual((await readdir('/')).sort(), ['bin', 'empty', 'gone', 'hello.txt', 'link', 'nested', 'zero', 'ünïcødé'])
  assert.deepEqual(await readdir('/empty'), [])
  assert.deepEqual(await readdir('/gone'), [])
  assert.deepEqual(await readdir('/nested'), ['deep', 'rel'])
  assert.equal(await r.entry('/empty'), null)
  assert.equal(await r.entry('/nested'), null)
  // their listing of every entry: our files, and folder markers with no blob
  const listed: string[] = []
  for await (const e of r.list('/', { recursive: true })) listed.push(e.key)
  for (const p of Object.keys(files)) assert.ok(listed.includes(p), p)
  assert.ok(listed.includes('/empty/') && listed.includes('/gone/'), 'the markers of the empty folders')
  for (const e of listed.filter((k) => k.endsWith('/'))) assert.equal((await r.entry(e)), null, 'a marker is not an entry of the path it names')
  await r.download('/')
})

test('a drive the real hyperdrive@13 writes is read completely by ours, and a file it adds later appears', async (t) => {
  const store = new Corestore(tmpDir(t))
  t.after(() => store.close())
  const w = new RealHyperdrive(store)
  await w.ready()
  t.after(() => w.close())
  const big = randomBuffer(prng(2), 5 * 1024 * 1024 + 7)
  await w.put('/a.txt', Buffer.from('hello'))
  await w.put('/big.bin', big)
  await w.put('/bin/run.sh', Buffer.from('#!/bin/sh\n'), { executable: true })
  await w.symlink('/link', '/a.txt')
  await w.put('/dir/sub/x.txt', Buffer.from('deep'))
  await w.put('/ünïcødé/名前.txt', Buffer.from('名前'))
  await w.put('/meta', Buffer.from('m'), { metadata: { mtime: 1700000000000, mode: 0o640 } })
  await w.put('/empty', Buffer.alloc(0))
  // blocks of any size: each write of a stream is one block
  const ws = w.createWriteStream('/streamed')
  const parts = [Buffer.alloc(10, 1), randomBuffer(prng(3), 100_000), Buffer.alloc(3, 2)]
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject)
    ws.on('close', resolve)
    for (const p of parts) ws.write(p)
    ws.end()
  })
  const streamed = Buffer.concat(parts)
  // a block map (dedup): the entry's blob names the map, the map names the blocks
  const write = async (path: string, chunks: Buffer[], opts: object) => {
    const s = w.createWriteStream(path, opts)
    await new Promise<void>((resolve, reject) => {
      s.on('error', reject)
      s.on('close', resolve)
      for (const c of chunks) s.write(c)
      s.end()
    })
  }
  const A = Buffer.alloc(70_000, 0x41)
  const B = Buffer.alloc(4, 0x42)
  await write('/dedup', [A, B, A, B, Buffer.from('end')], { dedup: true })
  const dedup = Buffer.concat([A, B, A, B, Buffer.from('end')])
  assert.equal((await w.entry('/dedup')).value.blob.blockMap, true)

  const ours = DriveStore.memory({ timeout: MAX_WAIT_MS })
  t.after(() => ours.close())
  pipe(t, store.replicate(true), ours.replicate(false))
  const r = await ours.open(w.key)
  assert.equal(r.format, 'hyperdrive13')
  await r.metadata.update()
  assert.equal(r.version, w.version)

  assert.equal((await r.read('/a.txt')).toString(), 'hello')
  assert.ok((await r.read('/big.bin')).equals(big))
  assert.ok((await r.read('/big.bin', { start: 4 * 1024 * 1024 + 5, length: 200_000 })).equals(big.subarray(4 * 1024 * 1024 + 5, 4 * 1024 * 1024 + 200_005)))
  assert.ok((await r.read('/streamed')).equals(streamed))
  assert.equal((await r.stat('/dedup')).size, dedup.byteLength)
  assert.ok((await r.read('/dedup')).equals(dedup))
  assert.ok((await r.read('/dedup', { start: 69_998, length: 80_000 })).equals(dedup.subarray(69_998, 149_998)))
  for (const [start, length] of [[5, 10], [9, 2], [100_005, 8], [50_000, 60_000]]) {
    assert.ok((await r.read('/streamed', { start, length })).equals(streamed.subarray(start, start + length)), `streamed ${start}+${length}`)
  }
  const type = (s: { mode: number }) => s.mode & S_IFMT
  assert.equal((await r.stat('/bin/run.sh')).mode, S_IFREG | 0o755)
  assert.equal((await r.stat('/a.txt')).mode, S_IFREG | 0o644)
  assert.equal(type(await r.lstat('/link')), S_IFLNK)
  assert.equal(await r.readlink('/link'), '/a.txt')
  assert.equal((await r.read('/link')).toString(), 'hello')
  assert.equal(type(await r.stat('/dir')), S_IFDIR)
  const meta = await r.stat('/meta')
  assert.equal(meta.mtime, 1700000000000)
  assert.equal(meta.mode, S_IFREG | 0o640)
  assert.equal((await r.stat('/empty')).size, 0)
  assert.deepEqual(await names(r, '/'), ['a.txt', 'big.bin', 'bin', 'dedup', 'dir', 'empty', 'link', 'meta', 'streamed', 'ünïcødé'])
  assert.deepEqual(await names(r, '/dir/sub'), ['x.txt'])
  assert.equal((await r.read('/ünïcødé/名前.txt')).toString(), '名前')
  assert.ok((await collect(r.history())).some((h) => h.name === '/dir/sub/x.txt' && h.type === 'put'))
  await assert.rejects(r.writeFile('/x', Buffer.from('no')), { code: 'EROFS' })

  await r.download('/')
  assert.ok(r.content!.hasAll(0, r.content!.length))

  await w.put('/later.txt', Buffer.from('added later'))
  assert.ok(await until(async () => { await r.metadata.update({ timeout: 500 }); return r.version === w.version }))
  assert.equal((await r.read('/later.txt')).toString(), 'added later')
})

test('a hyperdrive13 drive mounted in a hypertrie drive is read through the mount', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const root: Drive = await store.create()
  const inner = await store.create({ format: 'hyperdrive13' })
  await inner.writeFile('/docs/readme.txt', Buffer.from('inside a hyperdrive13 drive'))
  await root.mount('/hd13', inner.key)
  assert.deepEqual(await names(root, '/hd13'), ['docs'])
  assert.equal((await root.read('/hd13/docs/readme.txt', { start: 7, length: 1 })).toString(), 'a')
  await root.writeFile('/hd13/docs/new.txt', Buffer.from('through the mount'))
  assert.equal((await inner.read('/docs/new.txt')).toString(), 'through the mount')
})
