// Issue 13: a hostile drive must not hang or crash its reader. The drives here
// are built with raw trie writes (hostile-drive.ts), replicated to a reader's
// store in-process, and read there as a daemon would read them.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Hyperdrive } from '../../src/drive/hyperdrive.js'
import { S_IFMT, S_IFDIR, type Drive } from '../../src/drive/types.js'
import { collect, names } from './drive-suite.js'
import { rawMount, plantBadNames, LONG_NAME } from './hostile-drive.js'

const MAX_WALK = 1000 // a walk of these drives that lists more has looped

async function pair (t: TestContext): Promise<{ writer: DriveStore, reader: DriveStore, warnings: string[] }> {
  const warnings: string[] = []
  const writer = DriveStore.memory()
  const reader = DriveStore.memory({ timeout: 5000, onwarning: (m) => warnings.push(m) })
  t.after(() => Promise.all([writer.close(), reader.close()]))
  const s1 = writer.replicate(true)
  const s2 = reader.replicate(false)
  s1.pipe(s2).pipe(s1)
  t.after(() => { s1.destroy(); s2.destroy() })
  return { writer, reader, warnings }
}

async function remote (store: DriveStore, d: Drive): Promise<Hyperdrive> {
  const r = await store.open(d.key)
  await r.metadata.update({ timeout: 5000 })
  return r
}

// find(1): every path under `path`, into mounted drives too, with a stat of
// each; fails if it does not end within MAX_WALK entries
async function find (d: Drive, path = '/', out: string[] = []): Promise<string[]> {
  for await (const e of d.readdir(path)) {
    const p = (path === '/' ? '' : path) + '/' + e.name
    out.push(p)
    if (out.length > MAX_WALK) throw new Error(`the walk did not end: ${out.slice(-5).join(', ')}`)
    await d.lstat(p)
    if ((e.stat.mode & S_IFMT) === S_IFDIR) await find(d, p, out)
  }
  return out
}

test('a remote drive\'s entries named "..", ".", with an empty component, a NUL, or over NAME_MAX are skipped with a warning, and walks of it end', async (t) => {
  const { writer, reader, warnings } = await pair(t)
  const w = await writer.create()
  await w.writeFile('/good.txt', Buffer.from('good'))
  await w.writeFile('/dd/inner.txt', Buffer.from('inner'))
  await w.mkdir('/a')
  await plantBadNames(w)

  const r = await remote(reader, w)
  assert.deepEqual(await names(r, '/'), ['a', 'dd', 'good.txt'], 'not "evil" (a name cut at its NUL), not the long name, not the bad link')
  assert.deepEqual(await names(r, '/dd'), ['inner.txt'])
  assert.deepEqual(await names(r, '/a'), [])
  assert.deepEqual((await find(r)).sort(), ['/a', '/dd', '/dd/inner.txt', '/good.txt'])
  await r.download('/')
  assert.equal((await r.read('/dd/inner.txt')).toString(), 'inner')
  const logged = (await collect(r.history())).map((h) => h.name)
  assert.deepEqual(logged.filter((n) => !['/good.txt', '/dd', '/dd/inner.txt', '/a'].includes(n)), [])

  for (const what of ['the name ".."', 'the name "."', 'an empty name', 'a NUL byte in a name', 'a name of more than 255 bytes', 'a symlink target with a NUL byte']) {
    assert.ok(warnings.some((m) => m.includes(what)), `a warning about ${what}: ${warnings.join(' | ')}`)
  }
  assert.ok(warnings.every((m) => m.startsWith('drive ')), 'each warning names the drive')
  await assert.rejects(r.stat('/' + LONG_NAME), { code: 'ENAMETOOLONG' })
})

test('a remote drive mounted in itself, or in a drive it mounts, shows the mount point as an empty folder, and find and download end', async (t) => {
  const { writer, reader } = await pair(t)
  const a = await writer.create()
  const b = await writer.create()
  await a.writeFile('/file', Buffer.from('A'))
  await b.writeFile('/bfile', Buffer.from('B'))
  await rawMount(a, 'self', a.key) // mkmount K /self K, as a peer that skips the check writes it
  await rawMount(a, 'b', b.key)
  await b.mkdir('/back')
  await rawMount(b, 'back/a', a.key)

  const r = await remote(reader, a)
  assert.deepEqual(await names(r, '/'), ['b', 'file', 'self'])
  assert.deepEqual(await names(r, '/self'), [])
  assert.deepEqual(await names(r, '/b'), ['back', 'bfile'])
  assert.deepEqual(await names(r, '/b/back/a'), [])
  assert.equal((await r.stat('/self')).mode & S_IFMT, S_IFDIR)
  await assert.rejects(r.stat('/self/file'), { code: 'ENOENT' })
  await assert.rejects(r.read('/b/back/a/file'), { code: 'ENOENT' })
  assert.deepEqual((await find(r)).sort(), ['/b', '/b/back', '/b/back/a', '/b/bfile', '/file', '/self'])
  await r.download('/')
  // the same drive, entered from the drive it mounts, closes the cycle at the other end
  const rb = await remote(reader, b)
  assert.deepEqual(await names(rb, '/back/a'), ['b', 'file', 'self'])
  assert.deepEqual(await names(rb, '/back/a/b'), [])
})

test('a path through more than MAX_MOUNT_DEPTH nested drives is ELOOP, not an unbounded descent', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const drives: Drive[] = []
  for (let i = 0; i < 34; i++) drives.push(await store.create())
  for (let i = 0; i < 33; i++) await drives[i].mount('/m', drives[i + 1].key)
  await drives[33].writeFile('/end', Buffer.from('end'))
  await drives[32].writeFile('/end', Buffer.from('32'))
  const deep = (n: number) => '/m'.repeat(n)
  assert.equal((await drives[0].read(deep(32) + '/end')).toString(), '32')
  await assert.rejects(drives[0].read(deep(33) + '/end'), { code: 'ELOOP' })
  await assert.rejects(collect(drives[0].readdir(deep(33))), { code: 'ELOOP' })
  assert.equal((await drives[1].read(deep(32) + '/end')).toString(), 'end', 'the bound counts from where the path starts')
})

test('names a drive cannot hold are refused when written: NUL, over NAME_MAX, over PATH_MAX', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  const data = Buffer.from('x')
  await d.writeFile('/' + 'n'.repeat(255), data)
  await assert.rejects(d.writeFile('/' + 'n'.repeat(256), data), { code: 'ENAMETOOLONG' })
  await assert.rejects(d.writeFile('/' + 'é'.repeat(128), data), { code: 'ENAMETOOLONG' }, '256 bytes in 128 characters')
  await assert.rejects(d.mkdir('/' + 'n'.repeat(256)), { code: 'ENAMETOOLONG' })
  await assert.rejects(d.symlink('target', '/' + 'n'.repeat(256)), { code: 'ENAMETOOLONG' })
  await assert.rejects(d.rename('/' + 'n'.repeat(255), '/' + 'n'.repeat(256)), { code: 'ENAMETOOLONG' })
  await assert.rejects(d.mount('/' + 'n'.repeat(256), Buffer.alloc(32, 1)), { code: 'ENAMETOOLONG' })
  await assert.rejects(d.writeFile('/' + Array.from({ length: 20 }, () => 'n'.repeat(250)).join('/'), data), { code: 'ENAMETOOLONG' })
  await assert.rejects(d.writeFile('/evil\0name', data), { code: 'INVALID_NAME' })
  await assert.rejects(d.symlink('good\0evil', '/link'), { code: 'INVALID_NAME' })
  assert.deepEqual(await names(d, '/'), ['n'.repeat(255)])
})
