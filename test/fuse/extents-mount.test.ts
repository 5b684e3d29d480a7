// Storage growth through a real mount of a drive on disk, in blocks on disk
// (`du` without --apparent-size): changing a byte of a big file, or appending
// a line to a log, stores about what changed, not the file again.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FUSE_SKIP, HYPERDRIVE_FIXTURE, type Host, run, startHost } from './mount-harness.js'

const MiB = 1024 * 1024
const WRITES = 20
const APPENDS = 500

function sha256 (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

// KiB of disk the drive's storage folder takes (the host keeps it in its TMPDIR).
async function driveKiB (tmp: string): Promise<number> {
  const dirs = readdirSync(tmp).filter((n) => n.startsWith('hyperfs-drive-'))
  assert.equal(dirs.length, 1, 'one drive folder')
  const du = await run('du', ['-sk', join(tmp, dirs[0])])
  assert.equal(du.code, 0, du.stderr)
  return Number(du.stdout.split(/\s/)[0])
}

test('through a mount: 20 one-byte writes into a 64 MiB file and 500 appends of 100 bytes grow the storage by well under 4 MiB each', { skip: FUSE_SKIP, timeout: 300_000 }, async (t) => {
  // not tmpDir(): its removal must wait until the host is gone
  const base = mkdtempSync(join(tmpdir(), 'hyperfs-extents-'))
  let host: Host | null = null
  t.after(async () => {
    await host?.stop()
    rmSync(base, { recursive: true, force: true })
  })
  host = await startHost(t, { fixture: HYPERDRIVE_FIXTURE, env: { TMPDIR: base } })
  const big = join(host.mnt, 'big.bin')
  const ref = join(base, 'ref.bin')

  const dd = await run('dd', ['if=/dev/urandom', `of=${ref}`, 'bs=1M', 'count=64', 'status=none'])
  assert.equal(dd.code, 0, dd.stderr)
  const cp = await run('cp', [ref, big])
  assert.equal(cp.code, 0, cp.stderr)
  const before = await driveKiB(base)
  assert.ok(before >= 64 * 1024, `${before} KiB hold the 64 MiB file`)

  for (let i = 0; i < WRITES; i++) {
    const seek = String((i * 3_333_331 + 17) % (64 * MiB))
    for (const of of [big, ref]) {
      const w = await run('sh', ['-c', `printf 'x' | dd of='${of}' bs=1 seek=${seek} count=1 conv=notrunc status=none`])
      assert.equal(w.code, 0, w.stderr)
    }
  }
  const afterWrites = await driveKiB(base)
  t.diagnostic(`${WRITES} one-byte writes into 64 MiB grew the storage by ${afterWrites - before} KiB`)
  assert.ok(afterWrites - before < 1024, `${afterWrites - before} KiB for ${WRITES} one-byte writes`)
  assert.equal(sha256(readFileSync(big)), sha256(readFileSync(ref)), 'the mount reads the written bytes')

  const log = join(host.mnt, 'app.log')
  const logRef = join(base, 'app.log')
  const seed = await run('sh', ['-c', `head -c 100000 /dev/urandom > '${logRef}'`])
  assert.equal(seed.code, 0, seed.stderr)
  copyFileSync(logRef, log)
  const beforeAppends = await driveKiB(base)
  const appends = await run('sh', ['-c', `i=0; while [ $i -lt ${APPENDS} ]; do head -c 100 /dev/urandom > '${base}/line'; cat '${base}/line' >> '${log}' || exit 1; cat '${base}/line' >> '${logRef}'; i=$((i+1)); done`])
  assert.equal(appends.code, 0, appends.stderr)
  const afterAppends = await driveKiB(base)
  t.diagnostic(`${APPENDS} appends of 100 bytes grew the storage by ${afterAppends - beforeAppends} KiB`)
  assert.ok(afterAppends - beforeAppends < 1024, `${afterAppends - beforeAppends} KiB for ${APPENDS} appends of 100 bytes`)
  assert.equal(sha256(readFileSync(log)), sha256(readFileSync(logRef)), 'the log reads as appended')

  const beforeTruncate = await driveKiB(base)
  for (const size of ['10M', '70M', '64M']) {
    const tr = await run('truncate', ['-s', size, big])
    assert.equal(tr.code, 0, tr.stderr)
    await run('truncate', ['-s', size, ref])
  }
  const mv = await run('mv', [big, join(host.mnt, 'moved.bin')])
  assert.equal(mv.code, 0, mv.stderr)
  const afterTruncate = await driveKiB(base)
  t.diagnostic(`three truncates and a rename grew the storage by ${afterTruncate - beforeTruncate} KiB`)
  assert.ok(afterTruncate - beforeTruncate < 64, `${afterTruncate - beforeTruncate} KiB for truncates and a rename`)
  assert.equal(sha256(readFileSync(join(host.mnt, 'moved.bin'))), sha256(readFileSync(ref)))
})
