// A read-only drive, and a checkout of a past version, refuse every change
// with EROFS while reads keep working.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { appendFile, chmod, mkdir, open, readFile, rename, rmdir, symlink, truncate, unlink, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpDir } from '../../helpers/tmp.js'
import { FUSE_SKIP, type Fixture, run, startHost } from '../mount-harness.js'

async function assertRefusesChanges (mnt: string): Promise<void> {
  const erofs = { code: 'EROFS' }
  await assert.rejects(writeFile(join(mnt, 'new.txt'), 'x'), erofs)
  await assert.rejects(appendFile(join(mnt, 'a.txt'), 'x'), erofs)
  await assert.rejects(open(join(mnt, 'a.txt'), 'r+'), erofs)
  await assert.rejects(truncate(join(mnt, 'a.txt'), 0), erofs)
  await assert.rejects(unlink(join(mnt, 'a.txt')), erofs)
  await assert.rejects(mkdir(join(mnt, 'dir2')), erofs)
  await assert.rejects(rmdir(join(mnt, 'dir')), erofs)
  await assert.rejects(rename(join(mnt, 'a.txt'), join(mnt, 'b.txt')), erofs)
  await assert.rejects(symlink('a.txt', join(mnt, 'link')), erofs)
  await assert.rejects(chmod(join(mnt, 'a.txt'), 0o600), erofs)
  const py = await run('python3', ['-c', `
import os, sys
try:
    os.setxattr(sys.argv[1], 'user.x', b'1')
except OSError as e:
    print(e.errno)
`, join(mnt, 'a.txt')])
  assert.equal(py.stdout.trim(), '30') // EROFS
  const cp = await run('cp', [join(mnt, 'a.txt'), join(mnt, 'c.txt')])
  assert.notEqual(cp.code, 0)
  assert.match(cp.stderr, /Read-only file system/)

  // and nothing changed
  assert.equal(await readFile(join(mnt, 'a.txt'), 'utf8'), 'alpha\n')
  assert.equal(await readFile(join(mnt, 'dir', 'b.txt'), 'utf8'), 'beta\n')
}

function seed (dir: string): void {
  writeFileSync(join(dir, 'a.txt'), 'alpha\n')
  mkdirSync(join(dir, 'dir'))
  writeFileSync(join(dir, 'dir', 'b.txt'), 'beta\n')
}
export function readOnlySuite (fixture: Fixture): void {
  describe(fixture.name, () => {
    test('a read-only drive answers EROFS to every change and still reads', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
      const dir = tmpDir(t, 'hyperfs-seed-')
      seed(dir)
      const host = await startHost(t, { fixture, seed: dir, readOnly: true })
      assert.equal(host.caps.writable, false)
      await assertRefusesChanges(host.mnt)
    })

    test('a checkout of a version answers EROFS to every change and still reads', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
      const dir = tmpDir(t, 'hyperfs-seed-')
      seed(dir)
      const host = await startHost(t, { fixture, seed: dir, checkout: true })
      assert.equal(host.caps.writable, false)
      await assertRefusesChanges(host.mnt)
    })
  })
}
