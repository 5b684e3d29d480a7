// Storage that stays bounded, measured on disk (blocks allocated, as du
// counts them without --apparent-size), through the real CLI and daemons on
// 127.0.0.1: gc gives back what rm removed, a reader's cache stays near its
// cap while right bytes stream through it, and pinned content stays.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync, readdirSync, lstatSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { RoutedDrive } from '../../src/drive/routed-drive.js'
import { BIN, lastLine, sandbox, eventually, type Sandbox, type Node } from '../cli/cli-harness.js'

const MiB = 1024 * 1024
const TIMEOUT = '3000' // ms a read waits for a peer's blocks

// bytes a folder takes on disk (what du counts)
function diskUsage (dir: string): number {
  let n = 0
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    const st = lstatSync(p)
    n += st.blocks * 512
    if (st.isDirectory()) n += diskUsage(p)
  }
  return n
}

function folder (box: Sandbox, name: string, files: Record<string, Buffer>): string {
  const dir = join(box.dir, name)
  mkdirSync(dir, { recursive: true })
  for (const [p, data] of Object.entries(files)) writeFileSync(join(dir, p), data)
  return dir
}

async function ok (node: Node, args: string[], timeout = 60_000): Promise<string> {
  const r = await node.hyperfs(args, { timeout })
  assert.equal(r.code, 0, `hyperfs ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex')

// `hyperfs cat`, its bytes hashed as they come (the harness keeps output as text)
function catHash (node: Node, args: string[], timeout = 120_000): Promise<{ code: number | null, bytes: number, sha: string, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'cat', ...args, '--no-mdns', '--no-dht', '--storage', node.storage], { env: node.env, stdio: ['ignore', 'pipe', 'pipe'] })
    const h = createHash('sha256')
    let bytes = 0
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { h.update(d); bytes += d.byteLength })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), timeout)
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, bytes, sha: h.digest('hex'), stderr }) })
  })
}

test('rm of a 64 MiB file, then gc, frees at least 56 MiB on disk; log still lists it, its old version gives an error, never wrong bytes', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const key = lastLine(await ok(a, ['create', folder(box, 'src', { 'big.bin': randomBytes(64 * MiB), 'small.txt': Buffer.from('stays\n') })]))
  const before = diskUsage(a.storage)
  assert.ok(before >= 64 * MiB)
  await ok(a, ['rm', key, '/big.bin'])
  assert.ok(before - diskUsage(a.storage) < MiB, 'rm alone frees nothing: the history keeps it')

  const info = JSON.parse(await ok(a, ['info', key, '--json']))
  assert.equal(info.reclaimable, 64 * MiB)
  // the version before the rm keeps it
  const kept = JSON.parse(await ok(a, ['gc', key, '--keep-versions', '2', '--json']))
  assert.equal(kept.bytes, 0)
  const r = JSON.parse(await ok(a, ['gc', key, '--json']))
  assert.equal(r.bytes, 64 * MiB)
  assert.equal(r.punched, true)
  const freed = before - diskUsage(a.storage)
  assert.ok(freed >= 56 * MiB, `freed ${freed} bytes`)
  assert.equal(JSON.parse(await ok(a, ['info', key, '--json'])).reclaimable, 0)

  const log = await ok(a, ['log', key])
  assert.match(log, /put {2}\/big\.bin {2}67108864/)
  assert.match(log, /del {2}\/big\.bin/)
  assert.equal(await ok(a, ['cat', key, '/small.txt']), 'stays\n')
  const old = await a.hyperfs(['cat', key, '/big.bin', '--version', '3', '--timeout', '1000'])
  assert.equal(old.code, 1)
  assert.match(old.stderr, /REQUEST_TIMEOUT/)
  assert.equal(old.stdout.length, 0, 'no bytes, rather than wrong ones')
  // gc survives a restart of the daemon: the blocks stay freed
  await ok(a, ['daemon', 'stop'])
  assert.equal(JSON.parse(await ok(a, ['info', key, '--json'])).localBytes, 6)
  assert.equal((await ok(a, ['verify', key])).includes('intact'), true)
})

test('hyperdrive13: rm of a 64 MiB file, then gc, frees at least 56 MiB on disk; log still lists it, its old version gives an error, never wrong bytes', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const key = lastLine(await ok(a, ['create', folder(box, 'src', { 'big.bin': randomBytes(64 * MiB), 'small.txt': Buffer.from('stays\n') }), '--format', 'hyperdrive13']))
  const withBig = JSON.parse(await ok(a, ['info', key, '--json']))
  assert.equal(withBig.format, 'hyperdrive13')
  const before = diskUsage(a.storage)
  await ok(a, ['rm', key, '/big.bin'])
  assert.equal(JSON.parse(await ok(a, ['info', key, '--json'])).reclaimable, 64 * MiB)
  const r = JSON.parse(await ok(a, ['gc', key, '--json']))
  assert.equal(r.bytes, 64 * MiB)
  const freed = before - diskUsage(a.storage)
  assert.ok(freed >= 56 * MiB, `freed ${freed} bytes`)
  assert.equal(JSON.parse(await ok(a, ['info', key, '--json'])).reclaimable, 0)
  assert.match(await ok(a, ['log', key]), /del {2}\/big\.bin/)
  assert.equal(await ok(a, ['cat', key, '/small.txt']), 'stays\n')
  const old = await a.hyperfs(['cat', key, '/big.bin', '--version', String(withBig.version), '--timeout', '1000'])
  assert.equal(old.code, 1)
  assert.match(old.stderr, /REQUEST_TIMEOUT/)
  assert.equal(old.stdout.length, 0, 'no bytes, rather than wrong ones')
  assert.equal((await ok(a, ['verify', key])).includes('intact'), true)
})

test('hyperdrive13: a daemon with --keep-history frees what rm removed by itself, and info shows it', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  await ok(a, ['daemon', 'start', '--keep-history', '1M'])
  const key = lastLine(await ok(a, ['create', folder(box, 'src', { 'big.bin': randomBytes(16 * MiB) }), '--format', 'hyperdrive13']))
  const before = diskUsage(a.storage)
  await ok(a, ['rm', key, '/big.bin'])
  await eventually('an automatic gc', async () => JSON.parse(await ok(a, ['info', key, '--json'])).autoGc?.last !== null)
  const info = JSON.parse(await ok(a, ['info', key, '--json']))
  assert.equal(info.autoGc.budget, MiB)
  assert.equal(info.autoGc.last.bytes, 16 * MiB)
  assert.equal(info.reclaimable, 0)
  const freed = before - diskUsage(a.storage)
  assert.ok(freed >= 15 * MiB, `freed ${freed} bytes`)
})

test('old content gc freed is fetched again from a peer that has it', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const data = randomBytes(3 * MiB)
  const key = lastLine(await ok(a, ['create', folder(box, 'src', { 'f.bin': data }), '--listen', '127.0.0.1:0']))
  const aAddress = JSON.parse(await ok(a, ['daemon', 'status', '--json'])).network.listening[0]
  const b = box.node('b')
  await ok(b, ['download', key, '--listen', '127.0.0.1:0', '--peer', aAddress, '--timeout', TIMEOUT])
  await ok(a, ['rm', key, '/f.bin'])
  assert.equal(JSON.parse(await ok(a, ['gc', key, '--json'])).bytes, data.byteLength)
  const bAddress = JSON.parse(await ok(b, ['daemon', 'status', '--json'])).network.listening[0]
  const back = await catHash(a, [key, '/f.bin', '--version', '2', '--peer', bAddress, '--timeout', TIMEOUT])
  assert.equal(back.code, 0, back.stderr)
  assert.equal(back.sha, sha(data))
})

test('96 MiB streamed twice through a 32M cache gives right bytes both times, storage stays near the cap, and pinned content survives', { timeout: 300_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const big = randomBytes(96 * MiB)
  const pinned = randomBytes(4 * MiB)
  const key = lastLine(await ok(a, ['create', folder(box, 'src', { 'big.bin': big, 'pinned.bin': pinned }), '--listen', '127.0.0.1:0']))
  const address = JSON.parse(await ok(a, ['daemon', 'status', '--json'])).network.listening[0]

  const b = box.node('b')
  const net = ['--peer', address, '--timeout', TIMEOUT, '--cache-size', '32M']
  await ok(b, ['download', key, '/pinned.bin', ...net])
  for (let round = 0; round < 2; round++) {
    const r = await catHash(b, [key, '/big.bin', ...net])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.bytes, big.byteLength, `round ${round}: length`)
    assert.equal(r.sha, sha(big), `round ${round}: bytes`)
    const used = diskUsage(b.storage)
    assert.ok(used <= 32 * MiB + 4 * MiB + 4 * MiB, `round ${round}: ${used} bytes on disk for a 32 MiB cap and 4 MiB pinned`)
  }
  const status = JSON.parse(await ok(b, ['daemon', 'status', '--json']))
  assert.equal(status.cache.capacity, 32 * MiB)
  assert.ok(status.cache.used <= 32 * MiB)
  assert.ok(status.cache.evicted >= 2 * 96 * MiB - 32 * MiB - 8 * MiB, `evicted ${status.cache.evicted}`)
  const info = JSON.parse(await ok(b, ['info', key, '--json', ...net]))
  assert.deepEqual(info.pins, [{ path: '/pinned.bin', by: 'download' }])
  assert.equal(info.pinnedBytes, pinned.byteLength)
  assert.ok(info.cache.drive <= 32 * MiB)

  // A goes: what is pinned is still here, the streamed file is not all here
  await ok(a, ['daemon', 'stop'])
  const p = await catHash(b, [key, '/pinned.bin', '--timeout', '1000'])
  assert.equal(p.code, 0, p.stderr)
  assert.equal(p.sha, sha(pinned))
  const gone = await catHash(b, [key, '/big.bin', '--timeout', '1000'])
  assert.equal(gone.code, 1)

  // unpinned, it is cache like the rest
  await ok(b, ['unpin', key, '/pinned.bin'])
  assert.deepEqual(JSON.parse(await ok(b, ['info', key, '--json'])).pins, [])
})

test('a daemon started with a smaller cache brings what an earlier run kept under it, before anything reads that drive', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const big = randomBytes(24 * MiB)
  const key = lastLine(await ok(a, ['create', folder(box, 'src', { 'big.bin': big }), '--listen', '127.0.0.1:0']))
  const address = JSON.parse(await ok(a, ['daemon', 'status', '--json'])).network.listening[0]
  const b = box.node('b')
  const r = await catHash(b, [key, '/big.bin', '--peer', address, '--timeout', TIMEOUT, '--cache-size', '16M'])
  assert.equal(r.sha, sha(big))
  await ok(b, ['daemon', 'stop'])
  const kept = diskUsage(b.storage)
  assert.ok(kept > 12 * MiB && kept <= 20 * MiB, `kept ${kept}`)

  await ok(b, ['daemon', 'start', '--cache-size', '4M'])
  await eventually('the kept content is under the new cap', () => diskUsage(b.storage) <= 4 * MiB + 2 * MiB)
  const status = JSON.parse(await ok(b, ['daemon', 'status', '--json']))
  assert.ok(status.cache.used <= 4 * MiB)
  assert.equal(status.cache.cores, 1)
})

// Node a serves a drive of one 12 MiB file over TCP on loopback; node b is
// the seeder.
async function seededDrive (t: Parameters<typeof sandbox>[0]): Promise<{ b: Node, key: string, address: string, size: number }> {
  const box = sandbox(t)
  const a = box.node('a')
  const big = randomBytes(12 * MiB)
  const key = lastLine(await ok(a, ['create', folder(box, 'src', { 'big.bin': big }), '--listen', '127.0.0.1:0']))
  const address = JSON.parse(await ok(a, ['daemon', 'status', '--json'])).network.listening[0]
  return { b: box.node('b'), key, address, size: big.byteLength }
}

async function heldWhole (node: Node, key: string, size: number, what: string): Promise<void> {
  await eventually(what, async () => {
    const r = await node.hyperfs(['info', key, '--json'])
    return r.code === 0 && JSON.parse(r.stdout).localBytes === size
  }, 30_000)
}

test('a drive seeded by a daemon with a small cache is held whole while it is seeded', { timeout: 120_000 }, async (t) => {
  const { b, key, address, size } = await seededDrive(t)
  const seed = b.spawn(['seed', key, '--peer', address, '--timeout', TIMEOUT, '--cache-size', '4M'])
  await eventually('seeding', () => seed.output().includes('press Ctrl-C'), 30_000)
  await heldWhole(b, key, size, 'the seed holds the whole drive')
  assert.ok(diskUsage(b.storage) >= 12 * MiB)
  seed.child.kill('SIGINT')
  await seed.exited
})

test('a drive seeded with --detach by a daemon with a small cache stays whole after the seed command exits, until unseed', { timeout: 120_000 }, async (t) => {
  const { b, key, address, size } = await seededDrive(t)
  await ok(b, ['daemon', 'start', '--cache-size', '4M'])
  await ok(b, ['seed', key, '--detach', '--peer', address, '--timeout', TIMEOUT])
  // the command has exited; the daemon goes on fetching, and keeps what it fetched
  await heldWhole(b, key, size, 'the detached seed holds the whole drive')
  assert.ok(diskUsage(b.storage) >= 12 * MiB)
  // it is the seed that holds it: once unseeded, the cache brings it under the cap
  await ok(b, ['unseed', key])
  await eventually('unseeded, the drive is cache like the rest', () => diskUsage(b.storage) <= 4 * MiB + 2 * MiB, 30_000)
})

test('a pin on a mount point keeps the mounted drive\'s content from a small cache, across a restart, until unpinned', { timeout: 180_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const big = randomBytes(12 * MiB)
  const inner = lastLine(await ok(a, ['create', folder(box, 'inner', { 'big.bin': big }), '--listen', '127.0.0.1:0']))
  const outer = lastLine(await ok(a, ['create', folder(box, 'outer', { 'readme.txt': Buffer.from('hello') })]))
  await ok(a, ['mkmount', outer, '/lib', inner])
  const address = JSON.parse(await ok(a, ['daemon', 'status', '--json'])).network.listening[0]

  const b = box.node('b')
  const net = ['--peer', address, '--timeout', TIMEOUT]
  await ok(b, ['daemon', 'start', '--cache-size', '4M'])
  await ok(b, ['pin', outer, '/lib', ...net])
  const r = await catHash(b, [outer, '/lib/big.bin', ...net])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.sha, sha(big))
  // the 4 MiB cache would have evicted most of it: the pin on /lib keeps it
  await heldWhole(b, inner, big.byteLength, 'the mounted drive is held whole')
  assert.equal(JSON.parse(await ok(b, ['info', inner, '--json'])).pinnedBytes, big.byteLength)
  assert.ok(diskUsage(b.storage) >= 12 * MiB)

  // a restart with the same small cache keeps it: the pin list names the mounted drive's content
  await ok(b, ['daemon', 'stop'])
  await ok(b, ['daemon', 'start', '--cache-size', '4M'])
  await ok(b, ['ls', outer, '/', ...net])
  await heldWhole(b, inner, big.byteLength, 'the mounted drive is held whole after a restart')
  const pins = JSON.parse(readFileSync(join(b.storage, 'pins.json'), 'utf8')).pins
  assert.equal(pins.length, 1)
  assert.equal(pins[0].mounted.length, 1)

  // unpinned, the mounted drive's content is cache like the rest
  await ok(b, ['unpin', outer, '/lib'])
  await eventually('unpinned, the mounted drive goes under the cap', () => diskUsage(b.storage) <= 4 * MiB + 2 * MiB, 30_000)
})

// Our writer refuses a mount that closes a cycle (MOUNT_CYCLE); another
// writer's drives can hold one. Two drives of node a's storage are made to
// mount each other behind the daemon's back, as such a writer would.
test('a pin on drives that mount each other (a cycle) walks each once, and counts both drives\' files', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const one = randomBytes(300 * 1024)
  const two = randomBytes(200 * 1024)
  const x = lastLine(await ok(a, ['create', folder(box, 'x', { 'one.bin': one }), '--no-dht']))
  const y = lastLine(await ok(a, ['create', folder(box, 'y', { 'two.bin': two }), '--no-dht']))
  await ok(a, ['mkmount', x, '/y', y])
  const hex = async (link: string): Promise<Buffer> => Buffer.from(JSON.parse(await ok(a, ['info', link, '--json', '--no-dht'])).key, 'hex')
  const [xk, yk] = [await hex(x), await hex(y)]
  await ok(a, ['daemon', 'stop'])
  const store = DriveStore.directory(a.storage)
  const yd = await store.open(yk) as RoutedDrive
  await yd.fmt.putMount(['x'], { key: xk, version: null, kind: 'drive' })
  await store.close()

  const pinned = JSON.parse(await ok(a, ['pin', x, '/', '--json', '--no-dht']))
  assert.equal(pinned.pinnedBytes, one.byteLength + two.byteLength)
  const pins = JSON.parse(readFileSync(join(a.storage, 'pins.json'), 'utf8')).pins
  assert.equal(pins.length, 1)
  assert.equal(pins[0].mounted.length, 1, 'the other drive\'s content is named once')
})

test('a pin on a drive that mounts a drive no peer serves any more keeps the drive\'s own files, and says why the mount keeps nothing', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const files: Record<string, Buffer> = {}
  for (let i = 0; i < 40; i++) files[`f${i}.txt`] = Buffer.from(`file ${i}\n`)
  const ext = lastLine(await ok(a, ['create', folder(box, 'ext', files), '--listen', '127.0.0.1:0']))
  const address = JSON.parse(await ok(a, ['daemon', 'status', '--json'])).network.listening[0]

  const b = box.node('b')
  await ok(b, ['info', ext, '--peer', address, '--timeout', TIMEOUT]) // b knows of the drive, holds none of its files
  await ok(a, ['daemon', 'stop'])
  const own = randomBytes(100 * 1024)
  const x = lastLine(await ok(b, ['create', folder(box, 'x', { 'own.bin': own })]))
  await ok(b, ['mkmount', x, '/ext', ext])
  const r = await b.hyperfs(['pin', x, '/', '--json', '--timeout', '1000'], { timeout: 60_000 })
  assert.equal(r.code, 0, r.stderr)
  assert.equal(JSON.parse(r.stdout).pinnedBytes, own.byteLength)
  assert.match(readFileSync(join(b.storage, 'daemon.log'), 'utf8'), /the mounted drive [0-9a-f]{64}: .*keeps nothing more there/)
})
