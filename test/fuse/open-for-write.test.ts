// Through a real mount of the daemon: opening a 64 MiB file for writing and
// writing one byte stages that byte, not a copy of the file (the stage's temp
// file, unlinked but open in the daemon, is measured in blocks on disk through
// /proc/PID/fd), and the file reads right after an unmount and a new mount.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FUSE_SKIP, eventually, lastLine, sandbox } from '../cli/cli-harness.js'

const MiB = 1024 * 1024

// Blocks on disk of the daemon's staged files (open, already unlinked).
function stagedBytes (pid: number): number {
  let n = 0
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    const p = `/proc/${pid}/fd/${fd}`
    let target: string
    try { target = readlinkSync(p) } catch { continue } // closed meanwhile
    if (!target.includes('hyperfs-stage-')) continue
    try { n += statSync(p).blocks * 512 } catch { continue }
  }
  return n
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

test('through a mount: one byte written into a 64 MiB file opened for writing stages a block, not 64 MiB, and reads right after a remount', { skip: FUSE_SKIP, timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const src = join(box.dir, 'src')
  mkdirSync(src)
  const big = randomBytes(64 * MiB)
  writeFileSync(join(src, 'big.bin'), big)
  const created = await a.hyperfs(['create', src], { timeout: 60_000 })
  assert.equal(created.code, 0, created.stderr)
  const key = lastLine(created.stdout)
  const mnt = box.mountpoint('m')
  const mounted = await a.hyperfs(['mount', key, mnt])
  assert.equal(mounted.code, 0, mounted.stderr)
  const pid = a.daemonPid()!

  // a writer that holds the file open after its write, until told to close it
  const at = 40 * MiB + 12345
  const py = spawn('python3', ['-c', `
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
os.pwrite(fd, b'Z', ${at})
print('written', flush=True)
sys.stdin.readline()
os.close(fd)
print('closed', flush=True)
`, join(mnt, 'big.bin')], { stdio: ['pipe', 'pipe', 'pipe'] })
  t.after(() => { if (py.exitCode === null) py.kill('SIGKILL') })
  let out = ''
  let err = ''
  py.stdout.on('data', (d) => { out += d })
  py.stderr.on('data', (d) => { err += d })
  await eventually('the write', () => out.includes('written') || py.exitCode !== null, 30_000)
  assert.match(out, /written/, err)
  const staged = stagedBytes(pid)
  t.diagnostic(`staged on disk while open: ${staged} bytes`)
  assert.ok(staged < MiB, `${staged} bytes staged for a one-byte write into 64 MiB`)
  py.stdin.end('\n')
  await eventually('the close', () => py.exitCode !== null, 30_000)
  assert.equal(py.exitCode, 0, err)

  big[at] = 0x5a
  const unmounted = await a.hyperfs(['unmount', mnt])
  assert.equal(unmounted.code, 0, unmounted.stderr)
  const again = await a.hyperfs(['mount', key, mnt])
  assert.equal(again.code, 0, again.stderr)
  assert.equal(sha(readFileSync(join(mnt, 'big.bin'))), sha(big), 'the file reads right after a remount')
  assert.equal(stagedBytes(a.daemonPid()!), 0, 'nothing stays staged once the file is closed')
  await a.hyperfs(['unmount', mnt])
})
