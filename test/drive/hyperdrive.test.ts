import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { Hyperdrive } from '../../src/drive/hyperdrive.js'
import { DriveStore } from '../../src/drive/drive-store.js'
import { encode, decode } from '../../src/codec/state.js'
import { driveStat } from '../../src/codec/drive-stat.js'
import { driveHeader } from '../../src/codec/drive-header.js'
import { trieNode } from '../../src/codec/trie-node.js'
import { S_IFREG } from '../../src/drive/types.js'
import { prng, randomBuffer, tmpDir } from '../helpers/tmp.js'
import { ReplicaEnv, type ReplicaDrive } from './kits.js'
import { collect } from './drive-suite.js'

async function lsLR (d: Hyperdrive, path: string, out: string[], max = 10_000): Promise<void> {
  for await (const e of d.readdir(path)) {
    const p = (path === '/' ? '' : path) + '/' + e.name
    out.push(`${p} ${e.stat.size}`)
    await d.stat(p)
    if (out.length > max) throw new Error('too many entries')
    if ((e.stat.mode & 0o170000) === 0o040000) await lsLR(d, p, out, max)
  }
}

test('a folder rename is one append to the metadata core', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  for (let i = 0; i < 20; i++) await d.writeFile(`/big/${i}`, Buffer.from(String(i)))
  let appends = 0
  d.metadata.on('append', () => appends++)
  await d.rename('/big', '/moved')
  assert.equal(appends, 1)
})

test('an ls -lR of a replica downloads no content blocks', async (t) => {
  const env = new ReplicaEnv(t)
  const w = await env.create()
  for (let i = 0; i < 30; i++) await w.writeFile(`/d${i % 3}/f${i}`, randomBuffer(prng(i), 1000 + i * 5000))
  await env.reader(w)
  const rep: ReplicaDrive = await env.replica(w.key)
  const listing: string[] = []
  await lsLR(rep.drive, '/', listing)
  assert.equal(listing.length, 33)
  assert.deepEqual(rep.content.wants, [], 'no content block was requested')
  assert.ok(rep.metadata.wants.length > 0)
})

test('a ranged read on a replica fetches only the blocks holding the range', async (t) => {
  const env = new ReplicaEnv(t)
  const w = await env.create()
  const data = randomBuffer(prng(9), 10 * 65536)
  await w.writeFile('/other', Buffer.alloc(3 * 65536 + 5))
  await w.writeFile('/big', data)
  await env.reader(w)
  const rep = await env.replica(w.key)
  const st = await rep.drive.stat('/big')
  const got = await rep.drive.read('/big', { start: 3 * 65536 + 100, length: 65536 })
  assert.ok(got.equals(data.subarray(3 * 65536 + 100, 4 * 65536 + 100)))
  assert.deepEqual([...new Set(rep.content.wants)].sort((a, b) => a - b), [st.offset + 3, st.offset + 4])
  rep.content.resetCounts()
  const chunks: Buffer[] = []
  for await (const c of rep.drive.createReadStream('/big', { start: 9 * 65536 + 1, end: 9 * 65536 + 9 })) chunks.push(c)
  assert.ok(Buffer.concat(chunks).equals(data.subarray(9 * 65536 + 1, 9 * 65536 + 10)))
  assert.deepEqual(rep.content.wants, [st.offset + 9])
})

test('a drive opened by key without its secret key is read-only: writes are EROFS', async (t) => {
  const env = new ReplicaEnv(t)
  const w = await env.create()
  await w.writeFile('/f', Buffer.from('x'))
  const r = await env.reader(w)
  assert.equal(r.writable, false)
  await assert.rejects(r.writeFile('/g', Buffer.from('y')), { code: 'EROFS' })
  await assert.rejects(r.mkdir('/d'), { code: 'EROFS' })
  await assert.rejects(r.unlink('/f'), { code: 'EROFS' })
  await assert.rejects(r.mount('/m', w.key), { code: 'EROFS' })
})

test('a drive on disk reopens with its files and stays writable', async (t) => {
  const dir = tmpDir(t)
  const open = () => new Hyperdrive({
    metadata: new Hypercore(dir + '/metadata'),
    content: (key) => new Hypercore(dir + '/content', key)
  })
  const a = open()
  await a.ready()
  await a.writeFile('/hello', Buffer.from('world'))
  const key = a.key
  await a.close()
  const b = open()
  await b.ready()
  t.after(() => b.close())
  assert.ok(b.key.equals(key))
  assert.ok(b.writable)
  assert.equal((await b.read('/hello')).toString(), 'world')
  await b.writeFile('/again', Buffer.from('!'))
  assert.deepEqual((await collect(b.readdir('/'))).map((e) => e.name).sort(), ['again', 'hello'])
})

test('drive codecs round-trip and reject bad bytes with DECODE_ERROR', () => {
  const st = {
    mode: S_IFREG | 0o644, uid: 1, gid: 2, size: 300, blocks: 1, offset: 7, byteOffset: 9000, mtime: 1700000000123, ctime: 5,
    linkname: null, metadata: { a: Buffer.from('b') }, mount: { key: Buffer.alloc(32, 3), version: 4, kind: 'drive' as const }
  }
  const back = decode(driveStat, encode(driveStat, st))
  assert.deepEqual({ ...back, metadata: { ...back.metadata } }, st)
  const h = { contentKey: Buffer.alloc(32, 1), blockSize: 65536 }
  assert.deepEqual(decode(driveHeader, encode(driveHeader, h)), h)
  assert.throws(() => decode(driveStat, Buffer.from([9, 1])), { code: 'DECODE_ERROR' })
  assert.throws(() => decode(driveHeader, encode(driveHeader, h).subarray(0, 20)), { code: 'DECODE_ERROR' })
  assert.throws(() => decode(trieNode, Buffer.from([0, 1, 0x61, 1, 0, 0])), { code: 'DECODE_ERROR' }, 'a zero bitmap is refused')
  const rand = prng(3)
  const good = encode(driveStat, st)
  for (let i = 0; i < 500; i++) {
    const b = Buffer.from(good.subarray(0, Math.floor(rand() * good.byteLength)))
    if (b.byteLength && rand() < 0.5) b[Math.floor(rand() * b.byteLength)] ^= 0xff
    try { decode(driveStat, b) } catch (err: any) { assert.equal(err.code, 'DECODE_ERROR') }
  }
})

test('local reads of files deep in the content core, shrunk or partly fetched, return exactly their bytes', async (t) => {
  const env = new ReplicaEnv(t)
  const w = await env.create()
  const files = [randomBuffer(prng(11), 70_001), randomBuffer(prng(12), 3 * 65536), randomBuffer(prng(13), 150_000)]
  for (let i = 0; i < files.length; i++) await w.writeFile(`/f${i}`, files[i])
  await w.truncate('/f2', 100_000) // the file now ends inside its second block
  const rand = prng(14)
  for (let i = 0; i < 40; i++) {
    const f = Math.floor(rand() * 3)
    const data = f === 2 ? files[2].subarray(0, 100_000) : files[f]
    const start = Math.floor(rand() * data.length)
    const length = Math.floor(rand() * (data.length - start + 10))
    assert.ok((await w.read(`/f${f}`, { start, length })).equals(data.subarray(start, start + length)), `writer f${f} ${start}+${length}`)
  }
  // a replica that holds only some blocks of a file reads the rest through the network path
  const r = await env.reader(w)
  assert.ok((await r.read('/f1', { start: 65536, length: 10 })).equals(files[1].subarray(65536, 65546)))
  assert.ok((await r.read('/f1')).equals(files[1]))
  assert.ok((await r.read('/f2')).equals(files[2].subarray(0, 100_000)))
})
