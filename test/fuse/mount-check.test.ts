// Why a mount would fail, found before the binding tries: each cause is a
// FUSE_FAILED whose message says what is wrong (fuse-native itself says only
// "fuse failed"). The CLI side of this is in mount-errors.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isHyperfsError } from '../../src/errors.js'
import { checkMountpoint } from '../../src/fuse/mount-check.js'
import { tmpDir } from '../helpers/tmp.js'
import { FUSE_SKIP } from './mount-harness.js'

const OK = { nonEmpty: false, helper: 'sh' }
const NOBODY = 65534

async function reason (p: Promise<void>): Promise<string> {
  try {
    await p
  } catch (err) {
    assert.ok(isHyperfsError(err, 'FUSE_FAILED'), String(err))
    return err.message
  }
  assert.fail('the check passed')
}

test('a missing mount point, or one that is a file, is named as such', async (t) => {
  const dir = tmpDir(t)
  writeFileSync(join(dir, 'file'), 'x')
  assert.match(await reason(checkMountpoint(join(dir, 'nope'), OK)), /cannot mount at .*\/nope: it does not exist/)
  assert.match(await reason(checkMountpoint(join(dir, 'file'), OK)), /cannot mount at .*\/file: it is not a directory/)
})

test('a mount point with entries is refused as not empty, unless non-empty mounts are allowed', { skip: FUSE_SKIP }, async (t) => {
  const dir = tmpDir(t)
  writeFileSync(join(dir, 'a'), 'x')
  assert.match(await reason(checkMountpoint(dir, OK)), /it is not empty \(1 entry\)/)
  await checkMountpoint(dir, { ...OK, nonEmpty: true })
})

test('a missing /dev/fuse and a missing fusermount are named', async (t) => {
  const dir = tmpDir(t)
  assert.match(await reason(checkMountpoint(dir, { ...OK, device: join(dir, 'no-fuse') })), /no-fuse is missing: load the fuse module/)
  if (FUSE_SKIP) return
  assert.match(await reason(checkMountpoint(dir, { ...OK, helper: 'hyperfs-no-such-helper' })), /hyperfs-no-such-helper was not found on PATH/)
})

test('a user without permission on the FUSE device is told so', { skip: process.getuid?.() === 0 ? false : 'needs root, to run the check as another user' }, async (t) => {
  const dir = tmpDir(t)
  chmodSync(dir, 0o755)
  const mnt = join(dir, 'mnt')
  mkdirSync(mnt, { mode: 0o777 })
  const device = join(dir, 'fuse')
  writeFileSync(device, '', { mode: 0o600 }) // root's only, as /dev/fuse often is
  const module = fileURLToPath(new URL('../../src/fuse/mount-check.js', import.meta.url))
  const script = `import(${JSON.stringify(module)}).then((m) => m.checkMountpoint(${JSON.stringify(mnt)}, { nonEmpty: false, helper: 'sh', device: ${JSON.stringify(device)} })).then(() => console.log('passed'), (e) => console.log(e.message))`
  const out = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { uid: NOBODY, gid: NOBODY, timeout: 30_000 }, (err, stdout, stderr) => err ? reject(new Error(stderr || err.message)) : resolve(stdout))
  })
  assert.match(out, /no permission to open .*\/fuse/)
})
