// What a daemon is started with. Everything network-related lives here, so
// that the swarm (DHT + MDNS discovery, src/swarm) can read its settings from
// the same object the TCP listener and dialler read theirs from.
//
//   <storage>/daemon.sock   the control socket (see control-server.ts)
//   <storage>/daemon.lock   held (flock) by the one daemon of this folder; holds its pid
//   <storage>/daemon.log    stdout/stderr of a daemon started on demand
//   <storage>/primary-key, <storage>/cores/...   the Store (src/store/store.ts)
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { HyperfsError } from '../errors.js'

export interface Address {
  host: string
  port: number
}

export interface DaemonConfig {
  storage: string // absolute
  listen: Address[] // TCP servers; every accepted socket replicates every core
  peers: Address[] // TCP peers to dial and keep dialling
  host: string | null // bind address for listeners given without a host (and later the swarm)
  bootstrap: Address[] | null // DHT bootstrap nodes; null = the public ones
  dht: boolean // join the HyperDHT (src/swarm)
  mdns: boolean // LAN discovery over MDNS (src/swarm)
  timeout: number // ms to wait for peers to send a drive we do not hold
  idleExit: number // ms with no clients, mounts or seeds after which the daemon exits; 0 = never
  cacheSize?: number | null // bytes of other people's content kept at most (store/reader-cache.ts); none: no cap
  keepHistory?: number | null // bytes of old versions' content a drive we write keeps before gc runs by itself (auto-gc.ts); none: all, until hyperfs gc
}

export const DEFAULT_TIMEOUT = 10_000
// A daemon that a command started by itself exits after this long with nothing
// to do; HYPERFS_IDLE_EXIT_MS overrides it. `hyperfs daemon [start]` never does.
export const DEFAULT_IDLE_EXIT = 60_000

export function implicitIdleExit (env: NodeJS.ProcessEnv = process.env): number {
  const ms = Number(env.HYPERFS_IDLE_EXIT_MS)
  return env.HYPERFS_IDLE_EXIT_MS !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_IDLE_EXIT
}

export function defaultStorage (env: NodeJS.ProcessEnv = process.env): string {
  if (env.HYPERFS_STORAGE) return resolve(env.HYPERFS_STORAGE)
  const data = env.XDG_DATA_HOME || join(homedir(), '.local', 'share')
  return join(data, 'hyperfs')
}

export function daemonPaths (storage: string): { socket: string, lock: string, log: string } {
  return {
    socket: join(storage, 'daemon.sock'),
    lock: join(storage, 'daemon.lock'),
    log: join(storage, 'daemon.log')
  }
}

// "HOST:PORT", "[v6]:PORT", or "PORT" alone when a default host is given.
export function parseAddress (s: string, defaultHost: string | null = null): Address {
  const str = String(s).trim()
  let host: string | null = defaultHost
  let port: string = str
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(str)
  if (v6) {
    host = v6[1]
    port = v6[2]
  } else if (str.includes(':')) {
    const i = str.lastIndexOf(':')
    host = str.slice(0, i)
    port = str.slice(i + 1)
  }
  const n = Number(port)
  if (!host || !/^\d+$/.test(port) || n > 65535) {
    throw HyperfsError.from('BAD_ADDRESS', `"${s}" is not an address: expected ${defaultHost === null ? 'HOST:PORT' : '[HOST:]PORT'}`)
  }
  return { host, port: n }
}

export function formatAddress (a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}
