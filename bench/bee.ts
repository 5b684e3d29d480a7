// Cold remote Hyperbee reads over a link with latency: how many round trips a
// lookup and a 1000-entry listing cost, ours against hyperbee@2 on
// hypercore@11, each with and without the `hyperbee` extension. Round trips =
// elapsed / (2 × one-way delay); lower is better.
//   node dist/bench/bee.js [--delay 40] [--entries 5000]
import { Transform } from 'node:stream'
import { Hypercore } from '../src/core/hypercore.js'
import { MemoryStorage } from '../src/core/storage.js'
import { Hyperbee } from '../src/bee/hyperbee.js'
import type { ExtensionRegistrar } from '../src/bee/extension.js'
import { oracle, time, tempDir, printRows, type Row } from './harness.js'

const RealHypercore = oracle('hypercore')
const RealHyperbee = oracle('hyperbee')
const arg = (name: string, def: number) => { const i = process.argv.indexOf(name); return i === -1 ? def : Number(process.argv[i + 1]) }
const DELAY = arg('--delay', 40)
const ENTRIES = arg('--entries', 5000)
const key = (i: number) => 'e' + String(i).padStart(6, '0')

// every chunk arrives DELAY ms after it was sent (in order; chunks do not queue behind each other)
function delayed (): Transform {
  return new Transform({ transform (chunk, _enc, cb) { setTimeout(() => this.push(chunk), DELAY); cb() } })
}

// a ↔ b with DELAY ms each way
function link (a: any, b: any): () => void {
  const ab = delayed(); const ba = delayed()
  a.pipe(ab).pipe(b).pipe(ba).pipe(a)
  return () => { a.destroy(); b.destroy(); ab.destroy(); ba.destroy() }
}

function extensionLink (): { a: ExtensionRegistrar, b: ExtensionRegistrar } {
  const h: Array<((m: Buffer, p: unknown) => void) | null> = [null, null]
  const side = (me: number): ExtensionRegistrar => (_n, handlers) => {
    h[me] = handlers.onmessage
    const send = (m: Buffer) => { setTimeout(() => h[1 - me]?.(m, me), DELAY) }
    return { send, broadcast: send }
  }
  return { a: side(0), b: side(1) }
}

async function measure (get: () => Promise<unknown>, list: () => Promise<number>): Promise<{ get: number, list: number }> {
  const g = await time(get)
  let n = 0
  const l = await time(async () => { n = await list() })
  if (n !== 1000) throw new Error(`listed ${n} entries`)
  return { get: g / (2 * DELAY), list: l / (2 * DELAY) }
}

async function ours (ext: boolean) {
  const l = extensionLink()
  const w = new Hypercore(new MemoryStorage())
  const writer = new Hyperbee(w, ext ? { extension: l.a } : {})
  const b = writer.batch()
  for (let i = 0; i < ENTRIES; i++) await b.put(key(i), 'value ' + i)
  await b.flush()
  const r = new Hypercore(new MemoryStorage(), w.key)
  await r.ready()
  const stop = link(w.replicate(true), r.replicate(false))
  await r.update({ timeout: 10_000 })
  const reader = new Hyperbee(r, ext ? { extension: l.b, timeout: 30_000 } : { timeout: 30_000 })
  const res = await measure(
    () => reader.get(key(ENTRIES - 7)),
    async () => { let n = 0; for await (const _ of reader.range({ gte: key(1000), lt: key(2000) })) n++; return n })
  stop()
  await Promise.all([w.close(), r.close()])
  return res
}

async function real (ext: boolean) {
  const dw = tempDir('bench-bee-w-'); const dr = tempDir('bench-bee-r-')
  const w = new RealHypercore(dw.path)
  const db = new RealHyperbee(w, { keyEncoding: 'utf-8', valueEncoding: 'utf-8' })
  await db.ready()
  const b = db.batch()
  for (let i = 0; i < ENTRIES; i++) await b.put(key(i), 'value ' + i)
  await b.flush()
  const r = new RealHypercore(dr.path, w.key)
  const rdb = new RealHyperbee(r, { keyEncoding: 'utf-8', valueEncoding: 'utf-8', extension: ext ? undefined : false })
  await rdb.ready()
  const stop = link(w.replicate(true), r.replicate(false))
  await r.update({ wait: true })
  const res = await measure(
    () => rdb.get(key(ENTRIES - 7)),
    async () => { let n = 0; for await (const _ of rdb.createReadStream({ gte: key(1000), lt: key(2000) })) n++; return n })
  stop()
  await rdb.close(); await db.close()
  dw.remove(); dr.remove()
  return res
}

const rows: Row[] = []
for (const ext of [false, true]) {
  const o = await ours(ext)
  const r = await real(ext)
  const tag = ext ? 'with extension' : 'no extension'
  rows.push({ name: `cold get, round trips (${tag})`, unit: 'RTT', ours: o.get, real: r.get, higherIsBetter: false })
  rows.push({ name: `cold 1000-entry listing, round trips (${tag})`, unit: 'RTT', ours: o.list, real: r.list, higherIsBetter: false })
}
printRows(`Hyperbee cold reads over a ${DELAY} ms one-way link, ${ENTRIES} entries`, rows)
