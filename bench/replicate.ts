// Replication throughput and sparse-read latency: ours↔ours against
// hypercore@11↔hypercore@11, side by side in one run, on the same data.
//   node dist/bench/replicate.js [--mb 200]
import { createServer, connect, type Socket } from 'node:net'
import { Hypercore } from '../src/core/hypercore.js'
import { oracle, time, tempDir, printRows, mbps, type Row } from './harness.js'

const RealHypercore = oracle('hypercore')
const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i === -1 ? def : Number(process.argv[i + 1]) }
const MB = arg('--mb', 200)
const BLOCK = 65536
const N = Math.floor(MB * 1e6 / BLOCK)

interface Impl { name: 'ours' | 'real', make: (dir: string, key?: Buffer) => any }
const impls: Impl[] = [
  { name: 'real', make: (dir, key) => new RealHypercore(dir, key ?? null) },
  { name: 'ours', make: (dir, key) => new Hypercore(dir, key ?? null) }
]

async function makeWriter (impl: Impl, dir: string) {
  const w = impl.make(dir)
  await w.ready()
  const block = Buffer.alloc(BLOCK, 0x61)
  for (let i = 0; i < N; i += 100) {
    const batch = []
    for (let j = i; j < Math.min(N, i + 100); j++) { const b = Buffer.from(block); b.writeUInt32LE(j, 0); batch.push(b) }
    await w.append(batch)
  }
  return w
}

async function download (impl: Impl, w: any, transport: 'pipe' | 'tcp'): Promise<number> {
  const d = tempDir('bench-rep-r-')
  const r = impl.make(d.path, w.key)
  await r.ready()
  const cleanup: Array<() => void> = []
  if (transport === 'pipe') {
    const a = w.replicate(true); const b = r.replicate(false)
    a.pipe(b).pipe(a)
    cleanup.push(() => { a.destroy(); b.destroy() })
  } else {
    const sockets: Socket[] = []
    const server = createServer((s) => { sockets.push(s); s.pipe(w.replicate(false)).pipe(s) })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const s = connect((server.address() as any).port, '127.0.0.1')
    sockets.push(s)
    s.pipe(r.replicate(true)).pipe(s)
    cleanup.push(() => { for (const x of sockets) x.destroy(); server.close() })
  }
  const ms = await time(async () => {
    if (impl.name === 'real') {
      await r.update({ wait: true })
      await r.download({ start: 0, end: N }).done()
    } else {
      await r.update()
      await r.download({ start: 0, end: N })
    }
  })
  if (r.contiguousLength !== N) throw new Error(`${impl.name}: downloaded ${r.contiguousLength}/${N}`)
  for (const c of cleanup) c()
  await r.close()
  d.remove()
  return ms
}

async function sparseLatency (impl: Impl, w: any): Promise<number[]> {
  const d = tempDir('bench-rep-s-')
  const r = impl.make(d.path, w.key)
  await r.ready()
  const a = w.replicate(true); const b = r.replicate(false)
  a.pipe(b).pipe(a)
  if (impl.name === 'real') await r.update({ wait: true }); else await r.update()
  const lat: number[] = []
  let x = 12345
  for (let k = 0; k < 100; k++) {
    x = (x * 1103515245 + 12345) % 2147483648
    const i = x % N
    lat.push(await time(() => r.get(i)))
  }
  a.destroy(); b.destroy()
  await r.close()
  d.remove()
  return lat.sort((p, q) => p - q)
}

const res: Record<string, Record<string, number>> = { ours: {}, real: {} }
for (const impl of impls) {
  const wd = tempDir('bench-rep-w-')
  const w = await makeWriter(impl, wd.path)
  const pipeMs: number[] = []; const tcpMs: number[] = []
  for (let round = 0; round < 2; round++) {
    pipeMs.push(await download(impl, w, 'pipe'))
    tcpMs.push(await download(impl, w, 'tcp'))
  }
  const lat = await sparseLatency(impl, w)
  res[impl.name] = { pipe: Math.min(...pipeMs), tcp: Math.min(...tcpMs), p50: lat[49], p99: lat[98] }
  await w.close()
  wd.remove()
}
const o = res.ours
const r = res.real
const bytes = N * BLOCK
const rows: Row[] = [
  { name: `full download ${MB} MB, in-process pipe`, unit: 'MB/s', ours: mbps(bytes, o.pipe), real: mbps(bytes, r.pipe), higherIsBetter: true },
  { name: `full download ${MB} MB, TCP 127.0.0.1`, unit: 'MB/s', ours: mbps(bytes, o.tcp), real: mbps(bytes, r.tcp), higherIsBetter: true },
  { name: 'sparse get() p50, fresh reader', unit: 'ms', ours: o.p50, real: r.p50, higherIsBetter: false },
  { name: 'sparse get() p99, fresh reader', unit: 'ms', ours: o.p99, real: r.p99, higherIsBetter: false }
]
printRows('bench/replicate: ours↔ours vs hypercore@11↔hypercore@11 (ratio > 1: ours is faster)', rows)
