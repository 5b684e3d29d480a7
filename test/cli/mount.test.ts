// hyperfs mount on one machine: a new drive is writable through the mount;
// --version mounts a read-only checkout of the past.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { FUSE_SKIP, lastLine, run, sandbox } from './cli-harness.js'

test('mount new gives a writable drive whose files the CLI sees; --version mounts a read-only past version', { skip: FUSE_SKIP, timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const m = box.mountpoint('m')
  const mounted = await a.hyperfs(['mount', 'new', m, '--json'])
  assert.equal(mounted.code, 0, mounted.stderr)
  const record = JSON.parse(mounted.stdout)
  assert.equal(record.writable, true)
  const link = record.key

  await writeFile(join(m, 'a.txt'), 'first\n')
  assert.equal((await a.hyperfs(['cat', link, '/a.txt'])).stdout, 'first\n')
  const v1 = JSON.parse((await a.hyperfs(['info', link, '--json'])).stdout).version
  await writeFile(join(m, 'a.txt'), 'second\n')
  await writeFile(join(m, 'b.txt'), 'later\n')

  const old = box.mountpoint('old')
  const pinned = await a.hyperfs(['mount', link, old, '--version', String(v1)])
  assert.equal(pinned.code, 0, pinned.stderr)
  assert.match(pinned.stdout, new RegExp(`version ${v1} .*read-only`))
  assert.equal(await readFile(join(old, 'a.txt'), 'utf8'), 'first\n')
  assert.deepEqual((await readdir(old)).sort(), ['a.txt'])
  const write = await run('sh', ['-c', `echo x > ${join(old, 'c.txt')}`])
  assert.notEqual(write.code, 0)
  assert.match(write.stderr, /Read-only file system/)

  const status = JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout)
  assert.deepEqual(status.mounts.map((r: { mountpoint: string }) => r.mountpoint).sort(), [m, old].sort())

  const future = await a.hyperfs(['mount', link, box.mountpoint('future'), '--version', '9999'])
  assert.equal(future.code, 1)
  assert.match(future.stderr, /version 9999 does not exist/)

  assert.equal((await a.hyperfs(['unmount', old])).code, 0)
  assert.equal((await a.hyperfs(['unmount', m])).code, 0)
  assert.equal(lastLine((await a.hyperfs(['cat', link, '/b.txt'])).stdout), 'later')
})
