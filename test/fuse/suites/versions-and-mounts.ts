// Past versions through the mount (/.versions/<N>/..., and a host serving one
// version) and drives mounted inside the drive, which appear as folders.
// coreMountSuite: a raw core mounted inside the drive, which appears as a
// read-only file of the core's bytes; it only reads, so replicas run it too.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { lstat, open, readdir, readFile, rename, rmdir, stat, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpDir } from '../../helpers/tmp.js'
import { FUSE_SKIP, type Fixture, run, startHost } from '../mount-harness.js'
import { coreBlocks, pattern } from '../fixtures/pattern.js'

function seed (dir: string): void {
  writeFileSync(join(dir, 'a.txt'), 'alpha\n')
  mkdirSync(join(dir, 'dir'))
  writeFileSync(join(dir, 'dir', 'b.txt'), 'beta\n')
}

async function version (mnt: string): Promise<number> {
  const r = await run('python3', ['-c', 'import os, sys; print(int(os.getxattr(sys.argv[1], "hyperfs.version")))', mnt])
  assert.equal(r.code, 0, r.stderr)
  return Number(r.stdout)
}

export function versionsAndMountsSuite (fixture: Fixture): void {
  describe(fixture.name, () => {
    test('past versions are browsable read-only under /.versions, which the root does not list', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
      const dir = tmpDir(t, 'hyperfs-seed-')
      seed(dir)
      const { mnt } = await startHost(t, { fixture, seed: dir })
      const seeded = await version(mnt)
      await writeFile(join(mnt, 'a.txt'), 'changed\n')
      await unlink(join(mnt, 'dir', 'b.txt'))
      const now = await version(mnt)
      assert.ok(now > seeded)

      const past = join(mnt, '.versions', String(seeded))
      assert.equal(await readFile(join(past, 'a.txt'), 'utf8'), 'alpha\n')
      assert.equal(await readFile(join(past, 'dir', 'b.txt'), 'utf8'), 'beta\n')
      assert.equal(await readFile(join(mnt, 'a.txt'), 'utf8'), 'changed\n')
      const diff = await run('diff', ['-r', dir, past])
      assert.equal(diff.code, 0, diff.stdout + diff.stderr)

      assert.ok(!(await readdir(mnt)).includes('.versions'))
      const versions = await readdir(join(mnt, '.versions'))
      assert.ok(versions.includes(String(seeded)) && versions.includes(String(now)), versions.join(' '))
      assert.ok((await stat(join(mnt, '.versions'))).isDirectory())

      await assert.rejects(writeFile(join(past, 'a.txt'), 'x'), { code: 'EROFS' })
      await assert.rejects(writeFile(join(past, 'new.txt'), 'x'), { code: 'EROFS' })
      await assert.rejects(unlink(join(past, 'a.txt')), { code: 'EROFS' })
      await assert.rejects(rename(join(mnt, 'a.txt'), join(past, 'a.txt')), { code: 'EROFS' })
      await assert.rejects(stat(join(mnt, '.versions', String(now + 1000))), { code: 'ENOENT' })
      await assert.rejects(stat(join(mnt, '.versions', 'latest')), { code: 'ENOENT' })
    })

    test('a host started with a version serves that checkout, read-only', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
      const dir = tmpDir(t, 'hyperfs-seed-')
      seed(dir)
      const first = await startHost(t, { fixture, seed: dir })
      // the same seed gives the same versions; the last one added dir/b.txt
      const before = (await version(first.mnt)) - 1
      const expected = await readdir(join(first.mnt, '.versions', String(before), 'dir'))
      await first.stop()

      const host = await startHost(t, { fixture, seed: dir, version: before })
      assert.equal(host.caps.writable, false)
      assert.deepEqual(expected, [])
      assert.deepEqual(await readdir(join(host.mnt, 'dir')), expected)
      assert.equal(await readFile(join(host.mnt, 'a.txt'), 'utf8'), 'alpha\n')
      await assert.rejects(writeFile(join(host.mnt, 'a.txt'), 'x'), { code: 'EROFS' })
    })

    test('a drive mounted inside the drive is a folder holding its files', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
      const dir = tmpDir(t, 'hyperfs-seed-')
      seed(dir)
      const host = await startHost(t, { fixture, seed: dir, nested: ['/sub'] })
      if (!host.caps.nested) return t.skip('this drive kind cannot mount other drives')
      const mnt = host.mnt
      assert.deepEqual((await readdir(mnt)).sort(), ['a.txt', 'dir', 'sub'])
      assert.ok((await stat(join(mnt, 'sub'))).isDirectory())
      assert.deepEqual(await readdir(join(mnt, 'sub')), ['hello.txt'])
      assert.equal(await readFile(join(mnt, 'sub', 'hello.txt'), 'utf8'), 'from the mounted drive\n')
      const cat = await run('cat', [join(mnt, 'sub', 'hello.txt')])
      assert.equal(cat.stdout, 'from the mounted drive\n')

      await writeFile(join(mnt, 'sub', 'new.txt'), 'written through the mount\n')
      assert.equal(await readFile(join(mnt, 'sub', 'new.txt'), 'utf8'), 'written through the mount\n')
      assert.deepEqual((await readdir(join(mnt, 'sub'))).sort(), ['hello.txt', 'new.txt'])
      assert.deepEqual((await readdir(mnt)).sort(), ['a.txt', 'dir', 'sub'])

      await assert.rejects(rename(join(mnt, 'a.txt'), join(mnt, 'sub', 'a.txt')), { code: 'EXDEV' })
      await assert.rejects(rmdir(join(mnt, 'sub')), { code: 'EBUSY' })
      // mv falls back to copy and delete on EXDEV, as between two filesystems
      const mv = await run('mv', [join(mnt, 'a.txt'), join(mnt, 'sub', 'a.txt')])
      assert.equal(mv.code, 0, mv.stderr)
      assert.equal(await readFile(join(mnt, 'sub', 'a.txt'), 'utf8'), 'alpha\n')
      await assert.rejects(stat(join(mnt, 'a.txt')), { code: 'ENOENT' })
    })
  })
}

export function coreMountSuite (fixture: Fixture): void {
  describe(fixture.name, () => {
    test('a raw core mounted inside the drive is a read-only file of the core\'s bytes', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
      const dir = tmpDir(t, 'hyperfs-seed-')
      seed(dir)
      const host = await startHost(t, { fixture, seed: dir, nestedCores: ['/dir/log'] })
      if (!host.caps.nestedCore) return t.skip('this drive kind cannot mount raw cores')
      const file = join(host.mnt, 'dir', 'log')
      const size = coreBlocks().reduce((n, b) => n + b.length, 0)
      const expected = pattern(0, size)

      assert.deepEqual((await readdir(join(host.mnt, 'dir'))).sort(), ['b.txt', 'log'])
      const st = await lstat(file)
      assert.ok(st.isFile(), `mode ${st.mode.toString(8)}`)
      assert.equal(st.mode & 0o777, 0o444)
      assert.equal(st.size, size)
      const ls = await run('ls', ['-l', join(host.mnt, 'dir')])
      assert.equal(ls.code, 0, ls.stderr)
      assert.match(ls.stdout, new RegExp(`^-r--r--r-- .* ${size} .* log$`, 'm'))

      assert.ok((await readFile(file)).equals(expected))
      const off = size - 12_345
      const dd = await run('sh', ['-c', `dd if='${file}' bs=4096 skip=${off} count=5000 iflag=skip_bytes,count_bytes status=none | od -An -tu1 -v | tr -s ' \n' ' '`])
      assert.equal(dd.code, 0, dd.stderr)
      assert.deepEqual(dd.stdout.trim().split(' ').map(Number), [...expected.subarray(off, off + 5000)])

      await assert.rejects(readdir(file), { code: 'ENOTDIR' })
      await assert.rejects(open(file, 'r+'), { code: 'EROFS' })
    })
  })
}
