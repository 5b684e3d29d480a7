// How the daemon reaches peers. Today that is TCP by address (--listen,
// --peer). Discovery by the swarm (DHT + MDNS, src/swarm) plugs in here: in
// openNetwork(), when config.dht or config.mdns is set, create the swarm with
// { bootstrap: config.bootstrap, host: config.host, mdns: config.mdns }, send
// each of its connections to services.replicate(conn, conn.isInitiator), and
// forward join()/leave() to swarm.join(discoveryKey)/leave. The daemon calls
// join() for every drive it seeds or mounts, so nothing else has to change.
import type { Socket } from 'node:net'
import type { DaemonConfig } from './daemon-config.js'
import type { Logger } from './logger.js'
import { TcpNetwork, type TcpNetworkStatus } from './tcp-network.js'

export interface JoinOptions {
  server: boolean // announce: we serve this drive
  client: boolean // look up peers that serve it
}

export interface NetworkStatus extends TcpNetworkStatus {
  topics: number
  dht: 'off' | 'not available yet'
  mdns: 'off' | 'not available yet'
}

export interface PeerNetwork {
  readonly tcp: TcpNetwork
  ready (): Promise<void> // configured peers have been tried once
  join (discoveryKey: Buffer, opts: JoinOptions): void // refcounted per caller
  leave (discoveryKey: Buffer): void
  status (): NetworkStatus
  close (): Promise<void>
}

export interface NetworkServices {
  replicate: (socket: Socket, isInitiator: boolean) => void
  logger: Logger
}

export async function openNetwork (config: DaemonConfig, services: NetworkServices): Promise<PeerNetwork> {
  const tcp = new TcpNetwork(services)
  const topics = new Map<string, number>()
  try {
    for (const a of config.listen) await tcp.listen(a)
  } catch (err) {
    await tcp.close()
    throw err
  }
  for (const p of config.peers) void tcp.addPeer(p)
  if (config.dht || config.mdns) {
    services.logger.info('DHT/MDNS discovery is not wired in yet; reach peers with --listen/--peer')
  }
  return {
    tcp,
    ready: () => tcp.ready(),
    join (dk) {
      const hex = dk.toString('hex')
      topics.set(hex, (topics.get(hex) ?? 0) + 1)
    },
    leave (dk) {
      const hex = dk.toString('hex')
      const n = (topics.get(hex) ?? 0) - 1
      if (n > 0) topics.set(hex, n); else topics.delete(hex)
    },
    status: () => ({
      ...tcp.status(),
      topics: topics.size,
      dht: config.dht ? 'not available yet' : 'off',
      mdns: config.mdns ? 'not available yet' : 'off'
    }),
    close: () => tcp.close()
  }
}
