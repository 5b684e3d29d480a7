// Storage that stays bounded, against a plain ext4 folder as the floor (and
// hypercore@11's clear() where it has one), in one run, on the same data:
//   - gc: a 64 MiB file written, removed, reclaimed: what stays on disk, and
//     how long gc takes (the floor: write the file to a folder, rm it);
//   - clear: 64 MiB of a core's blocks given back to the disk (ours: holes
//     punched; hypercore@11: clear() on its RocksDB storage);
//   - eviction: a replica streams a core several times its cache's cap from a
//     peer in memory; MB/s with the cap against no cap, and the disk it ends
//     with (the floor: the same bytes written to a file, holes punched behind
//     at the cap).
//   - per write, through a real mount of a drive on disk (a FuseHost in a
//     child process: a process must not block on its own mount) against the
//     same operations on a folder of the same disk: bytes stored per 1-byte
//     write into a 64 MiB file, per 100-byte append, the growth from a sqlite
//     workload, and `rsync -a` of small files, twice (the second run copies
//     nothing, so should store about nothing); then all of it together,
//     before and after a gc that keeps only the latest version.
//   - budget: the sqlite workload in a mount of the real daemon (bin/hyperfs),
//     with no history budget and with --keep-history (auto-gc.ts), against
//     the folder: growth on disk once the last automatic gc has run.
// Bytes on disk are what du counts (blocks * 512, not the apparent size).
// Absolute times on shared machines are noise; the ratios and bytes count.
// --only NAME runs one part: gc, clear, eviction, per-write or budget;
// --format hyperdrive13 runs per-write and budget on drives in hyperdrive@13's format.
import { writeFileSync, rmSync, statSync, openSync, writeSync, closeSync, readdirSync, lstatSync, mkdirSync, copyFileSync, appendFileSync, mkdtempSync } from 'node:fs'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { FuseHost } from '../src/fuse/host.js'
import { Hypercore } from '../src/core/hypercore.js'
import { MemoryStorage, FileStorage } from '../src/core/storage.js'
import { DriveStore } from '../src/drive/drive-store.js'
import type { DriveFormatName } from '../src/drive/drive-format.js'
import { ReaderCache } from '../src/store/reader-cache.js'
import { gcPlan, statBlocks, unmarked } from '../src/daemon/live-blocks.js'
import { Bitfield } from '../src/core/bitfield.js'
import { oracle, time, tempDir, mbps } from './harness.js'

const RealHypercore = oracle('hypercore')
const quick = process.argv.includes('--quick')
const MiB = 1024 * 1024
const FILE = 64 * MiB
const STREAM = (quick ? 64 : 256) * MiB
const CAP = 32 * MiB
const BLOCK = 64 * 1024
const ONE_BYTE_WRITES = 20
const APPENDS = 500
const APPEND_SIZE = 100
const SQL_INSERTS = 10_000
const SQL_INSERTS_PER_COMMIT = 100 // 100 transactions of inserts, as an app that commits as it goes
const SQL_UPDATES = 100 // each its own transaction
const RSYNC_FILES = 3000
const RSYNC_FILE_MAX = 4096 // small files: sizes spread over 1 .. this
const SERVER_READY_MS = 30_000
const SERVER_STOP_MS = 10_000
const SELF = fileURLToPath(import.meta.url)
const BIN = fileURLToPath(new URL('../../bin/hyperfs', import.meta.url))
const BUDGETS = [null, 1024 * 1024, 256 * 1024] // --keep-history of each budget run (null: none)
const SETTLE_MS = 60_000 // the last automatic gc comes within this after the last write

function du (path: string): number {
  const st = lstatSync(path)
  let n = st.blocks * 512
  if (st.isDirectory()) for (const name of readdirSync(path)) n += du(join(path, name))
  return n
}

function data (n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  for (let i = 0; i < n; i += 4) b.writeUInt32LE((i * 2654435761) >>> 0, i)
  return b
}

function blocksOf (buf: Buffer): Buffer[] {
  const out: Buffer[] = []
  for (let i = 0; i < buf.byteLength; i += BLOCK) out.push(buf.subarray(i, i + BLOCK))
  return out
}

function row (name: string, ours: string, floor: string, note = ''): void {
  console.log(`| ${name} | ${ours} | ${floor} | ${note} |`)
}

const mib = (n: number): string => (n / MiB).toFixed(2) + ' MiB'

async function gcBench (): Promise<void> {
  const bytes = data(FILE)
  const d = tempDir('bench-gc-')
  const drives = DriveStore.directory(d.path)
  const drive = await drives.create()
  await drive.writeFile('/big.bin', bytes)
  const written = du(d.path)
  await drive.unlink('/big.bin')
  const removed = du(d.path)
  let freed = 0
  const ms = await time(async () => {
    const content = drive.content!
    const plan = await gcPlan(drive, { keepVersions: 1, bound: content.length })
    for (const [s, e] of [...plan.free.runs(0, content.length)]) freed += (await content.clear(s, e)).bytes
  })
  const after = du(d.path)
  await drives.close()
  d.remove()

  const f = tempDir('bench-gc-ext4-')
  const file = join(f.path, 'big.bin')
  writeFileSync(file, bytes)
  const fWritten = du(f.path)
  const fms = await time(async () => { rmSync(file) })
  const fAfter = du(f.path)
  f.remove()

  console.log('\ngc of a removed 64 MiB file (bytes on disk, as du counts them)')
  console.log('| measure | hyperfs | ext4 folder (floor) | note |')
  console.log('| --- | --- | --- | --- |')
  row('on disk after writing', mib(written), mib(fWritten))
  row('on disk after rm', mib(removed), mib(fAfter), 'hyperfs keeps history until gc')
  row('on disk after gc', mib(after), mib(fAfter), `${mib(freed)} freed by gc`)
  row('time to reclaim', ms.toFixed(1) + ' ms', fms.toFixed(1) + ' ms', 'gc walks the history; rm is one unlink')
}

async function clearBench (): Promise<void> {
  const blocks = blocksOf(data(FILE))
  const results: Record<string, { ms: number, before: number, after: number }> = {}
  for (const impl of ['real', 'ours'] as const) {
    const d = tempDir(`bench-clear-${impl}-`)
    const core = impl === 'ours' ? new Hypercore(d.path) : new RealHypercore(d.path)
    await core.ready()
    for (let i = 0; i < blocks.length; i += 16) await core.append(blocks.slice(i, i + 16))
    await core.close()
    const again = impl === 'ours' ? new Hypercore(d.path) : new RealHypercore(d.path)
    await again.ready()
    const before = du(d.path)
    const ms = await time(() => again.clear(0, blocks.length))
    await again.close()
    results[impl] = { ms, before, after: du(d.path) }
    d.remove()
  }
  console.log('\nclear() of 64 MiB of blocks (after a reopen)')
  console.log('| measure | ours | hypercore@11 | ours/real |')
  console.log('| --- | --- | --- | --- |')
  console.log(`| time | ${results.ours.ms.toFixed(1)} ms | ${results.real.ms.toFixed(1)} ms | ${(results.real.ms / results.ours.ms).toFixed(2)} |`)
  console.log(`| on disk before | ${mib(results.ours.before)} | ${mib(results.real.before)} | |`)
  console.log(`| on disk after | ${mib(results.ours.after)} | ${mib(results.real.after)} | |`)
}

async function evictionBench (): Promise<void> {
  const blocks = blocksOf(data(STREAM))
  const w = new Hypercore(new MemoryStorage())
  await w.append(blocks)
  const res: Record<string, { ms: number, disk: number, evicted: number }> = {}
  for (const capped of [false, true]) {
    const d = tempDir('bench-evict-')
    const r = new Hypercore(new FileStorage(d.path), w.key!)
    await r.ready()
    const cache = new ReaderCache({ capacity: CAP })
    if (capped) await cache.track(r)
    const a = w.replicate(true)
    const b = r.replicate(false)
    a.pipe(b).pipe(a)
    await r.update({ timeout: 5000 })
    const ms = await time(async () => {
      const AHEAD = 16
      for (let i = 0; i < blocks.length; i += AHEAD) {
        await Promise.all(Array.from({ length: Math.min(AHEAD, blocks.length - i) }, (_, k) => r.get(i + k, { timeout: 10_000 })))
      }
      await cache.settled()
    })
    res[capped ? 'capped' : 'uncapped'] = { ms, disk: du(d.path), evicted: cache.evicted }
    a.destroy()
    b.destroy()
    await r.close()
    d.remove()
  }
  await w.close()

  // the floor: the same bytes appended to a plain file, holes punched behind once past the cap
  const f = tempDir('bench-evict-ext4-')
  const file = join(f.path, 'data')
  const fs = new FileStorage(f.path)
  const fms = await time(async () => {
    const fd = openSync(file, 'w')
    let low = 0
    for (let i = 0; i < blocks.length; i++) {
      writeSync(fd, blocks[i], 0, BLOCK, i * BLOCK)
      if ((i + 1) * BLOCK - low > CAP) {
        const to = (i + 1) * BLOCK - Math.floor(CAP * 0.9)
        const sf = await fs.open('data')
        await sf.punch(low, to - low)
        await sf.close()
        low = to
      }
    }
    closeSync(fd)
  })
  const fDisk = statSync(file).blocks * 512
  f.remove()

  console.log(`\neviction: ${STREAM / MiB} MiB streamed from a peer in memory through a ${CAP / MiB} MiB cache`)
  console.log('| measure | capped | no cap | ext4 write + punch (floor) |')
  console.log('| --- | --- | --- | --- |')
  console.log(`| throughput | ${mbps(STREAM, res.capped.ms).toFixed(0)} MB/s | ${mbps(STREAM, res.uncapped.ms).toFixed(0)} MB/s | ${mbps(STREAM, fms).toFixed(0)} MB/s |`)
  console.log(`| on disk at the end | ${mib(res.capped.disk)} | ${mib(res.uncapped.disk)} | ${mib(fDisk)} |`)
  console.log(`| evicted | ${mib(res.capped.evicted)} | 0 | |`)
  console.log(`capped/uncapped throughput: ${(res.uncapped.ms / res.capped.ms).toFixed(2)}`)
}

// ---- per write, through a mount

// Child mode: creates a drive in storeDir, mounts it at mnt, and serves until
// stdin closes; then unmounts. Staged copies of open files go to TMPDIR,
// which the parent keeps outside storeDir so that du counts only the drive.
async function serveDrive (storeDir: string, mnt: string, format: DriveFormatName): Promise<never> {
  const store = DriveStore.directory(storeDir)
  const drive = await store.create({ format })
  const host = await FuseHost.mount(drive, mnt, {})
  process.stdout.write(`ready ${drive.key.toString('hex')}\n`)
  await new Promise<void>((resolve) => { process.stdin.on('end', resolve); process.stdin.on('error', () => resolve()); process.stdin.resume() })
  await host.unmount()
  await store.close()
  process.exit(0)
}

function startServer (storeDir: string, mnt: string, tmp: string): Promise<{ proc: ChildProcess, key: Buffer, stop: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SELF, '--serve-drive', storeDir, mnt, FORMAT], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, TMPDIR: tmp } })
    let out = ''
    const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()))
    const stop = async (): Promise<void> => {
      proc.stdin!.end()
      const killer = setTimeout(() => proc.kill('SIGKILL'), SERVER_STOP_MS)
      await exited
      clearTimeout(killer)
    }
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error('the mount was not ready in time')) }, SERVER_READY_MS)
    const ready = (): RegExpExecArray | null => /^ready ([0-9a-f]{64})\n/.exec(out)
    proc.stdout!.on('data', (d) => {
      out += d
      const m = ready()
      if (m) { clearTimeout(timer); resolve({ proc, key: Buffer.from(m[1], 'hex'), stop }) }
    })
    proc.on('error', reject)
    proc.on('exit', (code) => { clearTimeout(timer); if (!ready()) reject(new Error(`the mount exited with ${code}`)) })
  })
}

function exec (cmd: string, args: string[]): Promise<void> {
  return execOut(cmd, args).then(() => {})
}

function execOut (cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 16 * MiB }, (err, out, stderr) => err ? reject(new Error(`${cmd}: ${err.message} ${stderr}`)) : resolve(String(out)))
  })
}

// 10k inserts in transactions of 100, then 100 updates, each its own
// transaction, in the default (rollback journal) mode
const SQLITE_SCRIPT = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute('create table t (id integer primary key, name text, n integer)')
db.commit()
for b in range(0, ${SQL_INSERTS}, ${SQL_INSERTS_PER_COMMIT}):
    db.executemany('insert into t (name, n) values (?, ?)', [('name %d' % i, i) for i in range(b, b + ${SQL_INSERTS_PER_COMMIT})])
    db.commit()
for i in range(${SQL_UPDATES}):
    db.execute('update t set n = n + 1, name = ? where id = ?', ('updated %d' % i, 1 + (i * 97) % ${SQL_INSERTS}))
    db.commit()
db.close()
`

// what the workload leaves in the database, or exits 1
const SQLITE_CHECK = `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
assert db.execute('pragma integrity_check').fetchone()[0] == 'ok'
assert db.execute('select count(*), sum(n) from t').fetchone() == (${SQL_INSERTS}, ${SQL_INSERTS * (SQL_INSERTS - 1) / 2 + SQL_UPDATES})
assert db.execute("select count(*) from t where name like 'updated %'").fetchone()[0] == ${SQL_UPDATES}
`

// The same workload on a folder: each step's growth in bytes on disk of `measured`.
async function workloads (root: string, measured: string, src: string, ref: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {}
  const step = async (name: string, fn: () => Promise<void> | void): Promise<void> => {
    const before = du(measured)
    await fn()
    out[name] = du(measured) - before
  }
  const big = join(root, 'big.bin')
  await step('write 64 MiB', () => { copyFileSync(ref, big) })
  await step('1-byte writes', () => {
    for (let i = 0; i < ONE_BYTE_WRITES; i++) {
      const fd = openSync(big, 'r+')
      writeSync(fd, Buffer.from([i]), 0, 1, (i * 3_333_331 + 17) % FILE)
      closeSync(fd)
    }
  })
  const line = Buffer.alloc(APPEND_SIZE, 0x61)
  await step('appends', () => { for (let i = 0; i < APPENDS; i++) appendFileSync(join(root, 'app.log'), line) })
  await step('sqlite', () => exec('python3', ['-c', SQLITE_SCRIPT, join(root, 'app.db')]))
  mkdirSync(join(root, 'copy'))
  await step('rsync 1', () => exec('rsync', ['-a', src + '/', join(root, 'copy') + '/']))
  await step('rsync 2', () => exec('rsync', ['-a', src + '/', join(root, 'copy') + '/']))
  return out
}

async function perWriteBench (): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'bench-per-write-'))
  const storeDir = join(base, 'store')
  const mnt = join(base, 'mnt')
  const plain = join(base, 'plain')
  const src = join(base, 'src')
  const tmp = join(base, 'tmp')
  for (const d of [storeDir, mnt, plain, src, tmp]) mkdirSync(d)
  let server: { stop: () => Promise<void> } | null = null
  try {
    const ref = join(base, 'ref.bin')
    writeFileSync(ref, data(FILE))
    const small = data(RSYNC_FILE_MAX)
    let x = 1
    for (let i = 0; i < RSYNC_FILES; i++) {
      x = (x * 1103515245 + 12345) % 2147483648
      writeFileSync(join(src, `f${i}.txt`), small.subarray(0, 1 + x % RSYNC_FILE_MAX))
    }
    const floor = await workloads(plain, plain, src, ref)
    const started = await startServer(storeDir, mnt, tmp)
    server = started
    const ours = await workloads(mnt, storeDir, src, ref)
    // the figures are of a filesystem that kept the data right
    await exec('cmp', [join(plain, 'big.bin'), join(mnt, 'big.bin')])
    await exec('cmp', [join(plain, 'app.log'), join(mnt, 'app.log')])
    await exec('diff', ['-r', src, join(mnt, 'copy')])
    await exec('python3', ['-c', SQLITE_CHECK, join(mnt, 'app.db')])
    await server.stop()
    server = null
    // what all of it takes once gc keeps only the latest version
    const totalBefore = du(storeDir)
    const drives = DriveStore.directory(storeDir)
    try {
      const drive = await drives.open(started.key)
      const content = drive.content!
      const plan = await gcPlan(drive, { keepVersions: 1, bound: content.length })
      for (const [s, e] of [...plan.free.runs(0, content.length)]) await content.clear(s, e)
    } finally {
      await drives.close()
    }
    const totalAfter = du(storeDir)

    const per = (n: number, count: number): string => (n / count).toFixed(0) + ' B'
    const kib = (n: number): string => (n / 1024).toFixed(0) + ' KiB'
    console.log(`\nper write, through a mount of a ${FORMAT} drive on disk, against a folder on the same disk (growth on disk, as du counts it)`)
    console.log('| measure | hyperfs | ext4 folder (floor) | note |')
    console.log('| --- | --- | --- | --- |')
    row('64 MiB file written (cp)', mib(ours['write 64 MiB']), mib(floor['write 64 MiB']))
    row(`per 1-byte write (${ONE_BYTE_WRITES} into the 64 MiB file)`, per(ours['1-byte writes'], ONE_BYTE_WRITES), per(floor['1-byte writes'], ONE_BYTE_WRITES),
      `${kib(ours['1-byte writes'])} in all; ext4 writes in place`)
    row(`per ${APPEND_SIZE}-byte append (${APPENDS})`, per(ours.appends, APPENDS), per(floor.appends, APPENDS), `${kib(ours.appends)} in all, for ${kib(APPENDS * APPEND_SIZE)} of log`)
    row(`sqlite: ${SQL_INSERTS} inserts (${SQL_INSERTS / SQL_INSERTS_PER_COMMIT} commits), ${SQL_UPDATES} updates`, kib(ours.sqlite), kib(floor.sqlite), 'rollback journal, python3 sqlite3')
    row(`rsync -a of ${RSYNC_FILES} small files`, kib(ours['rsync 1']), kib(floor['rsync 1']))
    row('the same rsync again (nothing to copy)', kib(ours['rsync 2']), kib(floor['rsync 2']))
    row('all of the above, on disk', mib(totalBefore), mib(du(plain)), 'hyperfs keeps every version until gc')
    row('all of the above, after gc keeping the latest version', mib(totalAfter), mib(du(plain)))
  } finally {
    await server?.stop().catch((err) => console.error('stopping the mount failed:', err))
    // whatever a crashed server left mounted
    await new Promise((resolve) => execFile('fusermount', ['-uz', mnt], () => resolve(null)))
    rmSync(base, { recursive: true, force: true })
  }
}

// ---- the history budget, through the real daemon

// Bytes of content each path's versions brought that no earlier version
// had (a block is counted for the first path that names it), and the
// metadata core's bytes on disk.
async function growthByFile (storage: string, key: Buffer): Promise<Record<string, number>> {
  const drives = DriveStore.directory(storage)
  try {
    const drive = await drives.open(key)
    await drive.info()
    const content = drive.content!
    const seen = new Bitfield()
    const out: Record<string, number> = {}
    for await (const h of drive.history()) {
      if (h.type !== 'put' || !h.value) continue
      for (const [s, e] of statBlocks(h.value, content.length)) {
        for (const [a, b] of unmarked(seen, s, e)) out[h.name] = (out[h.name] ?? 0) + await content.heldBytes(a, b)
        seen.setRange(s, e, true)
      }
    }
    out['(metadata core)'] = await drive.metadata.diskBytes()
    return out
  } finally {
    await drives.close()
  }
}

async function budgetBench (): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'bench-budget-'))
  const plain = join(base, 'plain')
  mkdirSync(plain)
  const rows: Array<{ name: string, grew: number, live: number, held: number, runs: number }> = []
  try {
    const before = du(plain)
    await exec('python3', ['-c', SQLITE_SCRIPT, join(plain, 'app.db')])
    const floor = du(plain) - before
    let split: Record<string, number> = {}
    for (const budget of BUDGETS) {
      const storage = join(base, `store-${budget ?? 'none'}`)
      const mnt = join(base, `mnt-${budget ?? 'none'}`)
      mkdirSync(mnt)
      const cli = (args: string[]): Promise<string> => execOut(process.execPath, [BIN, ...args, '--storage', storage, '--no-dht', '--no-mdns'])
      let hex = ''
      try {
        await cli(['daemon', 'start', ...(budget ? ['--keep-history', String(budget)] : [])])
        const key = (await cli(['create', '--format', FORMAT])).trim().split('\n').pop()!
        await cli(['mount', key, mnt])
        const start = du(storage)
        await exec('python3', ['-c', SQLITE_SCRIPT, join(mnt, 'app.db')])
        await exec('python3', ['-c', SQLITE_CHECK, join(mnt, 'app.db')])
        const live = statSync(join(mnt, 'app.db')).size
        let info = JSON.parse(await cli(['info', key, '--json']))
        const deadline = Date.now() + SETTLE_MS
        while (budget && info.reclaimable > budget && Date.now() < deadline) {
          await new Promise((resolve) => setTimeout(resolve, 250))
          info = JSON.parse(await cli(['info', key, '--json']))
        }
        await cli(['unmount', mnt])
        const log = await execOut('grep', ['-c', 'auto gc', join(storage, 'daemon.log')]).catch(() => '0')
        hex = info.key
        rows.push({ name: budget ? `--keep-history ${budget / 1024}K` : 'no budget', grew: du(storage) - start, live, held: info.localBytes, runs: Number(log.trim()) })
      } finally {
        await cli(['daemon', 'stop']).catch((err) => console.error('stopping the daemon failed:', err))
        await new Promise((resolve) => execFile('fusermount', ['-uz', mnt], () => resolve(null)))
      }
      if (budget === null) split = await growthByFile(storage, Buffer.from(hex, 'hex'))
    }
    const kib = (n: number): string => (n / 1024).toFixed(0) + ' KiB'
    console.log(`\nsqlite (${SQL_INSERTS} inserts in ${SQL_INSERTS / SQL_INSERTS_PER_COMMIT} commits, ${SQL_UPDATES} updates) in a mount of the daemon (a ${FORMAT} drive), with and without a history budget (growth on disk, as du counts it)`)
    console.log('| history budget | hyperfs | ext4 folder (floor) | live data | content held (live + history) | automatic gcs |')
    console.log('| --- | --- | --- | --- | --- | --- |')
    for (const r of rows) console.log(`| ${r.name} | ${kib(r.grew)} (${(r.grew / floor).toFixed(1)}x) | ${kib(floor)} | ${kib(r.live)} | ${kib(r.held)} | ${r.runs} |`)
    console.log('where the growth with no budget goes (content each file\'s versions brought first, and the metadata core):')
    for (const [name, n] of Object.entries(split)) console.log(`  ${name}: ${kib(n)}`)
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
}

const only = process.argv.includes('--only') ? process.argv[process.argv.indexOf('--only') + 1] : null
// the format of the drive the per-write part mounts (--format hypertrie|hyperdrive13)
const FORMAT = (process.argv.includes('--format') ? process.argv[process.argv.indexOf('--format') + 1] : 'hypertrie') as DriveFormatName
if (process.argv[2] === '--serve-drive') await serveDrive(process.argv[3], process.argv[4], process.argv[5] as DriveFormatName)
else {
  if (!only || only === 'gc') await gcBench()
  if (!only || only === 'clear') await clearBench()
  if (!only || only === 'eviction') await evictionBench()
  if (!only || only === 'per-write') await perWriteBench()
  if (!only || only === 'budget') await budgetBench()
}
