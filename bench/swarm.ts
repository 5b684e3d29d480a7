// Swarm: ours against Hyperswarm 4, both on one real hyperdht testnet on
// 127.0.0.1 (never the public bootstrap). Measures
//   - join -> first connection: a client joins a topic a server already announced
//   - replication throughput: a fresh clone downloads a whole core over that connection
// Ours replicates our Hypercore over our Swarm; real replicates hypercore 11
// over Hyperswarm 4. `--mb N` sets the core size (default 200), `--rounds N`
// the number of latency samples (default 5). Ratios: >1 means ours is faster.
import { Hypercore } from '../src/core/hypercore.js'
import { MemoryStorage } from '../src/core/storage.js'
import { Swarm } from '../src/swarm/swarm.js'
import { hash } from '../src/crypto/index.js'
import { oracle, time, tempDir, printRows, mbps, type Row } from './harness.js'

const createTestnet = oracle('hyperdht/testnet')
const RealDHT = oracle('hyperdht')
const Hyperswarm = oracle('hyperswarm')
const RealHypercore = oracle('hypercore')
const LOCAL = '127.0.0.1'

function arg (name: string, def: number): number {
  const i = process.argv.indexOf(name)
  return i === -1 ? def : Number(process.argv[i + 1])
}
const MB = arg('--mb', 200)
const ROUNDS = arg('--rounds', 5)
const BLOCK = 64 * 1024

interface SwarmLike {
  join (topic: Buffer, opts: { server: boolean, client: boolean }): { flushed (): Promise<void> }
  on (ev: 'connection', fn: (conn: any) => void): void
  destroy (): Promise<void>
}

interface Impl {
  name: 'ours' | 'real'
  swarm (bootstrap: any[]): SwarmLike
  source (): Promise<{ core: any, close (): Promise<void> }>
  clone (key: Buffer): Promise<{ core: any, close (): Promise<void> }>
  download (core: any, length: number): Promise<void>
}

const impls: Impl[] = [
  {
    name: 'real',
    swarm: (bootstrap) => {
      const s = new Hyperswarm({ dht: new RealDHT({ bootstrap, host: LOCAL }) })
      return { join: (t, o) => s.join(t, o), on: (e, f) => s.on(e, f), destroy: async () => { await s.destroy(); await s.dht.destroy() } }
    },
    source: async () => {
      const dir = tempDir('bench-swarm-')
      const core = new RealHypercore(dir.path)
      await core.ready()
      return { core, close: async () => { await core.close(); dir.remove() } }
    },
    clone: async (key) => {
      const dir = tempDir('bench-swarm-')
      const core = new RealHypercore(dir.path, key)
      await core.ready()
      return { core, close: async () => { await core.close(); dir.remove() } }
    },
    download: async (core, length) => { await core.download({ start: 0, end: length }).done() }
  },
  {
    name: 'ours',
    swarm: (bootstrap) => new Swarm({ bootstrap, host: LOCAL, mdns: false }),
    source: async () => {
      const core = new Hypercore(new MemoryStorage())
      await core.ready()
      return { core, close: () => core.close() }
    },
    clone: async (key) => {
      const core = new Hypercore(new MemoryStorage(), key)
      await core.ready()
      return { core, close: () => core.close() }
    },
    download: async (core, length) => {
      await core.update({ timeout: 10_000 })
      await core.download({ start: 0, end: length })
    }
  }
]

async function latency (impl: Impl, bootstrap: any[]): Promise<number> {
  const samples: number[] = []
  for (let r = 0; r < ROUNDS; r++) {
    const topic = hash(Buffer.from(`latency ${impl.name} ${r}`))
    const server = impl.swarm(bootstrap)
    const client = impl.swarm(bootstrap)
    server.on('connection', (c) => c.on('error', () => {}))
    await server.join(topic, { server: true, client: false }).flushed()
    samples.push(await time(async () => {
      const got = new Promise<void>((resolve) => client.on('connection', (c) => { c.on('error', () => {}); resolve() }))
      client.join(topic, { server: false, client: true })
      await got
    }))
    await client.destroy()
    await server.destroy()
  }
  samples.sort((a, b) => a - b)
  return samples[Math.floor(samples.length / 2)]
}

async function throughput (impl: Impl, bootstrap: any[]): Promise<number> {
  const src = await impl.source()
  const block = Buffer.alloc(BLOCK, 7)
  const n = Math.max(1, Math.round(MB * 1e6 / BLOCK))
  for (let i = 0; i < n; i += 64) await src.core.append(Array.from({ length: Math.min(64, n - i) }, () => block))
  const dst = await impl.clone(src.core.key)
  const server = impl.swarm(bootstrap)
  const client = impl.swarm(bootstrap)
  server.on('connection', (c) => { c.on('error', () => {}); src.core.replicate(c) })
  client.on('connection', (c) => { c.on('error', () => {}); dst.core.replicate(c) })
  await server.join(src.core.discoveryKey, { server: true, client: false }).flushed()
  const connected = new Promise((resolve) => client.on('connection', resolve))
  client.join(dst.core.discoveryKey, { server: false, client: true })
  await connected
  const ms = await time(() => impl.download(dst.core, n))
  await client.destroy()
  await server.destroy()
  await dst.close()
  await src.close()
  return mbps(n * BLOCK, ms)
}

async function main (): Promise<void> {
  const testnet = await createTestnet(10, { host: LOCAL })
  try {
    const res: Record<string, { latency: number, mbps: number }> = {}
    for (const impl of impls) {
      res[impl.name] = { latency: await latency(impl, testnet.bootstrap), mbps: await throughput(impl, testnet.bootstrap) }
      console.log(impl.name, JSON.stringify(res[impl.name]))
    }
    const rows: Row[] = [
      { name: 'join -> first connection (median)', unit: 'ms', ours: res.ours.latency, real: res.real.latency, higherIsBetter: false },
      { name: `replicate ${MB} MB over the swarm`, unit: 'MB/s', ours: res.ours.mbps, real: res.real.mbps, higherIsBetter: true }
    ]
    printRows('swarm (ours vs Hyperswarm 4 on a local hyperdht testnet)', rows)
  } finally {
    await testnet.destroy()
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1) })
