// The history budget (--keep-history SIZE, src/daemon/auto-gc.ts): a drive we
// write keeps at most SIZE of old versions' content; past it the daemon runs
// gc by itself, oldest first. Checked three ways: the walk that picks what to
// free agrees with gc's own plan for every choice of kept versions; the
// budget holds in process, newest history kept; and through the real CLI,
// daemon and a mount, in blocks on disk (du), with and without the option.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { readdirSync, lstatSync, readFileSync, writeFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Drive } from '../../src/drive/types.js'
import type { Hypercore } from '../../src/core/hypercore.js'
import { Bitfield } from '../../src/core/bitfield.js'
import { gcPlan, historyProfile, statBlocks } from '../../src/daemon/live-blocks.js'
import { S_IFMT, S_IFDIR } from '../../src/drive/types.js'
import { AutoGc, TARGET_SHARE } from '../../src/daemon/auto-gc.js'
import { prng, randomBuffer } from '../helpers/tmp.js'
import { FUSE_SKIP, eventually, lastLine, run, sandbox, type Node } from '../cli/cli-harness.js'

const KiB = 1024
const MiB = 1024 * 1024
const OVERWRITES = 24
const FILE = 512 * KiB
const BUDGET = MiB
// What a mount with a budget takes on disk beyond its live data and the
// budget: the metadata core and the content core's tree, which keep every
// version (log and /.versions still list them), and the parts of 4 KiB disk
// blocks a punched hole leaves allocated around small content blocks (sqlite
// writes many). Measured: about 0.9 MiB for this workload.
const SLACK = 1.5 * MiB

function contentOf (d: Drive): Hypercore {
  return (d as unknown as { content: Hypercore }).content
}

// bytes held of blocks only older versions use (what `info` calls reclaimable)
async function historyHeld (d: Drive): Promise<number> {
  const content = contentOf(d)
  const plan = await gcPlan(d, { keepVersions: 1, bound: content.length })
  let n = 0
  for (const [s, e] of [...plan.free.runs(0, content.length)]) n += await content.heldBytes(s, e)
  return n
}

// 60 random writes, patches, truncates, deletes and renames; the version after each
async function randomHistory (d: Drive, seed: number): Promise<number[]> {
  const rand = prng(seed)
  const names = ['/a', '/b', '/c', '/dir/d']
  const versions: number[] = []
  for (let i = 0; i < 60; i++) {
    const name = names[(rand() * names.length) | 0]
    const st = await d.lstat(name).catch(() => null)
    const op = rand()
    if (!st || op < 0.3) await d.writeFile(name, randomBuffer(rand, 1 + ((rand() * 200_000) | 0)))
    else if (op < 0.6) await d.patchFile!(name, { keep: st.size, size: st.size + 50, writes: [{ offset: (rand() * st.size) | 0, length: 50, data: randomBuffer(rand, 50) }] })
    else if (op < 0.7) await d.truncate(name, (st.size / 2) | 0)
    else if (op < 0.8) await d.unlink(name)
    else {
      const to = names[(rand() * names.length) | 0]
      if (to !== name && !(await d.lstat(to).catch(() => null))) await d.rename(name, to)
    }
    versions.push(d.version)
  }
  return versions
}

// The content blocks the files of a checkout name.
async function listed (d: Drive, bound: number): Promise<Bitfield> {
  const blocks = new Bitfield()
  const walk = async (dir: string): Promise<void> => {
    for await (const e of d.readdir(dir)) {
      const path = (dir === '/' ? '' : dir) + '/' + e.name
      if ((e.stat.mode & S_IFMT) === S_IFDIR) await walk(path)
      for (const [s, e2] of statBlocks(e.stat, bound)) blocks.setRange(s, e2, true)
    }
  }
  await walk('/')
  return blocks
}

for (const format of ['hypertrie', 'hyperdrive13'] as const) {
test(`${format}: gc's plan keeps what every kept version lists and frees what only older versions list, for every choice of the oldest version kept`, async () => {
  const store = DriveStore.memory()
  const d = await store.create({ format })
  const versions = await randomHistory(d, 22)
  const bound = contentOf(d).length
  const at = new Map<number, Bitfield>()
  for (const v of versions) at.set(v, await listed(d.checkout(v), bound))
  for (const k of versions) {
    const plan = await gcPlan(d, { keepVersions: 1, oldestKept: k, bound })
    for (let i = 0; i < bound; i++) {
      if (versions.some((v) => v >= k && at.get(v)!.get(i))) assert.ok(plan.keep.get(i) && !plan.free.get(i), `block ${i}, named from ${k} on, is kept`)
      else if (versions.some((v) => v < k && at.get(v)!.get(i))) assert.ok(plan.free.get(i), `block ${i}, named only before ${k}, is freed`)
    }
  }
  await store.close()
})

test(`${format}: the history walk frees, for every choice of the oldest version kept, exactly what gc's plan frees`, async () => {
  const store = DriveStore.memory()
  const d = await store.create({ format })
  await randomHistory(d, 21)
  const bound = contentOf(d).length
  const profile = await historyProfile(d, { bound })
  assert.equal(profile.latest, d.version)
  for (let k = 1; k <= d.version; k++) {
    const plan = await gcPlan(d, { keepVersions: 1, oldestKept: k, bound })
    const free = new Bitfield()
    for (const span of profile.spans) if (span.end <= k) for (const [s, e] of span.runs) free.setRange(s, e, true)
    for (let i = 0; i < bound; i++) assert.equal(free.get(i), plan.free.get(i), `block ${i}, versions from ${k} kept`)
  }
  for (let i = 0; i < bound; i++) assert.equal(profile.live.get(i), (await gcPlan(d, { keepVersions: 1, bound })).keep.get(i), `block ${i} in the latest`)
  await store.close()
})

test(`${format}: past its budget a drive we write frees its oldest history by itself, down to half the budget; the newest history stays readable`, { timeout: 60_000 }, async (t) => {
  const store = DriveStore.memory()
  const d = await store.create({ format })
  const logs: string[] = []
  const budget = 256 * KiB
  const auto = new AutoGc({
    logger: { info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
    content: async (drive) => { await drive.info(); return contentOf(drive) },
    gc: async (drive, oldestKept) => {
      const content = contentOf(drive)
      const plan = await gcPlan(drive, { keepVersions: 1, oldestKept, bound: content.length })
      let blocks = 0
      let bytes = 0
      for (const [s, e] of [...plan.free.runs(0, content.length)]) {
        const r = await content.clear(s, e)
        blocks += r.blocks
        bytes += r.bytes
      }
      return { blocks, bytes }
    },
    pinned: async () => null
  }, { budget })
  t.after(async () => { await auto.close(); await store.close() })
  auto.track(d as Drive & { metadata: Hypercore, content: Hypercore | null })

  const rand = prng(5)
  const versions: Buffer[] = []
  for (let i = 0; i < 40; i++) {
    const data = randomBuffer(rand, 64 * KiB)
    versions.push(data)
    await d.writeFile('/f', data)
  }
  const key = d.key.toString('hex')
  await eventually('an automatic gc', () => auto.status(key).last !== null && auto.status(key).last!.version === d.version)
  const last = auto.status(key).last!
  assert.equal(auto.status(key).error, null)
  assert.equal(auto.status(key).budget, budget)
  assert.ok(last.history > budget, `it ran past the budget (${last.history} bytes of history)`)
  const held = await historyHeld(d)
  assert.ok(held <= budget * TARGET_SHARE, `${held} bytes of history stay`)
  assert.ok(held >= budget * TARGET_SHARE - 64 * KiB, `as much as fits stays (${held} bytes)`)
  assert.equal(held, last.kept)
  assert.ok((await d.read('/f')).equals(versions[versions.length - 1]))
  // the newest old versions still read from here; the oldest are freed
  const v = d.version
  assert.ok((await d.checkout(v - 1).read('/f')).equals(versions[versions.length - 2]))
  await assert.rejects(d.checkout(2).read('/f', { timeout: 100 }), (err: Error & { code?: string }) => err.code === 'REQUEST_TIMEOUT')
  assert.match(logs.join('\n'), /auto gc [0-9a-f]{64}: \d+ bytes of history past the budget/)
})
}

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

async function ok (node: Node, args: string[], timeout = 60_000): Promise<string> {
  const r = await node.hyperfs(args, { timeout })
  assert.equal(r.code, 0, `hyperfs ${args.join(' ')}: ${r.stderr}`)
  return r.stdout
}

const SQLITE = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute('create table t (id integer primary key, name text, n integer)')
db.commit()
for b in range(0, 4000, 100):
    db.executemany('insert into t (name, n) values (?, ?)', [('name %d' % i, i) for i in range(b, b + 100)])
    db.commit()
for i in range(50):
    db.execute('update t set n = n + 1 where id = ?', (1 + i * 7,))
    db.commit()
assert db.execute('pragma integrity_check').fetchone()[0] == 'ok'
assert db.execute('select count(*), sum(n) from t').fetchone() == (4000, 4000 * 3999 // 2 + 50)
`

// OVERWRITES whole rewrites of a FILE-byte file, then a sqlite workload, in a
// mount of a new drive; returns the drive's key, the bytes it holds live, and
// the storage's growth on disk.
async function workload (a: Node, mnt: string, scratch: string, format = 'hypertrie'): Promise<{ key: string, live: number, before: number }> {
  const key = lastLine(await ok(a, ['create', '--format', format]))
  await ok(a, ['mount', key, mnt])
  const before = diskUsage(a.storage)
  let last = Buffer.alloc(0)
  for (let i = 0; i < OVERWRITES; i++) {
    last = randomBytes(FILE)
    writeFileSync(join(scratch, 'f.bin'), last)
    const cp = await run('cp', [join(scratch, 'f.bin'), join(mnt, 'f.bin')])
    assert.equal(cp.code, 0, cp.stderr)
  }
  const py = await run('python3', ['-c', SQLITE, join(mnt, 'app.db')], { timeout: 120_000 })
  assert.equal(py.code, 0, py.stderr)
  assert.equal(createHash('sha256').update(readFileSync(join(mnt, 'f.bin'))).digest('hex'), createHash('sha256').update(last).digest('hex'))
  const live = statSync(join(mnt, 'f.bin')).size + statSync(join(mnt, 'app.db')).size
  return { key, live, before }
}

for (const format of ['hypertrie', 'hyperdrive13'] as const) {
test(`through a mount of a ${format} drive: with --keep-history 1M, overwrites and sqlite stay within live data + the budget + slack on disk, and info shows the last automatic gc`, { skip: FUSE_SKIP, timeout: 300_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  await ok(a, ['daemon', 'start', '--keep-history', '1M'])
  assert.equal(JSON.parse(await ok(a, ['daemon', 'status', '--json'])).keepHistory, BUDGET)
  const mnt = box.mountpoint('m')
  const { key, live, before } = await workload(a, mnt, box.dir, format)
  // the last check comes QUIET_MS after the last write
  await eventually('history within the budget', async () => JSON.parse(await ok(a, ['info', key, '--json'])).reclaimable <= BUDGET, 60_000)
  const info = JSON.parse(await ok(a, ['info', key, '--json']))
  const disk = diskUsage(a.storage)
  t.diagnostic(`live ${live} bytes, budget ${BUDGET}, on disk ${disk} (grew ${disk - before}); ${OVERWRITES * FILE} bytes overwritten`)
  assert.ok(disk <= live + BUDGET + SLACK, `${disk} bytes on disk for ${live} live and a budget of ${BUDGET}`)
  assert.equal(info.autoGc.budget, BUDGET)
  assert.ok(info.autoGc.last, 'an automatic gc ran')
  assert.ok(info.autoGc.last.bytes > 0)
  assert.equal(info.autoGc.error, null)
  assert.match(await ok(a, ['info', key]), /history: {7}gc runs by itself past 1\.0 MiB \(--keep-history\); last at .*: freed /)
  // history metadata stays: every version still lists
  const log = await ok(a, ['log', key])
  assert.equal(log.match(/put {2}\/f\.bin/g)?.length, OVERWRITES + 1, 'each cp: the create, then one commit each')
  assert.ok(readdirSync(join(mnt, '.versions')).length >= OVERWRITES)
  await ok(a, ['unmount', mnt])
})
}

test('through a mount: without --keep-history nothing is reclaimed by itself', { skip: FUSE_SKIP, timeout: 300_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  await ok(a, ['daemon', 'start'])
  assert.equal(JSON.parse(await ok(a, ['daemon', 'status', '--json'])).keepHistory, null)
  const mnt = box.mountpoint('m')
  const { key, before } = await workload(a, mnt, box.dir)
  // longer than a budget's checks would wait
  await new Promise((resolve) => setTimeout(resolve, 3000))
  const info = JSON.parse(await ok(a, ['info', key, '--json']))
  const grew = diskUsage(a.storage) - before
  t.diagnostic(`grew ${grew} bytes on disk; ${info.reclaimable} reclaimable`)
  assert.equal(info.autoGc, null)
  assert.ok(grew >= OVERWRITES * FILE, `every overwrite is still held (${grew} bytes)`)
  assert.ok(info.reclaimable >= (OVERWRITES - 1) * FILE)
  await ok(a, ['unmount', mnt])
})
