// The FUSE suites on a drive in hyperdrive@13's format: on disk (a writer),
// and as a replica opened by key in a second store and fed over replication.
// Only the tests of mounts inside the drive skip (the hosts report they
// cannot nest): the format has no mount entries, and mount() is EOPNOTSUPP
// (test/drive/drive-suite.ts checks that).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { prng, randomBuffer, tmpDir } from '../helpers/tmp.js'
import { FUSE_SKIP, HYPERDRIVE13_FIXTURE, HYPERDRIVE13_REPLICA_FIXTURE, run, startHost } from './mount-harness.js'
import { complianceSuite } from './suites/compliance.js'
import { listingCacheSuite } from './suites/listing-cache.js'
import { readOnlySuite } from './suites/read-only.js'
import { readFailuresSuite } from './suites/read-failures.js'
import { recoverySuite } from './suites/recovery.js'
import { coreMountSuite, versionsAndMountsSuite } from './suites/versions-and-mounts.js'

const MiB = 1024 * 1024

function sha256 (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

async function xattrNumber (path: string, name: string): Promise<number> {
  const r = await run('python3', ['-c', 'import os, sys; print(int(os.getxattr(sys.argv[1], sys.argv[2])))', path, name])
  assert.equal(r.code, 0, r.stderr)
  return Number(r.stdout)
}

complianceSuite(HYPERDRIVE13_FIXTURE)
readOnlySuite(HYPERDRIVE13_FIXTURE)
readFailuresSuite(HYPERDRIVE13_FIXTURE)
recoverySuite(HYPERDRIVE13_FIXTURE)
versionsAndMountsSuite(HYPERDRIVE13_FIXTURE)
coreMountSuite(HYPERDRIVE13_FIXTURE)
listingCacheSuite(HYPERDRIVE13_FIXTURE)

test('a hyperdrive13 replica mounted read-only reads lazily and fails with EIO once the writer is gone', { skip: FUSE_SKIP, timeout: 120_000 }, async (t) => {
  const seed = tmpDir(t, 'hyperfs-seed-')
  const work = tmpDir(t, 'hyperfs-work-')
  const rand = prng(13)
  const blob = randomBuffer(rand, 8 * MiB + 123)
  const untouched = randomBuffer(rand, 2 * MiB)
  writeFileSync(join(seed, 'blob.bin'), blob)
  writeFileSync(join(seed, 'untouched.bin'), untouched)
  writeFileSync(join(seed, 'readme.txt'), 'replicated\n')
  mkdirSync(join(seed, 'docs'))
  for (let i = 0; i < 20; i++) writeFileSync(join(seed, 'docs', `n${i}.txt`), `note ${i}\n`)

  const host = await startHost(t, { fixture: HYPERDRIVE13_REPLICA_FIXTURE, seed, readTimeout: 2000 })
  const mnt = host.mnt
  const local = () => xattrNumber(mnt, 'hyperfs.local-bytes')

  await t.test('the replica is read-only and knows the size of all content', async () => {
    assert.equal(host.caps.writable, false)
    const total = await xattrNumber(mnt, 'hyperfs.byte-length')
    assert.ok(total >= blob.length + untouched.length, `byte-length ${total}`)
  })

  await t.test('ls -lR lists the whole tree without fetching any file content', async () => {
    const r = await run('ls', ['-lR', mnt])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /blob\.bin/)
    assert.match(r.stdout, /n19\.txt/)
    assert.equal((await readdir(join(mnt, 'docs'))).length, 20)
    assert.equal(await local(), 0)
  })

  await t.test('dd of 64 KiB from the middle of a file returns its bytes and fetches only blocks near them', async () => {
    const off = 4 * MiB + 4321
    const out = join(work, 'piece')
    const r = await run('dd', [`if=${join(mnt, 'blob.bin')}`, `of=${out}`, 'bs=65536', `skip=${off}`, 'count=65536', 'iflag=skip_bytes,count_bytes'])
    assert.equal(r.code, 0, r.stderr)
    assert.ok((await readFile(out)).equals(blob.subarray(off, off + 65536)))
    const have = await local()
    assert.ok(have >= 65536 && have <= 2 * MiB, `local bytes after one 64 KiB read: ${have}`)
  })

  await t.test('cat and sha256sum of whole files match the writer\'s bytes', async () => {
    assert.equal((await run('cat', [join(mnt, 'readme.txt')])).stdout, 'replicated\n')
    const r = await run('sha256sum', [join(mnt, 'blob.bin'), join(mnt, 'docs', 'n7.txt')])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split(' ')[0]), [sha256(blob), sha256(Buffer.from('note 7\n'))])
  })

  await t.test('with the writer gone, a block never fetched is EIO within the read timeout', async () => {
    host.signal('SIGUSR2')
    await host.waitForLog(/replica: disconnected/)
    // the bound is for the test only: a hang fails here, it does not stall the suite
    const r = await run('cat', [join(mnt, 'untouched.bin')], { timeout: 30_000 })
    assert.notEqual(r.code, null, 'cat hung')
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /Input\/output error/)
  })

  await t.test('with the writer gone, blocks already fetched still read', async () => {
    const r = await run('sha256sum', [join(mnt, 'blob.bin')])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.split(' ')[0], sha256(blob))
  })
})

readOnlySuite(HYPERDRIVE13_REPLICA_FIXTURE)
readFailuresSuite(HYPERDRIVE13_REPLICA_FIXTURE)
recoverySuite(HYPERDRIVE13_REPLICA_FIXTURE)
listingCacheSuite(HYPERDRIVE13_REPLICA_FIXTURE)
