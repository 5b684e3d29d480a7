// Drive benchmarks: ours (DriveStore on disk, in each drive format) against
// hyperdrive@13 on corestore@7, side by side in one run, on the same data,
// each in its own temp folder. Prints ours/real ratios as speedups (> 1 means
// ours is faster), one table per format of ours.
//   write then read a large file (first right after writing it, then after
//   closing and opening the drive again); readdir of a 10,000-entry folder,
//   local and on a cold replica; 1 MB at 50 MB on a cold replica; stat of
//   1,000 random paths. `--quick` shrinks the sizes; `--format hypertrie|hyperdrive13` runs
//   only that format of ours (against the real one, which always runs).
// Each implementation runs in a fresh process of its own (see runChild).
// Self-contained on purpose: it needs nothing from bench/ but node and the oracles.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { DriveStore } from '../src/drive/drive-store.js'
import type { DriveFormatName } from '../src/drive/drive-format.js'
import { DRIVE_FORMATS } from '../src/drive/drive-formats.js'

const oracle = createRequire(import.meta.url)
const RealHyperdrive = oracle('hyperdrive')
const Corestore = oracle('corestore')

const quick = process.argv.includes('--quick')
const FILE_MB = quick ? 10 : 100
const ENTRIES = quick ? 2_000 : 10_000
const STATS = 1_000
const READS = 3 // reads after a reopen, for their median
const CHILD_TIMEOUT_MS = 10 * 60_000 // one implementation's run
const only = process.argv.includes('--format') ? process.argv[process.argv.indexOf('--format') + 1] as DriveFormatName : null
if (only !== null && !DRIVE_FORMATS.includes(only)) throw new Error(`--format is one of ${DRIVE_FORMATS.join(', ')}`)
const formats = only ? [only] : [...DRIVE_FORMATS]

async function time (fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

interface Opened {
  drive: any
  close: () => Promise<void>
  replica: (dir: string) => Promise<{ drive: any, close: () => Promise<void> }>
  // closes the drive and opens it again from its folder, by key
  reopen: () => Promise<Opened>
}

interface Impl {
  name: string
  open (dir: string): Promise<Opened>
}

function link (a: any, b: any): () => void {
  a.pipe(b).pipe(a)
  return () => { a.destroy(); b.destroy() }
}

const impls: Impl[] = [
  {
    name: 'real',
    async open (dir) {
      const opened = async (key: Buffer | null): Promise<Opened> => {
        const store = new Corestore(dir)
        const drive = key ? new RealHyperdrive(store, key) : new RealHyperdrive(store)
        await drive.ready()
        // a cold replica in its own folder, over an in-process pipe
        const replica = async (rdir: string) => {
          const rstore = new Corestore(rdir)
          const unlink = link(store.replicate(true), rstore.replicate(false))
          const r = new RealHyperdrive(rstore, drive.key)
          await r.ready()
          await r.update({ wait: true })
          return { drive: r, close: async () => { unlink(); await r.close(); await rstore.close() } }
        }
        const close = async () => { await drive.close(); await store.close() }
        return { drive, close, replica, reopen: async () => { await close(); return opened(drive.key) } }
      }
      return opened(null)
    }
  },
  ...formats.map((format): Impl => ({
    name: format,
    async open (dir) {
      const opened = async (key: Buffer | null): Promise<Opened> => {
        const store = DriveStore.directory(dir)
        const drive = key ? await store.open(key) : await store.create({ format })
        const replica = async (rdir: string) => {
          const rstore = DriveStore.directory(rdir)
          const unlink = link(store.replicate(true), rstore.replicate(false))
          const r = await rstore.open(drive.key)
          await r.metadata.update()
          return { drive: r, close: async () => { unlink(); await rstore.close() } }
        }
        const close = () => store.close()
        return { drive, close, replica, reopen: async () => { await close(); return opened(drive.key) } }
      }
      return opened(null)
    }
  }))
]

async function readAll (stream: AsyncIterable<Buffer>): Promise<number> {
  let n = 0
  for await (const c of stream) n += c.byteLength
  return n
}

async function run (impl: Impl): Promise<Record<string, number>> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-drive-'))
  const res: Record<string, number> = {}
  try {
    let opened = await impl.open(dir)
    const chunk = Buffer.alloc(1024 * 1024)
    for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131) & 0xff
    res.write = await time(async () => {
      const ws = opened.drive.createWriteStream('/big.bin')
      for (let i = 0; i < FILE_MB; i++) {
        if (!ws.write(chunk)) await new Promise((resolve) => ws.once('drain', resolve))
      }
      await new Promise<void>((resolve, reject) => { ws.on('error', reject); ws.on('close', resolve); ws.end() })
    })
    const readBig = async (): Promise<number> => {
      let bytes = 0
      const ms = await time(async () => { bytes = await readAll(opened.drive.createReadStream('/big.bin')) })
      if (bytes !== FILE_MB * chunk.length) throw new Error(`${impl.name} read ${bytes} bytes`)
      return ms
    }
    // the first read in this process, right after the write; then reads
    // each after closing and opening the drive again (ours then checks every
    // block again, as after a restart), their median
    res.read = await readBig()
    const again: number[] = []
    for (let i = 0; i < READS; i++) {
      opened = await opened.reopen()
      again.push(await readBig())
    }
    res.readReopened = again.sort((a, b) => a - b)[Math.floor(READS / 2)]
    const { drive, close, replica } = opened

    const small = Buffer.from('x')
    if (impl.name === 'real') {
      const batch = drive.batch()
      for (let i = 0; i < ENTRIES; i++) await batch.put(`/dir/f${i}`, small)
      await batch.flush()
    } else {
      for (let i = 0; i < ENTRIES; i++) await drive.writeFile(`/dir/f${i}`, small)
    }
    // ours lists with stats; the real readdir gives names, so it is timed both
    // bare (names only) and with an entry() per name (what `ls -l` needs)
    const list = async (d: any, withStats: boolean) => {
      let n = 0
      if (impl.name === 'real') {
        for await (const name of d.readdir('/dir')) { if (withStats) await d.entry('/dir/' + name); n++ }
      } else {
        for await (const _ of d.readdir('/dir')) n++
      }
      if (n !== ENTRIES) throw new Error(`${impl.name} listed ${n}`)
    }
    res.readdir = await time(() => list(drive, true))
    res.readdirNames = await time(() => list(drive, false))

    // a cold replica: nothing local but what opening the drive fetched
    const cold = async (f: (d: any) => Promise<unknown>) => {
      const rdir = mkdtempSync(join(tmpdir(), 'bench-drive-r-'))
      try {
        const r = await replica(rdir)
        const ms = await time(() => f(r.drive))
        await r.close()
        return ms
      } finally {
        rmSync(rdir, { recursive: true, force: true })
      }
    }
    res.coldReaddir = await cold((d) => list(d, true))
    res.coldReaddirNames = await cold((d) => list(d, false))
    const at = Math.min(50, FILE_MB - 1) * 1024 * 1024
    res.coldRange = await cold(async (d) => {
      const n = await readAll(d.createReadStream('/big.bin', { start: at, end: at + 1024 * 1024 - 1 }))
      if (n !== 1024 * 1024) throw new Error(`${impl.name} cold range read ${n} bytes`)
    })
    let seed = 1
    const paths = Array.from({ length: STATS }, () => { seed = (seed * 16807) % 2147483647; return `/dir/f${seed % ENTRIES}` })
    res.stat = await time(async () => {
      for (const p of paths) {
        const e = impl.name === 'real' ? await drive.entry(p) : await drive.stat(p)
        if (!e) throw new Error('missing ' + p)
      }
    })
    await close()
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return res
}

// Each implementation runs in a process of its own, one after the other:
// every one starts from the same fresh heap and cold JIT, and none pays for
// the garbage another left. `--impl NAME` is that child: it prints its
// results as one line of JSON.
const implArg = process.argv.includes('--impl') ? process.argv[process.argv.indexOf('--impl') + 1] : null
if (implArg !== null) {
  const impl = impls.find((i) => i.name === implArg)
  if (!impl) throw new Error(`--impl is one of ${impls.map((i) => i.name).join(', ')}`)
  console.log('RESULT ' + JSON.stringify(await run(impl)))
  process.exit(0)
}
const results: Record<string, Record<string, number>> = {}
for (const impl of impls) results[impl.name] = runChild(impl.name)
const mb = FILE_MB * 1024 * 1024 / 1e6
for (const format of formats) table(format)

function runChild (name: string): Record<string, number> {
  const args = [fileURLToPath(import.meta.url), '--impl', name, ...(quick ? ['--quick'] : [])]
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: CHILD_TIMEOUT_MS })
  const line = r.stdout?.split('\n').find((l) => l.startsWith('RESULT '))
  if (r.status !== 0 || !line) throw new Error(`bench of ${name} failed (exit ${r.status}${r.signal ? ', ' + r.signal : ''}):\n${r.stdout}`)
  return JSON.parse(line.slice('RESULT '.length))
}

function table (format: string): void {
  console.log(`\ndrive, ours in the ${format} format: ${FILE_MB} MB file, ${ENTRIES}-entry folder, ${STATS} stats (real = hyperdrive@13 + corestore@7)`)
  console.log('| measure | ours | real | ours/real |')
  console.log('| --- | --- | --- | --- |')
  const row = (name: string, key: string, unit: string, f: (ms: number) => number, higher: boolean) => {
    const o = f(results[format][key])
    const r = f(results.real[key])
    console.log(`| ${name} | ${o.toFixed(1)} ${unit} | ${r.toFixed(1)} ${unit} | ${(higher ? o / r : r / o).toFixed(2)} |`)
  }
  row('write file', 'write', 'MB/s', (ms) => mb / (ms / 1000), true)
  row('read file, first (just written; cold process)', 'read', 'MB/s', (ms) => mb / (ms / 1000), true)
  row(`read file, after a reopen (median of ${READS})`, 'readReopened', 'MB/s', (ms) => mb / (ms / 1000), true)
  row(`readdir ${ENTRIES}, local (real: + entry() per name)`, 'readdir', 'ms', (ms) => ms, false)
  row(`readdir ${ENTRIES}, local (real: names only)`, 'readdirNames', 'ms', (ms) => ms, false)
  row(`readdir ${ENTRIES}, cold replica (real: + entry() per name)`, 'coldReaddir', 'ms', (ms) => ms, false)
  row(`readdir ${ENTRIES}, cold replica (real: names only)`, 'coldReaddirNames', 'ms', (ms) => ms, false)
  row(`1 MB at ${Math.min(50, FILE_MB - 1)} MB, cold replica`, 'coldRange', 'ms', (ms) => ms, false)
  row(`stat ${STATS} random`, 'stat', 'ms', (ms) => ms, false)
}
