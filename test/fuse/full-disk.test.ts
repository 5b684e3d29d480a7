// A full disk under a drive on disk, through the mount: the writing program
// is told "No space left on device" (not "Input/output error"), whether the
// disk fills while a big file is staged or when a save commits, and a save
// that failed leaves the drive as it was (an overwritten file keeps its old
// content, whole). Once there is room again, the same drive takes writes.
// The drive and the staged files live on a small tmpfs this test mounts
// (as root) and removes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { readdir, readFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { prng, randomBuffer } from '../helpers/tmp.js'
import { FUSE_SKIP, HYPERDRIVE_FIXTURE, type Host, run, startHost } from './mount-harness.js'

const MiB = 1024 * 1024
const DISK = '6m' // holds the seed; not a 10 MiB save, nor the spill of a 20 MiB one (16 MiB staged in memory first)
const ROOMY = '64m'

const skip = FUSE_SKIP || (process.getuid?.() === 0 ? false : 'needs root to mount a small tmpfs')

function sha256 (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

test('a full disk is ENOSPC to the writing program and a failed save leaves the old content whole', { skip, timeout: 120_000 }, async (t) => {
  // not tmpDir(): its removal must wait until the host and the tmpfs are gone
  const base = mkdtempSync(join(tmpdir(), 'hyperfs-full-'))
  const disk = join(base, 'disk')
  let host: Host | null = null
  t.after(async () => {
    await host?.stop()
    await run('umount', ['-l', disk])
    rmSync(base, { recursive: true, force: true })
  })
  mkdirSync(disk)
  const rand = prng(11)
  const seed = join(base, 'seed')
  mkdirSync(seed)
  const old = randomBuffer(rand, 100_000)
  writeFileSync(join(seed, 'old.bin'), old)
  writeFileSync(join(seed, 'keep.txt'), 'precious\n')
  const ten = join(base, 'ten.bin')
  const tenBytes = randomBuffer(rand, 10 * MiB)
  writeFileSync(ten, tenBytes)

  const mounted = await run('mount', ['-t', 'tmpfs', '-o', `size=${DISK}`, 'tmpfs', disk])
  assert.equal(mounted.code, 0, mounted.stderr)
  host = await startHost(t, { fixture: HYPERDRIVE_FIXTURE, seed, env: { TMPDIR: disk } })
  const mnt = host.mnt

  // a new file whose save does not fit: the commit on close fails
  const dd = await run('dd', ['if=/dev/zero', `of=${join(mnt, 'new.bin')}`, 'bs=1M', 'count=10'])
  assert.notEqual(dd.code, 0)
  assert.match(dd.stderr, /closing output file .*new\.bin.*: No space left on device/)

  // overwriting a file (O_TRUNC) with more than fits: the old bytes stay
  const cp = await run('cp', [ten, join(mnt, 'old.bin')])
  assert.notEqual(cp.code, 0)
  assert.match(cp.stderr, /old\.bin.*: No space left on device/)
  assert.equal(sha256(await readFile(join(mnt, 'old.bin'))), sha256(old))

  // a file too big to stage in memory: the spill to the full disk fails at write
  const huge = await run('dd', ['if=/dev/zero', `of=${join(mnt, 'huge.bin')}`, 'bs=1M', 'count=20'])
  assert.notEqual(huge.code, 0)
  assert.match(huge.stderr, /error writing .*huge\.bin.*: No space left on device/)
  assert.doesNotMatch(dd.stderr + cp.stderr + huge.stderr, /Input\/output error/)

  // no half entry: every name reads whole at its listed size (a file whose
  // save failed is as open(O_CREAT) left it: empty)
  assert.deepEqual((await readdir(mnt)).sort(), ['huge.bin', 'keep.txt', 'new.bin', 'old.bin'])
  for (const name of ['new.bin', 'huge.bin']) assert.equal((await stat(join(mnt, name))).size, 0, name)
  assert.equal(await readFile(join(mnt, 'keep.txt'), 'utf8'), 'precious\n')
  assert.equal((await stat(join(mnt, 'old.bin'))).size, old.length)

  // room again: the same drive takes the save that failed
  const grown = await run('mount', ['-o', `remount,size=${ROOMY}`, disk])
  assert.equal(grown.code, 0, grown.stderr)
  const again = await run('cp', [ten, join(mnt, 'old.bin')])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(sha256(await readFile(join(mnt, 'old.bin'))), sha256(tenBytes))
  assert.equal(await readFile(join(mnt, 'keep.txt'), 'utf8'), 'precious\n')
})
