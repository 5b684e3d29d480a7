// Running DHT infrastructure: a bootstrap/persistent node (what
// `hyperfs dht-node` will start) and a local testnet of them for tests and
// benchmarks. A bootstrap node is persistent from the start, claims no NAT
// detection, and serves the hyperdht storage commands.
import type { IPv4Address } from '../codec/index.js'
import { HyperDHT, type HyperDHTOptions } from './hyper-dht.js'
import { DEFAULT_PORT } from './hyperdht-constants.js'

export interface BootstrapNodeOptions extends Partial<HyperDHTOptions> {
  // other bootstrap nodes to join ([] for the first node of a network)
  bootstrap?: Array<string | IPv4Address>
  host?: string
  // default 49737, like hyperdht
  port?: number
}

export async function runBootstrapNode (opts: BootstrapNodeOptions = {}): Promise<HyperDHT> {
  const node = new HyperDHT({
    ...opts,
    bootstrap: opts.bootstrap ?? [],
    host: opts.host ?? '0.0.0.0',
    port: opts.port ?? DEFAULT_PORT,
    anyPort: opts.anyPort ?? false,
    ephemeral: false,
    firewalled: false,
    knownAddress: (opts.host ?? '0.0.0.0') !== '0.0.0.0'
  })
  try {
    await node.fullyBootstrapped()
  } catch (err) {
    await node.destroy()
    throw err
  }
  return node
}

export interface Testnet {
  nodes: HyperDHT[]
  bootstrap: IPv4Address[]
  destroy (): Promise<void>
}

// n persistent nodes on `host` (127.0.0.1 by default), joined in small batches.
export async function createTestnet (n: number, opts: { host?: string, batch?: number } & Partial<HyperDHTOptions> = {}): Promise<Testnet> {
  const host = opts.host ?? '127.0.0.1'
  const nodes: HyperDHT[] = []
  const destroy = async (): Promise<void> => { await Promise.allSettled(nodes.map((d) => d.destroy())) }
  try {
    const first = await runBootstrapNode({ ...opts, host, port: 0, anyPort: true, bootstrap: [] })
    nodes.push(first)
    const bootstrap = [{ host, port: (first.address() as IPv4Address).port }]
    const batch = opts.batch ?? 10
    while (nodes.length < n) {
      const group: HyperDHT[] = []
      for (let i = 0; i < batch && nodes.length + group.length < n; i++) {
        group.push(new HyperDHT({ ...opts, bootstrap, host, port: 0, ephemeral: false, firewalled: false }))
      }
      nodes.push(...group)
      await Promise.all(group.map((d) => d.fullyBootstrapped()))
    }
    return { nodes, bootstrap, destroy }
  } catch (err) {
    await destroy()
    throw err
  }
}
