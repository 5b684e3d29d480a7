// What the user of the real CLI sees when a mount fails: the reason, not
// "fuse failed". The daemon mounts; its FUSE_FAILED crosses the control
// socket and the CLI prints it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FUSE_SKIP, sandbox } from '../cli/cli-harness.js'

test('hyperfs mount on a non-empty folder or on a file says why it cannot mount', { skip: FUSE_SKIP, timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const full = box.mountpoint('full')
  writeFileSync(join(full, 'keep.txt'), 'mine\n')
  const r = await a.hyperfs(['mount', 'new', full])
  assert.equal(r.code, 1, r.stdout)
  assert.match(r.stderr, new RegExp(`cannot mount at ${full}: it is not empty`))
  assert.match(r.stderr, /FUSE_FAILED/)

  const file = join(box.dir, 'file.txt')
  writeFileSync(file, 'x')
  const f = await a.hyperfs(['mount', 'new', file])
  assert.equal(f.code, 1, f.stdout)
  assert.match(f.stderr, new RegExp(`cannot mount at ${file}: it is not a directory`))

  // the refused folder is as it was, and the daemon still mounts elsewhere
  const ok = await a.hyperfs(['mount', 'new', box.mountpoint('empty')])
  assert.equal(ok.code, 0, ok.stderr)
  const status = JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout)
  assert.deepEqual(status.mounts.map((m: { mountpoint: string }) => m.mountpoint), [join(box.dir, 'empty')])
})
