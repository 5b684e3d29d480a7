// FUSE benchmarks (not part of the tests): what a program sees through a
// hyperfs mount, against the same work without hyperfs.
//   - sequential read of a large file (256 MB; 1 GB with --full) with `cat`:
//     through a mount of a Hyperdrive on disk, from a plain file, and from
//     fuse-native serving a Buffer from RAM (the FUSE ceiling on this machine)
//   - `ls -l` of a 10,000-file folder through the mount
//   - peak RSS of the hyperfs FUSE host alone: it runs in its own process
//     (so does the RAM ceiling) and samples its own RSS while it serves
//   - remote sequential read: `cat` through the mount of a cold replica that
//     replicates from the writer over TCP on 127.0.0.1, against a plain
//     drive.download() of the same file into another cold replica
//   - p50/p99 latency of 100 random 64 KiB reads on a cold replica
//   - the cost of checking local blocks against the tree: the first read
//     after a drive opens hashes every block (leaf hash, parents up to the
//     signed root); later reads trust the blocks checked since open. Through
//     the mount (first cat against the next), and in process (the 128 KiB
//     zero-copy reads a mount makes, without FUSE in the way)
//   - each binding (the native libfuse3 one, fuse-native) against a minimal
//     C libfuse3 filesystem serving the same files from RAM
//     (native/bench/ceiling.c, the ceiling of FUSE itself): cold `ls -l` of
//     the 10,000 files, the first and the second sequential read (the second
//     against the plain file in the page cache), small-file creates, and
//     `rsync -a` of 3,000 files, and `git status` in a 10,000-file repository
//     (median of GIT_RUNS after one that refreshes the index, against the
//     same repository on the disk); for the native binding, the requests
//     that reached JS during the second reads
// The second read of every FUSE mount comes from the page cache, but a FUSE
// file's page cache is of 4 KiB pages on this kernel, while the plain file on
// ext4 is held in large folios (up to 1 MiB): the copy out of it costs less
// per byte. The C ceiling's row shows that limit of FUSE itself.
// Readers are child processes: a process must not block on its own mount.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import Fuse from 'fuse-native'
import type { FuseOps } from 'fuse-native'
import { DriveStore } from '../src/drive/drive-store.js'
import { importFolder } from '../src/daemon/folder-import.js'
import type { Hyperdrive } from '../src/drive/hyperdrive.js'
import { FuseHost } from '../src/fuse/host.js'
import { fuseNativeBinding } from '../src/fuse/fuse-native-binding.js'
import { loadNativeAddon, nativeBinding, type NativeBinding } from '../src/fuse/native-binding.js'
import type { FuseBindingFactory } from '../src/fuse/api.js'

const full = process.argv.includes('--full')
const SIZE = (full ? 1024 : 256) * 1024 * 1024
const FILES = 10_000
const SEEKS = 100
const CREATES = 1000
const RSYNC_FILES = 3000
const GIT_FILES = 10_000 // in GIT_DIRS folders
const GIT_DIRS = 100
const GIT_RUNS = 5
const CEILING = fileURLToPath(new URL('../../native/build/hyperfs_ceiling', import.meta.url))
const SELF = fileURLToPath(import.meta.url)
const STATS_WAITS = 500 // 10 ms each
const step = (what: string): void => { if (process.env.BENCH_DEBUG) console.error(`[bench] ${what}`) }

function child (cmd: string, args: string[]): Promise<{ ms: number, out: string }> {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d) => { out += d })
    p.on('error', reject)
    p.on('exit', (code) => code === 0
      ? resolve({ ms: Number(process.hrtime.bigint() - start) / 1e6, out })
      : reject(new Error(`${cmd} exited with ${code}`)))
  })
}

const READ = 128 * 1024 // what the kernel asks a FUSE filesystem for at a time

// 128 KiB zero-copy reads of the whole file through a drive opened afresh:
// the first pass checks every block, the next ones only read
async function verifyCost (storeDir: string, key: Buffer): Promise<{ firstMs: number, repeatMs: number }> {
  const store = DriveStore.directory(storeDir)
  try {
    const drive = await store.open(key)
    const reader = (await drive.openReader('/big.bin'))!
    const buf = Buffer.allocUnsafe(READ)
    const pass = (): number => {
      const start = process.hrtime.bigint()
      for (let pos = 0; pos < SIZE; pos += READ) {
        if (reader.readInto(buf, pos, READ) !== Math.min(READ, SIZE - pos)) throw new Error(`short read at ${pos}`)
      }
      return Number(process.hrtime.bigint() - start) / 1e6
    }
    const firstMs = pass()
    return { firstMs, repeatMs: Math.min(pass(), pass()) }
  } finally {
    await store.close()
  }
}

// `git status` in `repo`: one run that may refresh the index (the inode and
// device numbers differ from where it was made), then the median of GIT_RUNS
async function gitStatusMs (repo: string): Promise<number> {
  const git = ['-C', repo, '-c', 'safe.directory=*', 'status', '--porcelain']
  const dirty = (await child('git', git)).out
  if (dirty !== '') throw new Error(`git status in ${repo} is not clean:\n${dirty.slice(0, 500)}`)
  const runs: number[] = []
  for (let i = 0; i < GIT_RUNS; i++) runs.push((await child('git', git)).ms)
  return runs.sort((a, b) => a - b)[GIT_RUNS >> 1]
}

// a committed, packed repository of GIT_FILES small files on the disk
async function makeRepo (dir: string): Promise<void> {
  mkdirSync(dir)
  for (let d = 0; d < GIT_DIRS; d++) {
    mkdirSync(join(dir, `d${d}`))
    for (let f = 0; f < GIT_FILES / GIT_DIRS; f++) writeFileSync(join(dir, `d${d}`, `f${f}.txt`), `file ${d}/${f}\n`)
  }
  // no gc of git's own in the background: it would race the one below
  const env = ['-c', 'user.name=bench', '-c', 'user.email=bench@localhost', '-c', 'init.defaultBranch=main', '-c', 'gc.auto=0', '-c', 'maintenance.auto=false']
  await child('git', [...env, 'init', '-q', dir])
  await child('git', [...env, '-C', dir, 'add', '-A'])
  await child('git', [...env, '-C', dir, 'commit', '-qm', 'bench'])
  await child('git', [...env, '-C', dir, 'gc', '-q'])
}

// the requests of each kind counted between two stats() (null: no counts)
function requestsBetween (before: Record<string, number> | null, after: Record<string, number> | null): Record<string, number> | null {
  if (!before || !after) return null
  return Object.fromEntries(Object.keys(after).map((op) => [op, after[op] - (before[op] ?? 0)]).filter(([, n]) => n))
}

const catMs = async (file: string): Promise<number> => (await child('sh', ['-c', `cat '${file}' > /dev/null`])).ms
const mbps = (ms: number): number => SIZE / 1e6 / (ms / 1000)

function fill (target: Buffer, start: number): void {
  for (let i = 0; i < target.length; i++) target[i] = ((start + i) * 131) & 0xff
}

// ---- the two server modes: each runs in a child process of the bench

// Serves until stdin closes, then unmounts and prints what it has to say.
// A line "stats" on stdin is answered with a line "stats {json}".
async function serveUntilStdinEnds (unmount: () => Promise<void>, report: () => string, stats: () => unknown = () => null): Promise<never> {
  process.stdout.write('ready\n')
  process.stdin.on('data', (d) => { if (String(d).includes('stats')) process.stdout.write(`stats ${JSON.stringify(stats())}\n`) })
  await new Promise<void>((resolve) => { process.stdin.on('end', resolve); process.stdin.on('error', () => resolve()); process.stdin.resume() })
  // what the host reached while it served, before teardown adds its own
  const said = report()
  await unmount()
  process.stdout.write(said)
  process.exit(0)
}

async function serveHost (storeDir: string, keyHex: string, mnt: string, binding: string, sampleRss: boolean): Promise<never> {
  const store = DriveStore.directory(storeDir)
  const drive = await store.open(Buffer.from(keyHex, 'hex'))
  // 'default': whichever binding FuseHost picks; the native one is kept for its request counts
  let native: NativeBinding | null = null
  const factory: FuseBindingFactory | undefined = binding === 'native'
    ? { ...nativeBinding, create: (...args) => (native = nativeBinding.create(...args) as NativeBinding) }
    : binding === 'fuse-native' ? fuseNativeBinding : undefined
  const host = await FuseHost.mount(drive, mnt, {}, { binding: factory })
  // Sampled, not getrusage's maxRSS: Linux carries maxRSS across exec, so a
  // child would report the bench parent's peak (it holds the RAM buffer).
  // Only where the RSS is reported: a timer every 5 ms is work the ceiling
  // does not do.
  let peak = process.memoryUsage.rss()
  const sampler = sampleRss ? setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 5) : null
  return serveUntilStdinEnds(async () => { if (sampler) clearInterval(sampler); await host.unmount(); await store.close() },
    () => `rss ${(peak / 1048576).toFixed(0)}\n`, () => (native as NativeBinding | null)?.stats().requests ?? null)
}

async function serveCeiling (mnt: string, size: number): Promise<never> {
  const data = Buffer.alloc(size)
  const chunk = Buffer.alloc(1024 * 1024)
  for (let off = 0; off < size; off += chunk.length) { fill(chunk, off); chunk.copy(data, off) }
  const now = new Date()
  const stat = (mode: number, size: number) => ({ mode, uid: 0, gid: 0, size, atime: now, mtime: now, ctime: now, nlink: 1 })
  const ops: FuseOps = {
    getattr: (path, cb) => path === '/' ? cb(0, stat(0o40755, 0)) : path === '/big.bin' ? cb(0, stat(0o100644, data.length)) : cb(-2),
    readdir: (_path, cb) => cb(0, ['big.bin']),
    open: (_path, _flags, cb) => cb(0, 1),
    release: (_path, _fd, cb) => cb(0),
    read: (_path, _fd, buf, len, pos, cb) => {
      const n = Math.max(0, Math.min(len, data.length - pos))
      data.copy(buf, 0, pos, pos + n)
      cb(n)
    }
  }
  const fuse = new Fuse(mnt, ops, { timeout: false })
  await new Promise<void>((resolve, reject) => fuse.mount((err) => err ? reject(err) : resolve()))
  return serveUntilStdinEnds(() => new Promise<void>((resolve) => fuse.unmount(() => resolve())), () => '')
}

// Starts this file in a server mode; stop() closes its stdin and gives all it
// printed; stats() asks for the native binding's request counts (null: none).
function server (args: string[]): Promise<{ stop (): Promise<string>, stats (): Promise<Record<string, number> | null>, proc: ChildProcess }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [SELF, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
    let out = ''
    const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()))
    const stop = async (): Promise<string> => {
      proc.stdin!.end()
      const killer = setTimeout(() => proc.kill('SIGKILL'), 10_000)
      await exited
      clearTimeout(killer)
      return out
    }
    const stats = async (): Promise<Record<string, number> | null> => {
      const from = out.length
      proc.stdin!.write('stats\n')
      for (let i = 0; i < STATS_WAITS && !/^stats .*\n/m.test(out.slice(from)); i++) await new Promise((resolve) => setTimeout(resolve, 10))
      const line = /^stats (.*)\n/m.exec(out.slice(from))
      if (!line) throw new Error(`${args[0]}: no stats`)
      return JSON.parse(line[1])
    }
    proc.stdout!.on('data', (d) => {
      out += d
      if (out.startsWith('ready\n')) resolve({ stop, stats, proc })
    })
    proc.on('error', reject)
    proc.on('exit', (code) => { if (!out.startsWith('ready\n')) reject(new Error(`${args[0]} exited with ${code}`)) })
  })
}

// ---- the benchmark

const cleanups: Array<() => Promise<unknown>> = []
const mountpoints: string[] = []

async function main (base: string): Promise<void> {
  // the same bytes as a plain file and as a file of a drive on disk
  const plain = join(base, 'plain.bin')
  const storeDir = join(base, 'store')
  let store = DriveStore.directory(storeDir)
  const drive = await store.create()
  const key = drive.key
  const ws = drive.createWriteStream('/big.bin')
  const chunk = Buffer.alloc(1024 * 1024)
  const ram = Buffer.alloc(SIZE)
  for (let off = 0; off < SIZE; off += chunk.length) {
    fill(chunk, off)
    chunk.copy(ram, off)
    if (!ws.write(Buffer.from(chunk))) await new Promise((resolve) => ws.once('drain', resolve))
  }
  await new Promise<void>((resolve, reject) => { ws.on('error', reject); ws.on('close', () => resolve()); ws.end() })
  writeFileSync(plain, ram)
  for (let i = 0; i < FILES; i++) await drive.writeFile(`/many/f${i}`, Buffer.from(String(i)))
  step('git repository')
  const gitSrc = join(base, 'git-src')
  await makeRepo(gitSrc)
  await importFolder(drive, gitSrc, '/repo')
  await store.close()
  const gitDiskMs = await gitStatusMs(gitSrc)
  // what the setup wrote (over 512 MiB) goes to the disk now, not during the reads timed below
  step('sync')
  await child('sync', [])
  step('verify cost')
  const cost = await verifyCost(storeDir, key)

  const ours = join(base, 'ours')
  const ceiling = join(base, 'ceiling')
  for (const m of [ours, ceiling]) { mkdirSync(m); mountpoints.push(m) }
  step('host')
  const host = await server(['--serve-host', storeDir, key.toString('hex'), ours, 'default', 'rss'])
  cleanups.push(() => host.stop())
  step('ceiling')
  const ceil = await server(['--serve-ceiling', ceiling, String(SIZE)])
  cleanups.push(() => ceil.stop())

  // warm the page cache for the plain file; FUSE reads are not cached (direct to the host)
  step('cat')
  const hostRssNow = async (what: string): Promise<void> => {
    if (process.env.BENCH_DEBUG) step(`host rss ${what}: ${(await child('ps', ['-o', 'rss=', '-p', String(host.proc.pid)])).out.trim()} KiB`)
  }
  await hostRssNow('mounted')
  await catMs(plain)
  const plainMs = Math.min(await catMs(plain), await catMs(plain), await catMs(plain))
  const firstMs = await catMs(join(ours, 'big.bin')) // the host checks every block on this one
  const oursMs = Math.min(await catMs(join(ours, 'big.bin')), await catMs(join(ours, 'big.bin')))
  await hostRssNow('after cat')
  const ceilMs = Math.min(await catMs(join(ceiling, 'big.bin')), await catMs(join(ceiling, 'big.bin')))
  const ls = await child('ls', ['-l', join(ours, 'many')])
  const listed = ls.out.split('\n').filter((l) => l.startsWith('-')).length
  if (listed !== FILES) throw new Error(`ls -l listed ${listed} files`)
  await hostRssNow('after ls')
  const hostRss = Number(/rss (\d+)/.exec(await host.stop())?.[1])
  await ceil.stop()

  // each binding, and the C ceiling, freshly mounted: nothing cached in the kernel
  const bindings = 'addon' in loadNativeAddon() ? ['native', 'fuse-native'] : ['fuse-native']
  const perMount: Record<string, { ls: number, first: number, second: number, creates?: number, rsync?: number, rsync2?: number, git?: number, secondRequests?: Record<string, number> | null, gitRequests?: Record<string, number> | null }> = {}
  const rsyncSrc = join(base, 'rsync-src')
  mkdirSync(rsyncSrc)
  for (let i = 0; i < RSYNC_FILES; i++) writeFileSync(join(rsyncSrc, `r${i}`), `rsync ${i}\n`)
  for (const name of [...bindings, 'ceiling']) {
    const mnt = join(base, `fresh-${name}`)
    mkdirSync(mnt)
    mountpoints.push(mnt)
    step(`fresh ${name}`)
    const srv = name === 'ceiling'
      ? await server(['--serve-c-ceiling', mnt, String(SIZE), String(FILES)])
      : await server(['--serve-host', storeDir, key.toString('hex'), mnt, name])
    try {
      const cold = await child('ls', ['-l', join(mnt, 'many')])
      const n = cold.out.split('\n').filter((l) => l.startsWith('-')).length
      if (n !== FILES) throw new Error(`${name}: ls -l listed ${n} files`)
      const first = await catMs(join(mnt, 'big.bin'))
      const before = await srv.stats()
      // the best of a few: a read from the page cache is short enough for one busy moment to double it
      const second = Math.min(await catMs(join(mnt, 'big.bin')), await catMs(join(mnt, 'big.bin')), await catMs(join(mnt, 'big.bin')))
      const after = await srv.stats()
      const secondRequests = requestsBetween(before, after)
      perMount[name] = { ls: cold.ms, first, second, secondRequests }
      if (name !== 'ceiling') {
        const dir = join(mnt, `creates-${name}`)
        mkdirSync(dir)
        perMount[name].creates = (await child('sh', ['-c', `cd '${dir}' && i=0; while [ $i -lt ${CREATES} ]; do echo $i > f$i; i=$((i+1)); done`])).ms
        perMount[name].rsync = (await child('rsync', ['-a', rsyncSrc + '/', join(mnt, `rsync-${name}`) + '/'])).ms
        perMount[name].rsync2 = (await child('rsync', ['-a', rsyncSrc + '/', join(mnt, `rsync-${name}`) + '/'])).ms
        const beforeGit = await srv.stats()
        perMount[name].git = await gitStatusMs(join(mnt, 'repo'))
        perMount[name].gitRequests = requestsBetween(beforeGit, await srv.stats())
      }
    } finally {
      await srv.stop()
    }
  }

  // the writer again, in this process, serving replicas over TCP on loopback
  step('writer')
  store = DriveStore.directory(storeDir)
  const writer = await store.open(key)
  await writer.ready()
  const sockets: Socket[] = []
  const tcp: Server = createServer((sock) => {
    sockets.push(sock)
    const s = store.replicate(false)
    sock.pipe(s).pipe(sock)
    sock.on('error', () => {})
  })
  await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve))
  cleanups.push(async () => {
    for (const s of sockets) s.destroy()
    await new Promise((resolve) => tcp.close(resolve))
    await store.close()
  })
  const port = (tcp.address() as { port: number }).port

  // A cold replica: it knows the writer's metadata and content lengths,
  // and holds no content block yet.
  const replica = async (name: string): Promise<Hyperdrive> => {
    const rstore = DriveStore.directory(join(base, `replica-${name}`), { timeout: 10_000 })
    const sock = connect(port, '127.0.0.1')
    sock.on('error', () => {})
    const s = rstore.replicate(true)
    sock.pipe(s).pipe(sock)
    cleanups.push(async () => { sock.destroy(); await rstore.close() })
    const reader = await rstore.open(key)
    await reader.ready()
    for (let i = 0; i < 500 && reader.metadata.length < writer.metadata.length; i++) await reader.metadata.update({ timeout: 100 })
    await reader.info()
    for (let i = 0; i < 500 && reader.content!.length < writer.content!.length; i++) await reader.content!.update({ timeout: 100 })
    if (reader.content!.length !== writer.content!.length) throw new Error(`${name} did not catch up with the writer`)
    return reader
  }

  // remote sequential read: through the mount, against a plain download
  const remoteMnt = join(base, 'remote')
  mkdirSync(remoteMnt)
  mountpoints.push(remoteMnt)
  step('remote')
  const remote = await replica('remote')
  const rhost = await FuseHost.mount(remote, remoteMnt, {})
  cleanups.push(() => rhost.unmount())
  const remoteMs = await catMs(join(remoteMnt, 'big.bin'))
  step('download')
  const dl = await replica('download')
  const dlStart = process.hrtime.bigint()
  await dl.download('/big.bin')
  const downloadMs = Number(process.hrtime.bigint() - dlStart) / 1e6

  // a cold replica, mounted without read-ahead: random 64 KiB reads
  const seekMnt = join(base, 'seeks')
  mkdirSync(seekMnt)
  mountpoints.push(seekMnt)
  step('seeks')
  const cold = await replica('seeks')
  const shost = await FuseHost.mount(cold, seekMnt, { readAheadMin: 0 })
  cleanups.push(() => shost.unmount())
  const py = `
import os, sys, time, random
random.seed(1)
f = os.open(sys.argv[1], os.O_RDONLY)
size = os.fstat(f).st_size
out = []
for _ in range(int(sys.argv[2])):
    off = random.randrange(0, size - 65536)
    t = time.perf_counter()
    n = len(os.pread(f, 65536, off))
    out.append((time.perf_counter() - t) * 1000)
    assert n == 65536
print(' '.join('%.3f' % x for x in out))
`
  const lat = (await child('python3', ['-c', py, join(seekMnt, 'big.bin'), String(SEEKS)])).out.trim().split(' ').map(Number).sort((a, b) => a - b)
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]

  console.log(`\nfuse: ${SIZE / 1024 / 1024} MiB sequential read with cat; ${FILES}-file folder; ${SEEKS} random 64 KiB reads on a cold replica`)
  console.log('| measure | hyperfs mount | baseline | hyperfs/baseline |')
  console.log('| --- | --- | --- | --- |')
  console.log(`| sequential read vs plain file (page cache) | ${mbps(oursMs).toFixed(0)} MB/s | ${mbps(plainMs).toFixed(0)} MB/s | ${(plainMs / oursMs).toFixed(2)} |`)
  console.log(`| sequential read vs fuse-native from RAM (FUSE ceiling) | ${mbps(oursMs).toFixed(0)} MB/s | ${mbps(ceilMs).toFixed(0)} MB/s | ${(ceilMs / oursMs).toFixed(2)} |`)
  console.log(`| first sequential read (checks every block against the tree) vs the next (checked since open) | ${mbps(firstMs).toFixed(0)} MB/s | ${mbps(oursMs).toFixed(0)} MB/s | ${(oursMs / firstMs).toFixed(2)} |`)
  console.log(`| in process, 128 KiB zero-copy reads: first pass (checks) vs the next (no FUSE) | ${mbps(cost.firstMs).toFixed(0)} MB/s | ${mbps(cost.repeatMs).toFixed(0)} MB/s | ${(cost.repeatMs / cost.firstMs).toFixed(2)} |`)
  console.log(`| remote sequential read (cold replica over TCP) vs drive.download() | ${mbps(remoteMs).toFixed(0)} MB/s | ${mbps(downloadMs).toFixed(0)} MB/s | ${(downloadMs / remoteMs).toFixed(2)} |`)
  console.log(`| ls -l of ${FILES} files | ${ls.ms.toFixed(0)} ms | | |`)
  console.log(`| cold replica 64 KiB read p50 / p99 | ${pct(0.5).toFixed(2)} / ${pct(0.99).toFixed(2)} ms | | |`)
  console.log(`| FUSE host peak RSS (its own process, while streaming and listing) | ${hostRss} MiB | | |`)

  const c = perMount.ceiling
  console.log(`\nfuse bindings, each freshly mounted, against a minimal C libfuse3 filesystem serving the same files from RAM (the ceiling)`)
  console.log('| measure | ' + bindings.join(' | ') + ' | C ceiling | ' + bindings.map((b) => `${b}/ceiling`).join(' | ') + ' |')
  console.log('| --- |' + ' --- |'.repeat(bindings.length * 2 + 1))
  const row = (what: string, v: (m: typeof c) => number, unit: string, digits = 0): void => {
    console.log(`| ${what} | ${bindings.map((b) => `${v(perMount[b]).toFixed(digits)} ${unit}`).join(' | ')} | ${v(c).toFixed(digits)} ${unit} | ${bindings.map((b) => (v(perMount[b]) / v(c)).toFixed(2)).join(' | ')} |`)
  }
  row(`cold ls -l of ${FILES} files (target native <= 2x)`, (m) => m.ls, 'ms')
  row('first sequential read', (m) => mbps(m.first), 'MB/s')
  row('second sequential read', (m) => mbps(m.second), 'MB/s')
  console.log('| measure | ' + bindings.join(' | ') + ' | | |')
  console.log(`| second read vs the plain file in the page cache (${mbps(plainMs).toFixed(0)} MB/s; target native >= 0.8) | ${bindings.map((b) => (plainMs / perMount[b].second).toFixed(2)).join(' | ')} | ${(plainMs / c.second).toFixed(2)} | |`)
  if (perMount.native?.secondRequests) console.log(`| requests that reached JS during the 3 second reads (native) | ${Object.entries(perMount.native.secondRequests).map(([op, n]) => `${op} ${n}`).join(', ') || 'none'} | | |`)
  if (bindings.includes('native')) console.log(`| first sequential read, native / fuse-native (target >= 1.0) | ${(perMount['fuse-native'].first / perMount.native.first).toFixed(2)} | | | |`)
  console.log(`| small-file creates (${CREATES}, one shell) | ${bindings.map((b) => `${(CREATES / (perMount[b].creates! / 1000)).toFixed(0)}/s`).join(' | ')} | | |`)
  console.log(`| rsync -a of ${RSYNC_FILES} files, first / second run | ${bindings.map((b) => `${perMount[b].rsync!.toFixed(0)} / ${perMount[b].rsync2!.toFixed(0)} ms`).join(' | ')} | | |`)
  console.log(`| git status, ${GIT_FILES}-file repository, median of ${GIT_RUNS} (the same repository on the disk: ${gitDiskMs.toFixed(0)} ms) | ${bindings.map((b) => `${perMount[b].git!.toFixed(0)} ms`).join(' | ')} | | |`)
  if (perMount.native?.gitRequests) console.log(`| requests that reached JS during the ${GIT_RUNS + 1} git status runs (native) | ${Object.entries(perMount.native.gitRequests).map(([op, n]) => `${op} ${n}`).join(', ') || 'none'} | | |`)
}

// The C ceiling in its own process (native/build/hyperfs_ceiling), as a server of this file.
async function serveCCeiling (mnt: string, size: string, files: string): Promise<never> {
  const proc = spawn(CEILING, [mnt, size, files], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()))
  await new Promise<void>((resolve, reject) => {
    proc.stdout!.on('data', (d) => { if (String(d).includes('ready')) resolve() })
    proc.on('error', reject)
    proc.on('exit', (code) => reject(new Error(`${CEILING} exited with ${code} (npm run build:native builds it)`)))
  })
  return serveUntilStdinEnds(async () => { proc.kill('SIGTERM'); await exited }, () => '')
}

const mode = process.argv[2]
if (mode === '--serve-host') await serveHost(process.argv[3], process.argv[4], process.argv[5], process.argv[6], process.argv[7] === 'rss')
else if (mode === '--serve-c-ceiling') await serveCCeiling(process.argv[3], process.argv[4], process.argv[5])
else if (mode === '--serve-ceiling') await serveCeiling(process.argv[3], Number(process.argv[4]))
else {
  const base = mkdtempSync(join(tmpdir(), 'bench-fuse-'))
  try {
    await main(base)
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err) => console.error('cleanup failed:', err))
    // whatever a crashed server left mounted
    for (const m of mountpoints) await new Promise((resolve) => execFile('fusermount', ['-uz', m], () => resolve(null)))
    await new Promise((resolve) => setTimeout(resolve, 200))
    rmSync(base, { recursive: true, force: true })
  }
  process.exit(0)
}
