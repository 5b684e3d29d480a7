// How the daemon reaches peers: TCP by address (--listen, --peer), and the
// swarm (src/swarm): the HyperDHT (--bootstrap, --no-dht) and MDNS on the LAN
// (--no-mdns). Every drive the daemon seeds or mounts is joined under its
// discovery key; every connection, whichever way it came, replicates every
// core of the store.
//
// A swarm peer whose data does not verify is refused, dialling or dialled,
// for a while that doubles with each fault in a row (peer-penalties.ts, by
// its Noise key), and logged.
//
// With HYPERFS_LOCAL_ONLY=1 in the environment (the test runner sets it) the
// daemon refuses to start a DHT on the public bootstrap nodes or MDNS on the
// host's network, so no test can send traffic off this machine by mistake.
import type { Duplex } from 'node:stream'
import { Swarm } from '../swarm/swarm.js'
import { DEFAULT_BOOTSTRAP } from '../dht/bootstrap-nodes.js'
import { HyperfsError } from '../errors.js'
import type { DaemonConfig } from './daemon-config.js'
import type { Logger } from './logger.js'
import { TcpNetwork, type TcpNetworkStatus } from './tcp-network.js'
import { PeerPenalties, backoff } from './peer-penalties.js'
import { isPeerFault } from '../replication/replicator.js'

export interface JoinOptions {
  server: boolean // announce: we serve this drive
  client: boolean // look up peers that serve it
}

export interface NetworkStatus extends TcpNetworkStatus {
  topics: number
  dht: 'off' | 'on'
  mdns: 'off' | 'on'
  swarmPeers: number
  swarmPenalised: string[] // Noise keys (hex) of swarm peers shut out now
}

export interface PeerNetwork {
  readonly tcp: TcpNetwork
  ready (): Promise<void> // configured peers have been tried once
  redialNow (): void // a read waits with no peer: dial configured peers that are down, now
  join (discoveryKey: Buffer, opts: JoinOptions): void // refcounted per caller
  leave (discoveryKey: Buffer): void
  status (): NetworkStatus
  close (): Promise<void>
}

export interface NetworkServices {
  replicate: (stream: Duplex, isInitiator: boolean) => void
  logger: Logger
}

const SWARM = 'swarm ' // penalty ids of swarm peers, by Noise key

function openSwarm (config: DaemonConfig, services: NetworkServices, penalties: PeerPenalties): Swarm | null {
  if (!config.dht && !config.mdns) return null
  const localOnly = process.env.HYPERFS_LOCAL_ONLY === '1'
  if (localOnly && config.dht && !config.bootstrap) {
    throw HyperfsError.BAD_ARGUMENT('HYPERFS_LOCAL_ONLY is set: give --bootstrap a local node, or --no-dht')
  }
  if (localOnly && config.mdns) throw HyperfsError.BAD_ARGUMENT('HYPERFS_LOCAL_ONLY is set: MDNS would multicast on this network; use --no-mdns')
  const bootstrap = !config.dht ? [] : (config.bootstrap ?? [...DEFAULT_BOOTSTRAP])
  const swarm = new Swarm({
    bootstrap,
    host: config.host ?? undefined,
    mdns: config.mdns,
    firewall: (remotePublicKey) => penalties.refuses(SWARM + remotePublicKey.toString('hex'))
  })
  swarm.on('connection', (conn: Duplex & { isInitiator: boolean, remotePublicKey: Buffer }) => {
    const key = conn.remotePublicKey.toString('hex')
    conn.once('error', (err: Error) => {
      if (!isPeerFault(err)) return
      const p = penalties.record(SWARM + key)
      services.logger.warn(`swarm peer ${key.slice(0, 16)}… sent data that does not verify (${err.message}); ${p.faults} time${p.faults === 1 ? '' : 's'} in a row, refused for ${Math.round(backoff(p.faults) / 1000)} s`)
    })
    services.replicate(conn, conn.isInitiator)
  })
  swarm.on('connect-error', (err: Error) => services.logger.info(`swarm: ${err.message}`))
  return swarm
}

export async function openNetwork (config: DaemonConfig, services: NetworkServices): Promise<PeerNetwork> {
  const penalties = new PeerPenalties()
  const tcp = new TcpNetwork({ ...services, penalties })
  const topics = new Map<string, number>()
  try {
    for (const a of config.listen) await tcp.listen(a)
  } catch (err) {
    await tcp.close()
    throw err
  }
  for (const p of config.peers) void tcp.addPeer(p)
  let swarm: Swarm | null
  try {
    swarm = openSwarm(config, services, penalties)
  } catch (err) {
    await tcp.close()
    throw err
  }
  return {
    tcp,
    ready: () => tcp.ready(),
    redialNow: () => {
      tcp.redialNow()
      swarm?.redialNow()
    },
    join (dk, opts) {
      const hex = dk.toString('hex')
      const n = topics.get(hex) ?? 0
      topics.set(hex, n + 1)
      if (n === 0 && swarm) swarm.join(dk, opts)
    },
    leave (dk) {
      const hex = dk.toString('hex')
      const n = (topics.get(hex) ?? 0) - 1
      if (n > 0) { topics.set(hex, n); return }
      topics.delete(hex)
      if (swarm) swarm.leave(dk).catch((err: Error) => services.logger.info(`swarm leave: ${err.message}`))
    },
    status: () => ({
      ...tcp.status(),
      topics: topics.size,
      dht: config.dht ? 'on' : 'off',
      mdns: config.mdns ? 'on' : 'off',
      swarmPeers: swarm ? swarm.connections.size : 0,
      swarmPenalised: penalties.active().filter((id) => id.startsWith(SWARM)).map((id) => id.slice(SWARM.length))
    }),
    close: async () => {
      await Promise.all([tcp.close(), swarm?.destroy()])
    }
  }
}
