// The storage commands of the CLI: gc, pin, unpin, --cache-size (sizes in
// bytes or K/M/G), and the storage lines of info.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, run, lastLine, sandbox, eventually } from './cli-harness.js'
import { parseSize } from '../../src/daemon/byte-size.js'
import { isHyperfsError } from '../../src/errors.js'

test('sizes are bytes, or binary K, M and G', () => {
  assert.equal(parseSize('1048576'), 1048576)
  assert.equal(parseSize('32M'), 32 * 1024 * 1024)
  assert.equal(parseSize('32m'), 32 * 1024 * 1024)
  assert.equal(parseSize('512K'), 512 * 1024)
  assert.equal(parseSize('1.5G'), 1.5 * 1024 ** 3)
  assert.equal(parseSize('2GiB'), 2 * 1024 ** 3)
  for (const bad of ['', 'M', '-1M', '0', '12X', '1e9', '32 MB extra']) {
    assert.throws(() => parseSize(bad), (err) => isHyperfsError(err, 'BAD_ARGUMENT'), bad)
  }
})

test('gc, pin and unpin explain themselves, and --cache-size and --keep-history are options of every command', { timeout: 60_000 }, async () => {
  const env = { ...process.env, HYPERFS_STORAGE: '/nonexistent/hyperfs-help-must-not-start-a-daemon' }
  const expect: Record<string, string[]> = { gc: ['--keep-versions', '--json', '--cache-size', '--keep-history'], pin: ['--json'], unpin: ['--json'], mount: ['--cache-size', '--keep-history', '--foreground'], daemon: ['--keep-history'] }
  for (const [cmd, opts] of Object.entries(expect)) {
    const r = await run(process.execPath, [BIN, cmd, '--help'], { env })
    assert.equal(r.code, 0, r.stderr)
    for (const o of opts) assert.ok(r.stdout.includes(o), `${cmd} --help mentions ${o}`)
  }
  const r = await run(process.execPath, [BIN, '--help'])
  for (const cmd of ['gc', 'pin', 'unpin']) assert.match(r.stdout, new RegExp(`hyperfs ${cmd}\\b`))
})

test('a bad --cache-size or --keep-history is a usage error, and no daemon is started for it', { timeout: 30_000 }, async (t) => {
  const box = sandbox(t)
  const n = box.node('n')
  for (const option of ['--cache-size', '--keep-history']) {
    const r = await n.hyperfs(['daemon', 'start', option, 'lots'])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /"lots" is not a size/)
    assert.equal(n.daemonPid(), null)
  }
})

test('--keep-history reaches a daemon that is already running, and status shows it', { timeout: 30_000 }, async (t) => {
  const box = sandbox(t)
  const n = box.node('n')
  assert.equal((await n.hyperfs(['daemon', 'start'])).code, 0)
  const before = await n.hyperfs(['daemon', 'status', '--json'])
  assert.equal(JSON.parse(before.stdout).keepHistory, null)
  const key = (await n.hyperfs(['create', '--keep-history', '2M'])).stdout.trim().split('\n').pop()!
  const s = await n.hyperfs(['daemon', 'status'])
  assert.match(s.stdout, /history: drives written here keep at most 2\.0 MiB of old versions' content/)
  const info = JSON.parse((await n.hyperfs(['info', key, '--json'])).stdout)
  assert.deepEqual(info.autoGc, { budget: 2 * 1024 * 1024, last: null, error: null })
})

test('pin, unpin and info through the CLI; --cache-size reaches a daemon that is already running', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const n = box.node('n')
  const src = join(box.dir, 'src')
  mkdirSync(join(src, 'docs'), { recursive: true })
  writeFileSync(join(src, 'docs', 'a.txt'), 'aaaa')
  writeFileSync(join(src, 'b.txt'), 'bb')
  const key = lastLine((await n.hyperfs(['create', src])).stdout)
  const status = JSON.parse((await n.hyperfs(['daemon', 'status', '--json'])).stdout)
  assert.equal(status.cache, null, 'no --cache-size: no cache')

  const pin = await n.hyperfs(['pin', key, '/docs'])
  assert.equal(pin.code, 0, pin.stderr)
  assert.match(pin.stdout, /pinned \/docs of hyper:\/\/\w+ \(4 B held here now/)
  assert.equal((await n.hyperfs(['pin', key, '/nope'])).code, 1)
  const info = await n.hyperfs(['info', key])
  assert.match(info.stdout, /held here: +6 B \(100%\)/)
  assert.match(info.stdout, /pin: +\/docs\n/)
  assert.match(info.stdout, /pinned: +4 B/)
  assert.match(info.stdout, /reclaimable: +0 B/)
  assert.match(info.stdout, /on disk: +\d/)

  // new content under a pinned path is pinned once the drive settles
  const put = await n.hyperfs(['put', key, '/docs/c.txt', '-'], { input: 'cccccc' })
  assert.equal(put.code, 0, put.stderr)
  await eventually('the new file is pinned', async () => JSON.parse((await n.hyperfs(['info', key, '--json'])).stdout).pinnedBytes === 10)

  const capped = await n.hyperfs(['info', key, '--cache-size', '1M', '--json'])
  assert.equal(capped.code, 0, capped.stderr)
  assert.equal(JSON.parse(capped.stdout).cache.capacity, 1024 * 1024)
  assert.equal(JSON.parse((await n.hyperfs(['daemon', 'status', '--json'])).stdout).cache.capacity, 1024 * 1024)

  const un = await n.hyperfs(['unpin', key, '/docs'])
  assert.equal(un.code, 0, un.stderr)
  assert.match(un.stdout, /unpinned \/docs/)
  assert.equal((await n.hyperfs(['unpin', key])).code, 1, 'nothing left to unpin')
  assert.doesNotMatch((await n.hyperfs(['info', key])).stdout, /pin:/)

  // pins last across a restart
  await n.hyperfs(['pin', key])
  await n.hyperfs(['daemon', 'stop'])
  assert.deepEqual(JSON.parse((await n.hyperfs(['info', key, '--json'])).stdout).pins, [{ path: '/', by: 'pin' }])
})
