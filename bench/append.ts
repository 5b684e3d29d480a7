// Hypercore appends, reopen and random reads: ours against hypercore@11,
// side by side in one run, on the same data, each in its own temp folder.
import { Hypercore } from '../src/core/hypercore.js'
import { oracle, time, tempDir, printRows, mbps, type Row } from './harness.js'

const RealHypercore = oracle('hypercore')

interface Impl {
  name: 'ours' | 'real'
  open (dir: string): any
}

const impls: Impl[] = [
  { name: 'real', open: (dir) => new RealHypercore(dir) },
  { name: 'ours', open: (dir) => new Hypercore(dir) }
]

const quick = process.argv.includes('--quick')
const SMALL = quick ? 10_000 : 100_000
const LARGE = quick ? 200 : 2_000

function blocks (n: number, size: number): Buffer[] {
  const one = Buffer.alloc(size)
  for (let i = 0; i < size; i++) one[i] = (i * 131) & 0xff
  return Array.from({ length: n }, (_, i) => { const b = Buffer.from(one); b.writeUInt32LE(i, 0); return b })
}

async function run (impl: Impl) {
  const res: Record<string, number> = {}
  const small = blocks(1000, 1024)
  const large = blocks(100, 65536)

  const d1 = tempDir('bench-append-')
  let core = impl.open(d1.path)
  await core.ready()
  res.smallBatched = await time(async () => {
    for (let i = 0; i < SMALL / 1000; i++) await core.append(small)
  })
  await core.close()
  res.reopen = await time(async () => {
    core = impl.open(d1.path)
    await core.ready()
    if (core.length !== SMALL) throw new Error(`${impl.name}: reopened at ${core.length}`)
  })
  let x = 7
  res.randomGet = await time(async () => {
    for (let i = 0; i < 10_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648
      await core.get(x % SMALL)
    }
  })
  await core.close()
  d1.remove()

  const d2 = tempDir('bench-append-')
  core = impl.open(d2.path)
  await core.ready()
  res.largeSingle = await time(async () => {
    for (let i = 0; i < LARGE; i++) await core.append(large[i % 100])
  })
  await core.close()
  d2.remove()

  const d3 = tempDir('bench-append-')
  core = impl.open(d3.path)
  await core.ready()
  res.largeBatched = await time(async () => {
    for (let i = 0; i < LARGE / 100; i++) await core.append(large)
  })
  await core.close()
  d3.remove()
  return res
}

const results: Record<string, Record<string, number>> = { ours: {}, real: {} }
// alternate the order over two rounds and keep each side's best, to damp noise
for (let round = 0; round < 2; round++) {
  for (const impl of round % 2 ? impls.slice().reverse() : impls) {
    const r = await run(impl)
    for (const [k, v] of Object.entries(r)) results[impl.name][k] = Math.min(results[impl.name][k] ?? Infinity, v)
  }
}

const o = results.ours
const r = results.real
const rows: Row[] = [
  { name: `${SMALL} × 1 KiB, batches of 1,000`, unit: 'MB/s', ours: mbps(SMALL * 1024, o.smallBatched), real: mbps(SMALL * 1024, r.smallBatched), higherIsBetter: true },
  { name: `${LARGE} × 64 KiB, one per append`, unit: 'MB/s', ours: mbps(LARGE * 65536, o.largeSingle), real: mbps(LARGE * 65536, r.largeSingle), higherIsBetter: true },
  { name: `${LARGE} × 64 KiB, batches of 100`, unit: 'MB/s', ours: mbps(LARGE * 65536, o.largeBatched), real: mbps(LARGE * 65536, r.largeBatched), higherIsBetter: true },
  { name: `reopen the ${SMALL}-block core`, unit: 'ms', ours: o.reopen, real: r.reopen, higherIsBetter: false },
  { name: 'get() of 10,000 random local blocks', unit: 'k gets/s', ours: 10_000 / o.randomGet, real: 10_000 / r.randomGet, higherIsBetter: true }
]
printRows('bench/append: Hypercore, ours vs hypercore@11 (ratio > 1: ours is faster)', rows)
