// The drive compliance suite: every drive kind (memory, disk, replica) runs
// these. A kit makes writable drives and says how a reader sees a drive: the
// drive itself for local kinds, a sparse replica for remote ones, so every
// read-side assertion also runs against data that must be fetched.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { Hypercore } from '../../src/core/hypercore.js'
import { type Drive, type Stat, S_IFMT, S_IFREG, S_IFDIR, S_IFLNK } from '../../src/drive/types.js'
import { prng, randomBuffer } from '../helpers/tmp.js'

export interface DriveEnv {
  create (): Promise<Drive>
  createCore (): Promise<Hypercore>
  reader (d: Drive): Promise<Drive>
  mounts?: boolean // false: the format holds no mounts, and mount() says so
}

export type DriveKit = (t: TestContext) => Promise<DriveEnv>

export async function collect<T> (it: AsyncIterable<T>, max = 100_000): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) {
    out.push(x)
    if (out.length > max) throw new Error('iterator did not end')
  }
  return out
}

export async function names (d: Drive, path: string): Promise<string[]> {
  return (await collect(d.readdir(path))).map((e) => e.name).sort()
}

const type = (s: Stat) => s.mode & S_IFMT

export function driveSuite (kind: string, kit: DriveKit): void {
  const it = (name: string, fn: (t: TestContext, env: DriveEnv) => Promise<void>) =>
    test(`${kind}: ${name}`, async (t) => fn(t, await kit(t)))
  // a test of mounts, on formats that hold them
  const withMounts = (name: string, fn: (t: TestContext, env: DriveEnv) => Promise<void>) =>
    it(name, async (t, env) => { if (env.mounts === false) t.skip('this format holds no mounts'); else await fn(t, env) })

  it('mount and unmount on a format without mounts fail with a clear error, and change nothing', async (t, env) => {
    if (env.mounts !== false) return t.skip('this format holds mounts')
    const d = await env.create()
    const other = await env.create()
    await d.writeFile('/f', Buffer.from('x'))
    const v = d.version
    await assert.rejects(d.mount('/m', other.key), { code: 'EOPNOTSUPP' })
    await assert.rejects(d.unmount('/f'), { code: 'EINVAL' })
    await assert.rejects(d.unmount('/nope'), { code: 'ENOENT' })
    assert.equal(d.version, v)
    assert.deepEqual(await collect(d.mounts()), [])
    assert.deepEqual(await names(await env.reader(d), '/'), ['f'])
  })

  it('a file written across block boundaries reads back whole and by ranges', async (t, env) => {
    const d = await env.create()
    const data = randomBuffer(prng(1), 200_000)
    await d.writeFile('/f.bin', data, { mtime: 1234 })
    const r = await env.reader(d)
    assert.ok((await r.read('/f.bin')).equals(data))
    for (const [start, length] of [[0, 1], [65535, 2], [65536, 65536], [131000, 69000], [199_999, 10], [150_000, 0]]) {
      assert.ok((await r.read('/f.bin', { start, length })).equals(data.subarray(start, start + length)), `range ${start}+${length}`)
    }
    assert.equal((await r.read('/f.bin', { start: 300_000 })).byteLength, 0)
    const st = await r.stat('/f.bin')
    assert.equal(type(st), S_IFREG)
    assert.equal(st.size, 200_000)
    assert.equal(st.blocks, Math.ceil(200_000 / 65536))
    assert.equal(st.mtime, 1234)
    const chunks: Buffer[] = []
    for await (const c of r.createReadStream('/f.bin', { start: 70_000, end: 140_000 })) chunks.push(c)
    assert.ok(Buffer.concat(chunks).equals(data.subarray(70_000, 140_001)))
  })

  it('a write stream stores its chunks as one file and an empty file has size 0', async (t, env) => {
    const d = await env.create()
    const ws = d.createWriteStream('/s/stream.txt', { mode: 0o600 })
    const parts: Buffer[] = []
    for (let i = 0; i < 300; i++) {
      const b = Buffer.alloc(997, i & 0xff)
      parts.push(b)
      if (!ws.write(b)) await new Promise((resolve) => ws.once('drain', resolve))
    }
    await new Promise<void>((resolve, reject) => { ws.on('error', reject); ws.end(resolve) })
    await d.writeFile('/empty', Buffer.alloc(0))
    const r = await env.reader(d)
    assert.ok((await r.read('/s/stream.txt')).equals(Buffer.concat(parts)))
    assert.equal((await r.stat('/s/stream.txt')).mode & 0o7777, 0o600)
    assert.equal((await r.stat('/empty')).size, 0)
    assert.equal((await r.read('/empty')).byteLength, 0)
  })

  it('a write stream into a missing folder under a file fails with ENOTDIR', async (t, env) => {
    const d = await env.create()
    await d.writeFile('/file', Buffer.from('x'))
    const ws = d.createWriteStream('/file/inner')
    const err = await new Promise<any>((resolve) => { ws.on('error', resolve); ws.end(Buffer.from('y')) })
    assert.equal(err.code, 'ENOTDIR')
  })

  it('folders are explicit entries: mkdir, readdir with stats, rmdir, ENOTEMPTY, EEXIST', async (t, env) => {
    const d = await env.create()
    await d.mkdir('/a', { mode: 0o700 })
    await d.mkdir('/a/empty')
    await d.writeFile('/a/x.txt', Buffer.from('xx'))
    await d.writeFile('/deep/er/file', Buffer.from('auto parents'))
    await assert.rejects(d.mkdir('/a'), { code: 'EEXIST' })
    await assert.rejects(d.mkdir('/'), { code: 'EEXIST' })
    const r = await env.reader(d)
    assert.deepEqual(await names(r, '/'), ['a', 'deep'])
    assert.deepEqual(await names(r, '/a'), ['empty', 'x.txt'])
    assert.deepEqual(await names(r, '/a/empty'), [])
    assert.deepEqual(await names(r, '/deep/er'), ['file'])
    const entries = await collect(r.readdir('/a'))
    const x = entries.find((e) => e.name === 'x.txt')!
    assert.equal(x.stat.size, 2)
    assert.equal(type(entries.find((e) => e.name === 'empty')!.stat), S_IFDIR)
    assert.equal((await r.stat('/a')).mode, S_IFDIR | 0o700)
    assert.equal(type(await r.stat('/')), S_IFDIR)
    await assert.rejects(collect(r.readdir('/a/x.txt')), { code: 'ENOTDIR' })
    await assert.rejects(collect(r.readdir('/nope')), { code: 'ENOENT' })
    await assert.rejects(d.rmdir('/a'), { code: 'ENOTEMPTY' })
    await assert.rejects(d.rmdir('/a/x.txt'), { code: 'ENOTDIR' })
    await d.rmdir('/a/empty')
    await assert.rejects(d.stat('/a/empty'), { code: 'ENOENT' })
  })

  it('bad paths and bad input get coded errors', async (t, env) => {
    const d = await env.create()
    await d.writeFile('/file', Buffer.from('f'))
    await d.mkdir('/dir')
    const r = await env.reader(d)
    assert.equal((await r.stat('//dir/../file/')).size, 1, 'paths are normalised')
    assert.equal((await r.read('/../../file')).toString(), 'f')
    await assert.rejects(r.stat('/missing'), { code: 'ENOENT' })
    await assert.rejects(r.stat('/file/below'), { code: 'ENOTDIR' })
    await assert.rejects(r.read('/dir'), { code: 'EISDIR' })
    await assert.rejects(r.read('/file', { start: -1 }), { code: 'EINVAL' })
    await assert.rejects(r.stat('/a\0b'), { code: 'INVALID_NAME' })
    await assert.rejects(d.writeFile('/dir', Buffer.from('x')), { code: 'EISDIR' })
    await assert.rejects(d.writeFile('/file/x', Buffer.from('x')), { code: 'ENOTDIR' })
    await assert.rejects(d.unlink('/dir'), { code: 'EISDIR' })
    await assert.rejects(d.unlink('/nope'), { code: 'ENOENT' })
    await assert.rejects(d.truncate('/dir', 0), { code: 'EISDIR' })
    await assert.rejects(d.readlink('/file'), { code: 'EINVAL' })
    await assert.rejects(d.mount('/m', Buffer.alloc(3)), { code: 'EINVAL' })
    await assert.rejects(d.checkout(1).writeFile('/x', Buffer.from('x')), { code: 'EROFS' })
    await assert.rejects(d.checkout(1).mkdir('/x'), { code: 'EROFS' })
  })

  it('unlink removes a file; writing again replaces it', async (t, env) => {
    const d = await env.create()
    await d.writeFile('/f', Buffer.from('one'))
    await d.writeFile('/f', Buffer.from('second'))
    assert.equal((await (await env.reader(d)).read('/f')).toString(), 'second')
    await d.unlink('/f')
    await assert.rejects(d.stat('/f'), { code: 'ENOENT' })
    assert.deepEqual(await names(d, '/'), [])
  })

  it('rename moves a file or a whole folder in one version', async (t, env) => {
    const d = await env.create()
    await d.writeFile('/src/a.txt', Buffer.from('A'))
    await d.writeFile('/src/sub/b.txt', Buffer.from('B'))
    await d.mkdir('/src/sub/empty')
    await d.writeFile('/lone', Buffer.from('L'))
    const v = d.version
    await d.rename('/src', '/dst/moved')
    assert.ok(d.version > v)
    assert.ok((await collect(d.diff(v))).length >= 8, 'the diff shows the old paths gone and the new ones')
    await d.rename('/lone', '/dst/moved/lone2')
    const r = await env.reader(d)
    await assert.rejects(r.stat('/src'), { code: 'ENOENT' })
    assert.deepEqual(await names(r, '/dst/moved'), ['a.txt', 'lone2', 'sub'])
    assert.equal((await r.read('/dst/moved/sub/b.txt')).toString(), 'B')
    assert.deepEqual(await names(r, '/dst/moved/sub'), ['b.txt', 'empty'])
    const before = d.checkout(v)
    assert.equal((await before.read('/src/sub/b.txt')).toString(), 'B')
    await assert.rejects(d.rename('/dst', '/dst/moved/inside'), { code: 'EINVAL' })
    await d.writeFile('/f1', Buffer.from('1'))
    await d.mkdir('/full')
    await d.writeFile('/full/x', Buffer.from('x'))
    await assert.rejects(d.rename('/f1', '/full'), { code: 'EISDIR' })
    await assert.rejects(d.rename('/dst', '/f1'), { code: 'ENOTDIR' })
    await assert.rejects(d.rename('/dst', '/full'), { code: 'ENOTEMPTY' })
    await assert.rejects(d.rename('/nope', '/x'), { code: 'ENOENT' })
  })

  it('a folder rename moves every entry beneath it', async (t, env) => {
    const d = await env.create()
    for (let i = 0; i < 20; i++) await d.writeFile(`/big/${i}`, Buffer.from(String(i)))
    const v = d.version
    await d.rename('/big', '/renamed')
    // 21 entries moved (folder + 20 files), each a del and a put
    assert.equal(d.version - v, 42)
    assert.deepEqual((await names(d, '/renamed')).length, 20)
  })

  it('symlinks: readlink, lstat, stat and read follow them, loops are ELOOP', async (t, env) => {
    const d = await env.create()
    await d.writeFile('/dir/target.txt', Buffer.from('T'))
    await d.symlink('target.txt', '/dir/rel')
    await d.symlink('/dir/target.txt', '/abs')
    await d.symlink('/loop2', '/loop1')
    await d.symlink('/loop1', '/loop2')
    await assert.rejects(d.symlink('x', '/abs'), { code: 'EEXIST' })
    const r = await env.reader(d)
    assert.equal(await r.readlink('/dir/rel'), 'target.txt')
    assert.equal(type(await r.lstat('/abs')), S_IFLNK)
    assert.equal(type(await r.stat('/abs')), S_IFREG)
    assert.equal((await r.read('/dir/rel')).toString(), 'T')
    assert.equal((await r.read('/abs')).toString(), 'T')
    await assert.rejects(r.stat('/loop1'), { code: 'ELOOP' })
  })

  it('chmod, chown, utimes and xattrs change the entry and keep its content', async (t, env) => {
    const d = await env.create()
    await d.writeFile('/f', Buffer.from('content'))
    await d.chmod('/f', 0o640)
    await d.chown('/f', 1000, 100)
    await d.utimes('/f', 5, 77_000)
    await d.setxattr('/f', 'color', Buffer.from('blue'))
    await d.setxattr('/f', 'size', Buffer.from('L'))
    await d.removexattr('/f', 'size')
    await assert.rejects(d.chmod('/nope', 0o600), { code: 'ENOENT' })
    const r = await env.reader(d)
    const st = await r.stat('/f')
    assert.equal(st.mode, S_IFREG | 0o640)
    assert.equal(st.uid, 1000)
    assert.equal(st.gid, 100)
    assert.equal(st.mtime, 77_000)
    assert.equal((await r.getxattr('/f', 'color'))!.toString(), 'blue')
    assert.equal(await r.getxattr('/f', 'size'), null)
    assert.equal(await r.getxattr('/f', 'toString'), null, 'names are not looked up on a prototype')
    assert.deepEqual(await r.listxattr('/f'), ['color'])
    assert.equal((await r.read('/f')).toString(), 'content')
  })

  it('truncate shrinks a file and grows it with zeros', async (t, env) => {
    const d = await env.create()
    const data = randomBuffer(prng(2), 70_000)
    await d.writeFile('/f', data)
    await d.truncate('/f', 10)
    assert.ok((await d.read('/f')).equals(data.subarray(0, 10)))
    await d.truncate('/f', 100_000)
    const r = await env.reader(d)
    const got = await r.read('/f')
    assert.equal(got.byteLength, 100_000)
    assert.ok(got.subarray(0, 10).equals(data.subarray(0, 10)))
    assert.ok(got.subarray(10).equals(Buffer.alloc(100_000 - 10)))
  })

  it('versions: checkout reads the past, history and diff describe the changes', async (t, env) => {
    const d = await env.create()
    await d.writeFile('/a', Buffer.from('v1'))
    const v1 = d.version
    await d.writeFile('/a', Buffer.from('v2'))
    await d.writeFile('/b', Buffer.from('b'))
    await d.unlink('/b')
    await d.writeFile('/c/d', Buffer.from('d'))
    const r = await env.reader(d)
    const old = r.checkout(v1)
    assert.equal(old.version, v1)
    assert.equal((await old.read('/a')).toString(), 'v1')
    assert.deepEqual(await names(old, '/'), ['a'])
    assert.equal((await r.read('/a')).toString(), 'v2')
    const hist = await collect(r.history())
    assert.deepEqual(hist.map((h) => `${h.type} ${h.name}`), ['put /a', 'put /a', 'put /b', 'del /b', 'put /c', 'put /c/d'])
    assert.deepEqual(hist.map((h) => h.version), [2, 3, 4, 5, 6, 7])
    const diff = (await collect(r.diff(v1))).map((e) => `${e.type} ${e.name}`).sort()
    assert.deepEqual(diff, ['put /a', 'put /c', 'put /c/d'])
    const onlyC = (await collect(r.diff(v1, undefined, '/c'))).map((e) => e.name).sort()
    assert.deepEqual(onlyC, ['/c', '/c/d'])
    const back = await collect(r.diff(r.version, v1))
    assert.ok(back.some((e) => e.type === 'del' && e.name === '/c/d'))
    const put = (await collect(r.diff(v1))).find((e) => e.name === '/a')!
    assert.ok(put.type === 'put' && put.previous !== null && put.previous.size === 2)
  })

  it('watch yields an event for a change under its path, none for others, and ends on abort', async (t, env) => {
    const d = await env.create()
    await d.mkdir('/w')
    const ac = new AbortController()
    const events: number[] = []
    const done = (async () => {
      for await (const e of d.watch('/w', { signal: ac.signal })) {
        events.push(e.version)
        assert.equal(e.path, '/w')
        if (events.length === 1) ac.abort()
      }
    })()
    await d.writeFile('/elsewhere', Buffer.from('x'))
    await d.writeFile('/w/inside', Buffer.from('y'))
    await done
    assert.deepEqual(events, [d.version])
  })

  withMounts('mounts: a nested drive appears as a folder and lookups, listings and reads pass into it', async (t, env) => {
    const root = await env.create()
    const child = await env.create()
    const grand = await env.create()
    await grand.writeFile('/g.txt', Buffer.from('grand'))
    await child.writeFile('/c.txt', Buffer.from('child'))
    await child.mount('/grand', grand.key)
    await root.mount('/mnt/child', child.key)
    assert.equal(type(await root.stat('/mnt/child')), S_IFDIR)
    assert.ok((await root.lstat('/mnt/child')).mount!.key.equals(child.key))
    const r = await env.reader(root)
    assert.deepEqual(await names(r, '/mnt/child'), ['c.txt', 'grand'])
    assert.equal((await r.read('/mnt/child/c.txt')).toString(), 'child')
    assert.equal((await r.read('/mnt/child/grand/g.txt')).toString(), 'grand')
    assert.equal((await r.stat('/mnt/child/grand/g.txt')).size, 5)
    const m = await collect(r.mounts())
    assert.deepEqual(m.map((x) => x.path), ['/mnt/child'])
    assert.equal(m[0].mount.version, null)
    await assert.rejects(root.mount('/mnt/child', grand.key), { code: 'EEXIST' })
    await assert.rejects(root.rmdir('/mnt/child'), { code: 'EBUSY' })
    await assert.rejects(root.rename('/mnt/child/c.txt', '/c.txt'), { code: 'EXDEV' })
    await root.unmount('/mnt/child')
    await assert.rejects(root.stat('/mnt/child/c.txt'), { code: 'ENOENT' })
    assert.deepEqual(await collect(root.mounts()), [])
  })

  withMounts('mounts: writes pass through to a writable mounted drive', async (t, env) => {
    const root = await env.create()
    const child = await env.create()
    await root.mount('/c', child.key)
    await root.writeFile('/c/new/file.txt', Buffer.from('through'))
    await root.mkdir('/c/dir')
    await root.rename('/c/new/file.txt', '/c/dir/moved.txt')
    assert.equal((await child.read('/dir/moved.txt')).toString(), 'through')
    assert.deepEqual(await names(child, '/'), ['dir', 'new'])
  })

  withMounts('mounts: a pinned mount shows the drive at its version', async (t, env) => {
    const root = await env.create()
    const child = await env.create()
    await child.writeFile('/f', Buffer.from('old'))
    const pin = child.version
    await child.writeFile('/f', Buffer.from('new'))
    await child.writeFile('/later', Buffer.from('later'))
    await root.mount('/pinned', child.key, { version: pin })
    await root.mount('/live', child.key)
    const r = await env.reader(root)
    assert.equal((await r.lstat('/pinned')).mount!.version, pin)
    assert.equal((await r.read('/pinned/f')).toString(), 'old')
    assert.deepEqual(await names(r, '/pinned'), ['f'])
    assert.equal((await r.read('/live/f')).toString(), 'new')
    await assert.rejects(root.writeFile('/pinned/x', Buffer.from('x')), { code: 'EROFS' })
  })

  withMounts('mounts: a raw core appears as a read-only file of its blocks', async (t, env) => {
    const root = await env.create()
    const core = await env.createCore()
    await core.append(['hello ', 'raw ', 'core'])
    await root.mount('/raw', core.key!, { kind: 'core' })
    const r = await env.reader(root)
    const st = await r.stat('/raw')
    assert.equal(type(st), S_IFREG)
    assert.equal(st.size, 14)
    assert.equal((await r.read('/raw')).toString(), 'hello raw core')
    assert.equal((await r.read('/raw', { start: 7, length: 6 })).toString(), 'aw cor')
    await assert.rejects(root.writeFile('/raw', Buffer.from('x')), { code: 'EROFS' })
    await assert.rejects(r.stat('/raw/x'), { code: 'ENOTDIR' })
  })

  withMounts('mounts: mounting a drive in itself, or where it leads back to itself, is refused with MOUNT_CYCLE', async (t, env) => {
    const a = await env.create()
    const b = await env.create()
    const c = await env.create()
    await a.writeFile('/file', Buffer.from('A'))
    await assert.rejects(a.mount('/self', a.key), { code: 'MOUNT_CYCLE' })
    await a.mount('/b', b.key)
    await b.mount('/c', c.key)
    await assert.rejects(b.mount('/parent', a.key), { code: 'MOUNT_CYCLE' })
    await assert.rejects(c.mount('/deep/grandparent', a.key), { code: 'MOUNT_CYCLE' })
    await a.mount('/old', a.key, { version: a.version }) // a past version is another drive
    const r = await env.reader(a)
    assert.deepEqual(await names(r, '/'), ['b', 'file', 'old'])
    assert.deepEqual(await names(r, '/old'), ['b', 'file'])
    assert.deepEqual(await names(r, '/b/c'), [])
    await r.download('/')
  })

  it('a drive reopened by key reads the same tree', async (t, env) => {
    const d = await env.create()
    await d.writeFile('/x/y', Buffer.from('z'))
    const r = await env.reader(d)
    assert.ok(r.key.equals(d.key))
    assert.equal((await r.read('/x/y')).toString(), 'z')
    const info = await r.info()
    assert.ok(info.key.equals(d.key))
    assert.ok(info.contentKey !== null)
    assert.equal(info.byteLength, 1)
    await r.download('/')
    assert.equal((await r.info()).localBytes, 1)
  })
}
