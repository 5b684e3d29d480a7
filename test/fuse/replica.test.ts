// A reader of a Hyperdrive, replicated from its writer over real replication
// streams, mounted read-only: programs read it as if it were local, each read
// fetches only the blocks it needs (hyperfs.local-bytes counts what arrived),
// and once the writer is gone a block that never arrived is EIO, not a hang.
// The shared read-only, read-failure, recovery, core-mount and listing-cache
// suites run on it too.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { prng, randomBuffer, tmpDir } from '../helpers/tmp.js'
import { FUSE_SKIP, REPLICA_FIXTURE, run, startHost } from './mount-harness.js'
import { listingCacheSuite } from './suites/listing-cache.js'
import { readOnlySuite } from './suites/read-only.js'
import { readFailuresSuite } from './suites/read-failures.js'
import { recoverySuite } from './suites/recovery.js'
import { coreMountSuite } from './suites/versions-and-mounts.js'

const MiB = 1024 * 1024

function sha256 (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

async function xattrNumber (path: string, name: string): Promise<number> {
  const r = await run('python3', ['-c', 'import os, sys; print(int(os.getxattr(sys.argv[1], sys.argv[2])))', path, name])
  assert.equal(r.code, 0, r.stderr)
  return Number(r.stdout)
}

test('a replica mounted read-only reads lazily and fails with EIO once the writer is gone', { skip: FUSE_SKIP, timeout: 180_000 }, async (t) => {
  const seed = tmpDir(t, 'hyperfs-seed-')
  const work = tmpDir(t, 'hyperfs-work-')
  const rand = prng(7)
  const blob = randomBuffer(rand, 8 * MiB + 123)
  const untouched = randomBuffer(rand, 2 * MiB)
  writeFileSync(join(seed, 'blob.bin'), blob)
  writeFileSync(join(seed, 'untouched.bin'), untouched)
  writeFileSync(join(seed, 'readme.txt'), 'replicated\n')
  mkdirSync(join(seed, 'docs'))
  for (let i = 0; i < 20; i++) writeFileSync(join(seed, 'docs', `n${i}.txt`), `note ${i}\n`)
  // noise keeps the encoder from squeezing it: ~15 MB, a keyframe each second
  const mk = await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=10:size=320x240:rate=25',
    '-vf', 'noise=alls=40:allf=t', '-c:v', 'mpeg4', '-q:v', '4', '-g', '25', '-y', join(seed, 'video.mp4')], { timeout: 90_000 })
  assert.equal(mk.code, 0, mk.stderr)
  const video = await readFile(join(seed, 'video.mp4'))

  const host = await startHost(t, { fixture: REPLICA_FIXTURE, seed, readTimeout: 2000 })
  const mnt = host.mnt
  const total = await xattrNumber(mnt, 'hyperfs.byte-length')
  const local = () => xattrNumber(mnt, 'hyperfs.local-bytes')

  await t.test('the replica is read-only and knows the size of all content', async () => {
    assert.equal(host.caps.writable, false)
    assert.ok(total >= blob.length + untouched.length + video.length, `byte-length ${total}`)
  })

  await t.test('ls -lR lists the whole tree without fetching any file content', async () => {
    const r = await run('ls', ['-lR', mnt])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stdout, /blob\.bin/)
    assert.match(r.stdout, /n19\.txt/)
    assert.deepEqual((await readdir(join(mnt, 'docs'))).length, 20)
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

  await t.test('ffprobe and ffmpeg -ss read a video without fetching all of it', async () => {
    const before = await local()
    const file = join(mnt, 'video.mp4')
    const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height,nb_frames', '-of', 'json', file])
    assert.equal(probe.code, 0, probe.stderr)
    const stream = JSON.parse(probe.stdout).streams[0]
    assert.deepEqual([stream.width, stream.height, Number(stream.nb_frames)], [320, 240, 250])
    const frame = join(work, 'frame.png')
    const seek = await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-ss', '8', '-i', file, '-frames:v', '1', '-y', frame], { timeout: 60_000 })
    assert.equal(seek.code, 0, seek.stderr)
    assert.ok((await readFile(frame)).length > 0)
    const fetched = (await local()) - before
    assert.ok(fetched > 0 && fetched < video.length / 2, `fetched ${fetched} of a ${video.length}-byte video`)
  })

  await t.test('cat and sha256sum of whole files match the writer\'s bytes', async () => {
    assert.equal((await run('cat', [join(mnt, 'readme.txt')])).stdout, 'replicated\n')
    const r = await run('sha256sum', [join(mnt, 'blob.bin'), join(mnt, 'video.mp4')])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split(' ')[0]), [sha256(blob), sha256(video)])
    assert.ok(await local() >= blob.length + video.length)
  })

  await t.test('with the writer gone, a block never fetched is EIO within the read timeout', async () => {
    host.signal('SIGUSR2')
    await host.waitForLog(/replica: disconnected/)
    // the bound is for the test only: a hang fails here, it does not stall the suite
    const r = await run('cat', [join(mnt, 'untouched.bin')], { timeout: 30_000 })
    assert.notEqual(r.code, null, 'cat hung')
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /Input\/output error/)
    assert.match(host.log(), /EIO read \/untouched\.bin/)
  })

  await t.test('with the writer gone, blocks already fetched still read', async () => {
    const r = await run('sha256sum', [join(mnt, 'blob.bin')])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout.split(' ')[0], sha256(blob))
  })
})

readOnlySuite(REPLICA_FIXTURE)
readFailuresSuite(REPLICA_FIXTURE)
recoverySuite(REPLICA_FIXTURE)
coreMountSuite(REPLICA_FIXTURE)
listingCacheSuite(REPLICA_FIXTURE)
