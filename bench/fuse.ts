// FUSE benchmarks (not part of the tests): what a program sees through a
// hyperfs mount, against the same work without hyperfs.
//   - sequential read of a large file (256 MB; 1 GB with --full) with `cat`:
//     through a mount of a Hyperdrive on disk, from a plain file, and from
//     fuse-native serving a Buffer from RAM (the FUSE ceiling on this machine)
//   - p50/p99 latency of 100 random 64 KiB reads on a cold replica (its
//     blocks come from a writer over in-memory replication streams)
//   - `ls -l` of a 10,000-file folder through the mount
//   - peak RSS of this (host) process
// Readers are child processes: a process must not block on its own mount.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import Fuse from 'fuse-native'
import type { FuseOps } from 'fuse-native'
import { Hypercore } from '../src/core/hypercore.js'
import { FileStorage } from '../src/core/storage.js'
import { DriveStore } from '../src/drive/drive-store.js'
import { Hyperdrive } from '../src/drive/hyperdrive.js'
import { FuseHost } from '../src/fuse/host.js'

const full = process.argv.includes('--full')
const SIZE = (full ? 1024 : 256) * 1024 * 1024
const FILES = 10_000
const SEEKS = 100
const base = mkdtempSync(join(tmpdir(), 'bench-fuse-'))
const mounts: Array<() => Promise<void>> = []

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

const catMs = async (file: string): Promise<number> => (await child('sh', ['-c', `cat '${file}' > /dev/null`])).ms
const mbps = (ms: number): number => SIZE / 1e6 / (ms / 1000)

function fill (target: Buffer, start: number): void {
  for (let i = 0; i < target.length; i++) target[i] = ((start + i) * 131) & 0xff
}

async function ramCeiling (mnt: string, data: Buffer): Promise<void> {
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
  mounts.push(() => new Promise<void>((resolve) => fuse.unmount(() => resolve())))
}

async function main (): Promise<void> {
  // the same bytes three ways
  const plain = join(base, 'plain.bin')
  const store = DriveStore.directory(join(base, 'store'))
  const drive = await store.create()
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

  const ours = join(base, 'ours')
  const ceiling = join(base, 'ceiling')
  mkdirSync(ours)
  mkdirSync(ceiling)
  const host = await FuseHost.mount(drive, ours, {})
  mounts.push(() => host.unmount())
  await ramCeiling(ceiling, ram)

  // warm the page cache for the plain file; FUSE reads are not cached (direct to the host)
  await catMs(plain)
  const plainMs = Math.min(await catMs(plain), await catMs(plain))
  const oursMs = Math.min(await catMs(join(ours, 'big.bin')), await catMs(join(ours, 'big.bin')))
  const ceilMs = Math.min(await catMs(join(ceiling, 'big.bin')), await catMs(join(ceiling, 'big.bin')))
  const ls = await child('ls', ['-l', join(ours, 'many')])
  const listed = ls.out.split('\n').filter((l) => l.startsWith('-')).length
  if (listed !== FILES) throw new Error(`ls -l listed ${listed} files`)

  // a cold replica of the drive, mounted: random 64 KiB reads
  const replicaMnt = join(base, 'replica')
  mkdirSync(replicaMnt)
  const metadata = new Hypercore(new FileStorage(join(base, 'reader', 'metadata')), drive.key)
  const pipes: Array<{ destroy (): void }> = []
  const connect = async (w: Hypercore, r: Hypercore): Promise<void> => {
    await Promise.all([w.ready(), r.ready()])
    const a = w.replicate(true)
    const b = r.replicate(false)
    a.pipe(b).pipe(a)
    pipes.push(a, b)
  }
  let contentReady: Promise<void> = Promise.resolve()
  const reader = new Hyperdrive({
    metadata,
    content: (key) => {
      const core = new Hypercore(new FileStorage(join(base, 'reader', 'content')), key)
      contentReady = connect(drive.content!, core)
      return core
    }
  }, { timeout: 10_000 })
  await connect(drive.metadata, metadata)
  await reader.ready()
  for (let i = 0; i < 500 && metadata.length < drive.metadata.length; i++) await metadata.update({ timeout: 100 })
  await reader.info()
  await contentReady
  for (let i = 0; i < 500 && reader.content!.length < drive.content!.length; i++) await reader.content!.update({ timeout: 100 })
  const rhost = await FuseHost.mount(reader, replicaMnt, { readAheadMin: 0 })
  mounts.push(() => rhost.unmount())
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
  const lat = (await child('python3', ['-c', py, join(replicaMnt, 'big.bin'), String(SEEKS)])).out.trim().split(' ').map(Number).sort((a, b) => a - b)
  const pct = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]
  for (const p of pipes) p.destroy()

  const rss = process.resourceUsage().maxRSS / 1024
  console.log(`\nfuse: ${SIZE / 1024 / 1024} MiB sequential read with cat; ${FILES}-file folder; ${SEEKS} random 64 KiB reads on a cold replica`)
  console.log('| measure | hyperfs mount | baseline | hyperfs/baseline |')
  console.log('| --- | --- | --- | --- |')
  console.log(`| sequential read vs plain file (page cache) | ${mbps(oursMs).toFixed(0)} MB/s | ${mbps(plainMs).toFixed(0)} MB/s | ${(plainMs / oursMs).toFixed(2)} |`)
  console.log(`| sequential read vs fuse-native from RAM (FUSE ceiling) | ${mbps(oursMs).toFixed(0)} MB/s | ${mbps(ceilMs).toFixed(0)} MB/s | ${(ceilMs / oursMs).toFixed(2)} |`)
  console.log(`| ls -l of ${FILES} files | ${ls.ms.toFixed(0)} ms | | |`)
  console.log(`| cold replica 64 KiB read p50 / p99 | ${pct(0.5).toFixed(2)} / ${pct(0.99).toFixed(2)} ms | | |`)
  console.log(`| host peak RSS (holds the ${SIZE / 1024 / 1024} MiB RAM buffer too) | ${rss.toFixed(0)} MiB | | |`)
  await reader.close()
}

try {
  await main()
} finally {
  for (const unmount of mounts.reverse()) await unmount().catch((err) => console.error('unmount failed:', err))
  await new Promise((resolve) => setTimeout(resolve, 200))
  rmSync(base, { recursive: true, force: true })
}
process.exit(0)
