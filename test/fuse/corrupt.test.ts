// A flipped byte in a drive's content data file, read through a real mount:
// the read is EIO (never the wrong byte) and the host logs STORAGE_CORRUPT
// naming the file and the block. (A replica fetching the block again is
// tested on the drive and through the CLI: through a mount, the first read
// that brings the blocks also checks them, and checked blocks are trusted
// until the drive is opened again.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, openSync, readdirSync, readlinkSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { prng, randomBuffer, tmpDir } from '../helpers/tmp.js'
import { FUSE_SKIP, HYPERDRIVE_FIXTURE, run, startHost, type Host } from './mount-harness.js'

const BLOCK = 64 * 1024
const DATA = randomBuffer(prng(11), 6 * BLOCK + 321)

// the content data file the host has open: the largest `data` file under
// `inside` (the metadata core's holds a few small trie nodes)
function contentDataFile (host: Host, inside: string): string {
  const files = new Set<string>()
  for (const fd of readdirSync(`/proc/${host.pid}/fd`)) {
    let target: string
    try { target = readlinkSync(`/proc/${host.pid}/fd/${fd}`) } catch { continue }
    if (target.endsWith('/data') && target.includes(inside)) files.add(target)
  }
  const list = [...files].sort((a, b) => statSync(b).size - statSync(a).size)
  assert.ok(list.length > 0 && statSync(list[0]).size >= DATA.length, `no content data file among ${[...files].join(', ')}`)
  return list[0]
}

function flipByte (file: string, offset: number): void {
  const fd = openSync(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, offset)
    b[0] ^= 0x10
    writeSync(fd, b, 0, 1, offset)
  } finally {
    closeSync(fd)
  }
}

test('a flipped byte in the writer\'s content data file is EIO through the mount and logged as STORAGE_CORRUPT', { skip: FUSE_SKIP, timeout: 90_000 }, async (t) => {
  const seed = tmpDir(t, 'hyperfs-seed-')
  writeFileSync(join(seed, 'f.bin'), DATA)
  const host = await startHost(t, { fixture: HYPERDRIVE_FIXTURE, seed })
  const data = contentDataFile(host, '/cores/')
  flipByte(data, 3 * BLOCK + 1234) // the file is the first content: block 3

  const cat = await run('cat', [join(host.mnt, 'f.bin')])
  assert.notEqual(cat.code, 0)
  assert.match(cat.stderr, /Input\/output error/)
  await host.waitForLog(/STORAGE_CORRUPT: \S+\/data: block 3 does not match its hash/)
  assert.ok(host.log().includes(data), 'the log names the file')

  // the blocks before it read, the damaged one never does, from any offset
  const head = await run('python3', ['-c', 'import sys; f = open(sys.argv[1], "rb"); sys.stdout.write(f.read(3 * 65536).hex())', join(host.mnt, 'f.bin')])
  assert.equal(head.code, 0, head.stderr)
  assert.equal(head.stdout, DATA.subarray(0, 3 * BLOCK).toString('hex'))
  const inside = await run('python3', ['-c', 'import os, sys; f = os.open(sys.argv[1], os.O_RDONLY); os.pread(f, 100, 3 * 65536 + 1200)', join(host.mnt, 'f.bin')])
  assert.notEqual(inside.code, 0)
  assert.match(inside.stderr, /Input\/output error/)
})
