// df on a mount tells the truth about space: "used" is what this machine holds
// of the drive, "available" what the disk under the storage folder can still
// take (before, it showed 0 free on a writable drive held here).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { statfsSync, writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { FUSE_SKIP, fileSandbox, lastLine, run } from './cli-harness.js'

const box = fileSandbox()
const a = box.node('a')
// other tests write to the same disk meanwhile: free space may move this much between the two looks
const SLACK = 2 * 1024 * 1024 * 1024

test('statfs of a mount reports the free space of the disk under the storage folder', { skip: FUSE_SKIP, timeout: 60_000 }, async () => {
  const src = join(box.dir, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'a.bin'), Buffer.alloc(200_000, 7))
  const key = lastLine((await a.hyperfs(['create', src])).stdout)
  const m = box.mountpoint('m')
  const mounted = await a.hyperfs(['mount', key, m])
  assert.equal(mounted.code, 0, mounted.stderr)
  try {
    const r = await run('python3', ['-c', 'import os, sys, json; s = os.statvfs(sys.argv[1]); print(json.dumps([s.f_frsize, s.f_blocks, s.f_bavail]))', m])
    assert.equal(r.code, 0, r.stderr)
    const [frsize, blocks, bavail] = JSON.parse(r.stdout) as number[]
    const disk = statfsSync(a.storage)
    const free = disk.bavail * disk.bsize
    assert.ok(Math.abs(bavail * frsize - free) < SLACK, `the mount says ${bavail * frsize} bytes free, the disk ${free}`)
    // size = what is held (the 200 kB file, a block at least) plus what is free
    assert.ok((blocks - bavail) * frsize >= 200_000, `used ${(blocks - bavail) * frsize} bytes`)
  } finally {
    await a.hyperfs(['unmount', m])
  }
})
