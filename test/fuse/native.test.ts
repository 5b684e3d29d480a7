// The native libfuse3 binding (native/hyperfs_fuse.c, src/fuse/native-binding.ts):
// what it does that fuse-native could not. Times are set as asked (UTIME_OMIT
// and UTIME_NOW; fuse-native passes the access time as both), listings come
// with their attributes (readdirplus), inode numbers belong to paths, the
// kernel's caches follow changes made elsewhere, and a mount that fails says
// why. The FUSE suites (compliance and the rest) run on this binding wherever
// it is the default.
import { strict as assert } from 'node:assert'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { isHyperfsError } from '../../src/errors.js'
import type { FuseBindingFactory, FuseRequests, Logger } from '../../src/fuse/api.js'
import { loadNativeAddon, nativeBinding, preferNative } from '../../src/fuse/native-binding.js'
import { isMounted } from '../../src/fuse/stale-mount.js'
import { tmpDir } from '../helpers/tmp.js'
import { FUSE_SKIP, run } from './mount-harness.js'
import { startNativeHost } from './native-host.js'

const ENOENT = 2
const ENOTDIR = 20
const ENOTEMPTY = 39
// how long a change made elsewhere may take to reach another mount's
// kernel cache: the invalidation makes it at once, and this is room for a
// loaded machine; well under the 60 s the kernel may keep watched attributes,
// so only the invalidation can make it in time
const SETTLE_MS = 10_000
const BIG_READ = 8 * 1024 * 1024
// longer than the 1 s entry and attribute timeouts of content that may change unannounced
const PAST_SHORT_TIMEOUT_MS = 1500
const CACHED_READ_TRIES = 4 // re-reads, for one that finds every page still cached

test('npm run setup built the native addon, and it loads', () => {
  const result = loadNativeAddon()
  assert.ok('addon' in result, 'error' in result ? result.error : '')
})

describe('choosing the binding', () => {
  const fallback: FuseBindingFactory = { name: 'fuse-native', helper: 'fusermount', create: () => { throw new Error('not here') } }

  test('without the addon, hyperfs runs on the fallback and says so once', () => {
    const lines: string[] = []
    const logger: Logger = { error: (m) => lines.push(m), warn: (m) => lines.push(m) }
    const missing = '/nonexistent/hyperfs_fuse.node'
    assert.equal(preferNative(fallback, logger, { env: {}, addonFile: missing }), fallback)
    assert.equal(preferNative(fallback, logger, { env: {}, addonFile: missing }), fallback)
    assert.equal(lines.length, 1, lines.join('\n'))
    assert.match(lines[0], /runs on fuse-native.*nonexistent\/hyperfs_fuse\.node is not built/)
  })

  test('HYPERFS_FUSE=fuse-native forces the fallback; otherwise the native binding is the default', { skip: !('addon' in loadNativeAddon()) && 'the addon is not built' }, () => {
    const lines: string[] = []
    const logger: Logger = { error: (m) => lines.push(m), warn: (m) => lines.push(m) }
    assert.equal(preferNative(fallback, logger, { env: { HYPERFS_FUSE: 'fuse-native' } }), fallback)
    assert.equal(preferNative(fallback, logger, { env: {} }), nativeBinding)
    assert.deepEqual(lines, [])
  })
})

describe('native binding: mount errors', { skip: FUSE_SKIP || (!('addon' in loadNativeAddon()) && 'the addon is not built') }, () => {
  const requests: FuseRequests = { call: (_op, _path, _args, _ok, fail) => fail(-5) }
  const logger: Logger = { error: () => {}, warn: () => {} }
  const mountAt = (mountpoint: string): Promise<void> =>
    nativeBinding.create(requests, { mountpoint, kernelCache: false, nonEmpty: false, debug: false }, { logger }).mount()

  test('a mount that fails carries errno and the reason', async (t) => {
    const dir = tmpDir(t)
    const full = join(dir, 'full')
    mkdirSync(full)
    writeFileSync(join(full, 'x'), 'x')
    const file = join(dir, 'file')
    writeFileSync(file, 'x')
    for (const [mnt, errno, reason] of [
      [full, ENOTEMPTY, /mountpoint is not empty/],
      [file, ENOTDIR, /mountpoint is not a directory/],
      [join(dir, 'missing'), ENOENT, /mountpoint does not exist/]
    ] as const) {
      await assert.rejects(mountAt(mnt), (err: unknown) => {
        assert.ok(isHyperfsError(err, 'FUSE_FAILED'), String(err))
        const e = err as Error & { errno?: number, reason?: string }
        assert.equal(e.errno, errno)
        assert.match(e.reason ?? '', reason)
        assert.match(e.message, new RegExp(`cannot mount at ${mnt}: `))
        return true
      })
    }
  })
})

describe('native binding', { skip: FUSE_SKIP || (!('addon' in loadNativeAddon()) && 'the addon is not built') }, () => {
  test('touch -m and touch -a each set their own time, to the millisecond; touch alone sets now', async (t) => {
    const host = await startNativeHost(t)
    const file = join(host.mnts[0], 'times.txt')
    await writeFile(file, 'x\n')
    const mtime = async (): Promise<string> => (await run('stat', ['-c', '%.3Y', file])).stdout.trim()

    assert.equal((await run('touch', ['-m', '-d', '@1614834367.123', file])).code, 0)
    assert.equal(await mtime(), '1614834367.123')
    // UTIME_OMIT for the mtime: fuse-native wrote the access time into it
    assert.equal((await run('touch', ['-a', '-d', '@1000000000', file])).code, 0)
    assert.equal(await mtime(), '1614834367.123')
    // UTIME_NOW for both
    assert.equal((await run('touch', [file])).code, 0)
    assert.ok(Number(await mtime()) > 1614834367.123 + 365 * 86400, await mtime())
  })

  test('cp -a keeps every mtime; rsync -a run twice sends nothing the second time', async (t) => {
    const host = await startNativeHost(t, { drive: 'disk' })
    const src = join(tmpDir(t), 'src')
    mkdirSync(join(src, 'sub'), { recursive: true })
    const files = ['a.txt', 'b.bin', 'sub/c.txt', 'sub/d.txt']
    for (const [i, f] of files.entries()) {
      writeFileSync(join(src, f), `content ${i}\n`.repeat(i + 1))
      // the drive keeps whole milliseconds; atime apart from mtime, as on any real file
      assert.equal((await run('touch', ['-m', '-d', `@${1600000000 + i * 1000}.${100 + i}`, join(src, f)])).code, 0)
      assert.equal((await run('touch', ['-a', '-d', `@${1700000000 + i}`, join(src, f)])).code, 0)
    }
    const times = async (root: string): Promise<string> =>
      (await run('sh', ['-c', `cd '${root}' && stat -c '%.3Y %s %n' ${files.join(' ')}`])).stdout

    const cpDst = join(host.mnts[0], 'cp')
    const cp = await run('cp', ['-a', src, cpDst])
    assert.equal(cp.code, 0, cp.stderr)
    assert.equal(await times(cpDst), await times(src))

    const rsDst = join(host.mnts[0], 'rsync') + '/'
    const first = await run('rsync', ['-a', src + '/', rsDst])
    assert.equal(first.code, 0, first.stderr)
    assert.equal(await times(rsDst), await times(src))
    const second = await run('rsync', ['-a', '--itemize-changes', src + '/', rsDst])
    assert.equal(second.code, 0, second.stderr)
    assert.equal(second.stdout, '', 'the second rsync changed something')
  })

  test('ls -l of a folder is one listing with its attributes: no lookup or xattr request per entry reaches the drive', async (t) => {
    const host = await startNativeHost(t, { files: 500 })
    const before = (await host.stats())[0].requests
    const ls = await run('ls', ['-l', join(host.mnts[0], 'many')])
    assert.equal(ls.code, 0, ls.stderr)
    assert.equal(ls.stdout.trim().split('\n').length, 501)
    const after = (await host.stats())[0].requests
    const delta = (op: string): number => (after[op] ?? 0) - (before[op] ?? 0)
    // the folder itself may be looked up; its 500 entries must not be
    assert.ok(delta('LOOKUP') + delta('GETATTR') <= 3, JSON.stringify(after))
    assert.equal(delta('GETXATTR'), 0, JSON.stringify(after))
    assert.ok(delta('READDIR') >= 1)
  })

  test('a file read again from the page cache costs its OPEN and RELEASE only: no READ, FLUSH, LOOKUP or GETATTR reaches the drive', async (t) => {
    const host = await startNativeHost(t, { big: BIG_READ })
    const file = join(host.mnts[0], 'big.bin')
    const cat = async (): Promise<void> => {
      const r = await run('sh', ['-c', `cat '${file}' > /dev/null`])
      assert.equal(r.code, 0, r.stderr)
    }
    await cat() // through the drive, into the page cache
    // A read that went to the drive leaves the kernel's atime stale, and the
    // next stat (cat's fstat) asks for it: that one belongs to the read.
    const settling = (await host.stats())[0].requests
    await cat()
    const settled = (await host.stats())[0].requests
    // past the 1 s timeouts the kernel used to be given: it would look the
    // name up and stat it again
    await new Promise((resolve) => setTimeout(resolve, PAST_SHORT_TIMEOUT_MS))
    // Under the load of the whole suite the kernel may reclaim some of the
    // file's pages meanwhile, and read those again: READ must be 0 in one of
    // a few tries (pages dropped on open would be read again every time). A
    // re-read that did READ leaves the atime stale, so the next one may ask
    // GETATTR once: allowed only right after a READ.
    let reads = -1
    let readBefore = (settled.READ ?? 0) > (settling.READ ?? 0)
    for (let i = 0; i < CACHED_READ_TRIES && reads !== 0; i++) {
      const before = (await host.stats())[0].requests
      await cat()
      const after = (await host.stats())[0].requests
      const delta = (op: string): number => (after[op] ?? 0) - (before[op] ?? 0)
      const seen = JSON.stringify({ before, after })
      assert.equal(delta('OPEN'), 1, seen) // it decides whether the pages are still good
      for (const op of ['FLUSH', 'LOOKUP']) assert.equal(delta(op), 0, `${op}: ${seen}`)
      assert.ok(delta('GETATTR') === 0 || (readBefore && delta('GETATTR') === 1), `GETATTR: ${seen}`)
      reads = delta('READ')
      readBefore = reads > 0
      if (reads === 0 && delta('GETATTR') > 0) reads = -1 // try again: this one paid the last one's READ
    }
    assert.equal(reads, 0, `READ or GETATTR in each of ${CACHED_READ_TRIES} re-reads`)
  })

  test('inode numbers belong to paths: unique, and the same in a new mount whatever the order of lookups', async (t) => {
    const names = Array.from({ length: 50 }, (_, i) => `many/f${String(i).padStart(5, '0')}`)
    const inodes = async (order: string[]): Promise<Map<string, string>> => {
      const host = await startNativeHost(t, { files: 50 })
      const r = await run('sh', ['-c', `cd '${host.mnts[0]}' && stat -c '%i %n' ${order.join(' ')}`])
      assert.equal(r.code, 0, r.stderr)
      return new Map(r.stdout.trim().split('\n').map((l) => { const [ino, name] = l.split(' '); return [name, ino] }))
    }
    const first = await inodes(names)
    const second = await inodes([...names].reverse())
    assert.equal(new Set(first.values()).size, names.length)
    for (const name of names) assert.equal(second.get(name), first.get(name), name)
  })

  test('a reader on another mount of the same drive sees new bytes and size after a change, never stale ones', async (t) => {
    const host = await startNativeHost(t, { mounts: 2 })
    const [writer, reader] = host.mnts
    const w = join(writer, 'shared.txt')
    const r = join(reader, 'shared.txt')
    await writeFile(w, 'one\n')
    assert.equal(await readFile(r, 'utf8'), 'one\n')
    assert.equal(await readFile(r, 'utf8'), 'one\n') // now in the reader's page cache

    // another size: the next open must not stop at the old end
    await writeFile(w, 'two, and longer\n')
    assert.equal(await readFile(r, 'utf8'), 'two, and longer\n')
    await settle(async () => (await stat(r)).size === 16, 'the reader kept the old size')

    // the same size and the same mtime: only the content (and ctime) changed
    const before = (await run('stat', ['-c', '%.3Y', w])).stdout.trim()
    await writeFile(w, 'TWO, AND LONGER\n')
    assert.equal((await run('touch', ['-m', '-d', `@${before}`, w])).code, 0)
    assert.equal(await readFile(r, 'utf8'), 'TWO, AND LONGER\n')

    // a name that appears, and one that goes
    await writeFile(join(writer, 'new.txt'), 'new\n')
    assert.equal(await readFile(join(reader, 'new.txt'), 'utf8'), 'new\n')
    assert.equal((await run('rm', [w])).code, 0)
    await settle(async () => stat(r).then(() => false, () => true), 'the reader still sees a removed file')
  })

  test('a folder listed again soon comes from the kernel\'s cache, with no listing from the drive; a name added or removed on another mount shows in the next listing', async (t) => {
    const host = await startNativeHost(t, { mounts: 2, files: 50 })
    const [writer, reader] = host.mnts
    const folder = join(reader, 'many')
    const listing = async (): Promise<string[]> => (await readdir(folder)).sort()
    const readdirs = async (): Promise<number> => (await host.stats())[1].requests.READDIR ?? 0
    const first = await listing()
    assert.equal(first.length, 50)
    const listed = await readdirs()
    assert.ok(listed >= 1)
    assert.deepEqual(await listing(), first)
    assert.deepEqual(await run('ls', ['-l', folder]).then((r) => r.code), 0)
    assert.equal(await readdirs(), listed, 'the second listing and ls -l were read from the kernel\'s cache')

    // changed on the other mount: the cached listing must go
    await writeFile(join(writer, 'many', 'added.txt'), 'x')
    await settle(async () => (await listing()).includes('added.txt'), 'the reader\'s listing lacks a file added on the writer')
    assert.equal((await run('rm', [join(writer, 'many', 'f00003')])).code, 0)
    await settle(async () => !(await listing()).includes('f00003'), 'the reader\'s listing still has a file removed on the writer')
    // a folder that appears with its first file shows in the listing above it
    await mkdir(join(writer, 'many', 'sub'))
    await writeFile(join(writer, 'many', 'sub', 'inner.txt'), 'y')
    await settle(async () => (await listing()).includes('sub'), 'the reader\'s listing lacks a new folder')
    assert.deepEqual(await readdir(join(folder, 'sub')), ['inner.txt'])
  })
})

describe('native binding: over replication', { skip: FUSE_SKIP || (!('addon' in loadNativeAddon()) && 'the addon is not built') }, () => {
  test('a replica\'s mount moves from the old file to the new one whole: never new bytes at the old size, nor old bytes', async (t) => {
    const host = await startNativeHost(t, { mounts: 2, replica: true })
    const [writer, reader] = host.mnts
    const w = join(writer, 'doc.txt')
    const r = join(reader, 'doc.txt')
    const old = 'the old content\n'
    const next = 'the new content, longer than the old\n'
    await writeFile(w, old)
    await settle(async () => (await readFile(r, 'utf8').catch(() => '')) === old, 'the replica never got the first version')
    await writeFile(w, next)
    // until replication brings the change, the reader sees the old file;
    // from then on the new one, bytes and size together
    let seenNew = false
    await settle(async () => {
      const [bytes, size] = [await readFile(r, 'utf8'), (await stat(r)).size]
      if (bytes === next) seenNew = true
      else assert.equal(bytes, old, 'a torn read')
      if (seenNew) assert.equal(bytes, next, 'the old bytes came back')
      return seenNew && size === Buffer.byteLength(next)
    }, 'the replica never showed the new version')
  })
})

describe('native binding: unmount', { skip: FUSE_SKIP || (!('addon' in loadNativeAddon()) && 'the addon is not built') }, () => {
  test('unmount does not wait for a process that still has its working folder in the mount', async (t) => {
    const host = await startNativeHost(t)
    const inside = spawn('sleep', ['60'], { cwd: host.mnts[0], stdio: 'ignore' })
    t.after(() => { inside.kill('SIGKILL') })
    await new Promise((resolve) => inside.once('spawn', resolve))
    assert.equal(await host.stop(), 0, host.log())
    // the mount is gone for everyone, the process inside included
    assert.equal(await isMounted(host.mnts[0]), false)
  })
})

async function settle (ok: () => Promise<boolean>, why: string): Promise<void> {
  for (let waited = 0; !(await ok()); waited += 50) {
    if (waited >= SETTLE_MS) assert.fail(`${why} after ${SETTLE_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
