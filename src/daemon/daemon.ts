// One daemon per storage folder. It owns the store, the peer network and
// every FUSE mount, and answers the control socket (control-server.ts). The
// folder is locked (flock on daemon.lock) for the daemon's lifetime, so a
// second daemon, or anything else that would open the same cores behind its
// back, fails with a clear DAEMON_RUNNING error instead of corrupting state.
//
// Control methods (params → result; keys are hex):
//   status {}                                → { pid, storage, network, mounts, seeding, idleExit, cache, keepHistory }
//   stop {}                                  → { stopping: true }, then the daemon unmounts all and exits
//   stay {}                                  → { idleExit: 0 }: a daemon started on demand stays up until stopped
//   network.add { listen?: [addr], peers?: [addr] } → network status
//   create { from?: absolute path }          → { key, version, files, bytes }
//   mount { key|'new', mountpoint, version?, readTimeout?, session? } → mount record
//   unmount { mountpoint }                   → { mountpoint, was: 'live'|'stale' }
//   mounts {}                                → [mount record]
//   ls { key, path?, version?, recursive? }  → [entry]
//   cat { key, path, version? }              → events { data: base64 }, then { bytes }
//   put { key, path, from?: absolute path, mode? } → { path, version, files, bytes }; without from, the
//                                            bytes are the request's input (streamed, see control-server.ts)
//   rm { key, path, recursive? }  mkdir { key, path }  mkmount { key, path, target, version? }
//   info { key }  log { key, limit? }
//   verify { key }                           → { checked, corrupt, cores: [{ name, checked, corrupt: [{ block, message }] }] }
//   download { key, path? }                  → events { progress: { bytes, total, peers } }, then totals
//   seed { keys: [key], detach? }            → events (see DriveApi#seed); held until the connection closes,
//                                              or with detach answered at once and held until unseed
//   unseed { keys: [key] }                   → { unseeded: [key] }: ends detached seeds
//   drives {}                                → [{ key, format, writable, version, byteLength, localBytes, mounts, seeding }]
//   gc { key, keepVersions? }  pin { key, path? }  unpin { key, path? }  pins {}  cache { size }  keep-history { size }
//                                            → see storage-api.ts; info adds its storage fields
import { mkdir, readFile } from 'node:fs/promises'
import { DriveStore } from '../drive/drive-store.js'
import { FileStorage, type StorageFile } from '../core/storage.js'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import { ControlServer, type CallContext } from './control-server.js'
import { type DaemonConfig, daemonPaths, parseAddress } from './daemon-config.js'
import { DriveApi, connectionCount } from './drive-api.js'
import type { Logger } from './logger.js'
import { MountTable } from './mount-table.js'
import { openNetwork, type PeerNetwork } from './peer-network.js'
import { StorageApi } from './storage-api.js'

const IDLE_CHECK_MS = 1000
// a daemon started for a command waits this long for that command to connect before it may idle out
const FIRST_CLIENT_MS = 30_000

export class Daemon {
  readonly config: DaemonConfig
  readonly stopped: Promise<void>
  readonly stopStarted: Promise<string> // resolves with the reason when a stop begins, whatever began it
  private logger: Logger
  private lock: StorageFile
  private drives: DriveStore
  private network: PeerNetwork
  private mounts: MountTable
  private api: DriveApi
  private storageApi: StorageApi
  private control: ControlServer | null = null
  private stopping: Promise<void> | null = null
  private onStopped!: () => void
  private onStopStarted!: (why: string) => void
  private started = Date.now()
  private idleExit: number
  private idleTimer: NodeJS.Timeout | null = null

  private constructor (config: DaemonConfig, parts: { logger: Logger, lock: StorageFile, drives: DriveStore, network: PeerNetwork, mounts: MountTable }) {
    this.config = config
    this.logger = parts.logger
    this.lock = parts.lock
    this.drives = parts.drives
    this.network = parts.network
    this.mounts = parts.mounts
    this.api = new DriveApi({ drives: this.drives, network: this.network, mounts: this.mounts, logger: this.logger }, { timeout: config.timeout })
    this.storageApi = new StorageApi({ drives: this.drives, api: this.api, logger: this.logger },
      { storage: config.storage, cacheSize: config.cacheSize ?? null, keepHistory: config.keepHistory ?? null, timeout: config.timeout })
    // every seed, attached or detached, holds its drive whole while it lasts
    this.api.seedHold = (key) => this.storageApi.holdWhole(key)
    this.stopped = new Promise((resolve) => { this.onStopped = resolve })
    this.stopStarted = new Promise((resolve) => { this.onStopStarted = resolve })
    this.idleExit = config.idleExit
  }

  static async start (config: DaemonConfig, services: { logger: Logger }): Promise<Daemon> {
    const { logger } = services
    await mkdir(config.storage, { recursive: true, mode: 0o700 }) // drives and the control socket are private
    const lock = await takeLock(config.storage)
    const drives = DriveStore.directory(config.storage, { timeout: config.timeout, onwarning: (msg) => logger.warn(msg) })
    let network: PeerNetwork | null = null
    try {
      await drives.store.ready()
      network = await openNetwork(config, {
        replicate: (socket, isInitiator) => { drives.replicate(socket, { isInitiator }) },
        logger
      })
      const net = network
      drives.store.on('starved', () => net.redialNow())
      drives.store.on('replication-error', (err: Error, core: { key: Buffer | null }) => {
        logger.error(`core ${core.key?.toString('hex')}: replication: ${err.stack ?? err.message}`)
      })
      const daemon = new Daemon(config, { logger, lock, drives, network, mounts: new MountTable({ logger }, { storage: config.storage }) })
      await daemon.storageApi.start()
      daemon.control = await ControlServer.listen(daemonPaths(config.storage).socket, (m, p, ctx) => daemon.call(m, p, ctx), { logger })
      logger.info(`daemon ${process.pid} serving ${config.storage}` +
        (config.idleExit > 0 ? `; exits after ${config.idleExit} ms with no clients, mounts or seeds` : ''))
      daemon.watchIdle()
      return daemon
    } catch (err) {
      await network?.close().catch(safetyCatch)
      await drives.close().catch(safetyCatch)
      await lock.close().catch(safetyCatch)
      throw err
    }
  }

  private async call (method: string, p: Record<string, any>, ctx: CallContext): Promise<unknown> {
    if (this.stopping && method !== 'status') throw HyperfsError.from('DAEMON_STOPPING', 'the daemon is shutting down')
    switch (method) {
      case 'status': return this.status()
      case 'stop':
        setImmediate(() => { void this.stop('asked to stop') })
        return { stopping: true, pid: process.pid }
      case 'stay':
        this.idleExit = 0
        return { idleExit: 0 }
      case 'network.add': return this.addNetwork(p)
      case 'mounts': return this.mounts.list()
      case 'unmount': {
        if (typeof p.mountpoint !== 'string' || !p.mountpoint.startsWith('/')) throw HyperfsError.BAD_ARGUMENT('mountpoint must be an absolute path')
        return { mountpoint: p.mountpoint, was: await this.mounts.unmount(p.mountpoint) }
      }
      case 'create': return this.api.create(p)
      case 'mount': return this.api.mount(p, ctx)
      case 'ls': return this.api.ls(p, ctx)
      case 'cat': return this.api.cat(p, ctx)
      case 'put': return this.api.put(p, ctx)
      case 'rm': return this.api.rm(p)
      case 'mkdir': return this.api.mkdir(p)
      case 'mkmount': return this.api.mkmount(p)
      case 'info': return this.storageApi.info(p, await this.api.info(p, ctx) as Record<string, any>)
      case 'log': return this.api.log(p, ctx)
      case 'verify': return this.api.verify(p, ctx)
      case 'download':
        // pinned first: a cache must not evict what the download fetches
        await this.storageApi.pin(p, 'download')
        return this.api.download(p, ctx)
      case 'seed': return this.api.seed(p, ctx)
      case 'unseed': return this.api.unseed(p)
      case 'drives': return this.api.drives()
      case 'gc': return this.storageApi.gc(p, ctx)
      case 'pin': return this.storageApi.pin(p)
      case 'unpin': return this.storageApi.unpin(p)
      case 'pins': return this.storageApi.listPins()
      case 'cache': return this.storageApi.setCache(p)
      case 'keep-history': return this.storageApi.setHistoryBudget(p)
      default: throw HyperfsError.from('UNKNOWN_METHOD', `no control method "${method}"`)
    }
  }

  status (): unknown {
    return {
      pid: process.pid,
      storage: this.config.storage,
      socket: daemonPaths(this.config.storage).socket,
      uptime: Date.now() - this.started,
      network: { ...this.network.status(), connections: connectionCount(this.network) },
      config: { host: this.config.host, bootstrap: this.config.bootstrap, dht: this.config.dht, mdns: this.config.mdns },
      mounts: this.mounts.list(),
      seeding: this.api.seeded(),
      idleExit: this.idleExit,
      cache: this.storageApi.cacheStatus(),
      keepHistory: this.storageApi.historyBudget()
    }
  }

  // A daemon started on demand by a command exits once nothing needs it: no
  // client connected (a request in flight has one), no mount, no seed. The
  // period restarts with every connection and every request.
  private watchIdle (): void {
    if (this.idleExit <= 0) return
    const started = Date.now()
    let busy = started
    this.idleTimer = setInterval(() => {
      if (this.idleExit <= 0) { clearInterval(this.idleTimer!); return }
      const control = this.control
      if (!control || this.stopping) return
      if (control.clients > 0 || this.mounts.list().length > 0 || this.api.seeded().length > 0) {
        busy = Date.now()
        return
      }
      // the command that started us may be slow to connect (a loaded machine):
      // wait for it, up to the time it waits for us
      if (control.connections === 0 && Date.now() - started < FIRST_CLIENT_MS) return
      if (Date.now() - Math.max(busy, control.lastActivity) >= this.idleExit) void this.stop(`idle for ${this.idleExit} ms`)
    }, Math.min(IDLE_CHECK_MS, this.idleExit))
  }

  private async addNetwork (p: Record<string, any>): Promise<unknown> {
    const listen = (Array.isArray(p.listen) ? p.listen : []).map((a: unknown) => parseAddress(String(a), this.config.host ?? '0.0.0.0'))
    const peers = (Array.isArray(p.peers) ? p.peers : []).map((a: unknown) => parseAddress(String(a)))
    for (const a of listen) await this.network.tcp.listen(a)
    await Promise.all(peers.map((a: ReturnType<typeof parseAddress>) => this.network.tcp.addPeer(a)))
    return this.network.status()
  }

  // Unmounts everything, closes the network and the store, then drops the lock.
  stop (why = 'asked to stop'): Promise<void> {
    if (!this.stopping) {
      if (this.idleTimer) clearInterval(this.idleTimer)
      this.onStopStarted(why)
      this.stopping = (async () => {
        this.logger.info(`stopping: ${why}`)
        const step = async (what: string, fn: () => Promise<void> | undefined): Promise<void> => {
          try { await fn() } catch (err) { this.logger.error(`stop: ${what}: ${(err as Error).message}`) }
        }
        await step('control socket', () => this.control?.close())
        await step('mounts', () => this.mounts.closeAll())
        await step('auto gc', () => this.storageApi.close())
        await step('network', () => this.network.close())
        await step('store', () => this.drives.close())
        await step('lock', () => this.lock.close())
        this.logger.info('stopped')
        this.onStopped()
      })()
    }
    return this.stopping
  }
}

async function takeLock (storage: string): Promise<StorageFile> {
  const { lock: path } = daemonPaths(storage)
  let file: StorageFile
  try {
    file = await new FileStorage(storage).open('daemon.lock', { lock: true })
  } catch (err) {
    if (!isHyperfsError(err, 'STORAGE_LOCKED')) throw err
    const pid = (await readFile(path, 'utf8').catch(() => '')).trim()
    throw HyperfsError.from('DAEMON_RUNNING', `another hyperfs daemon${pid ? ` (pid ${pid})` : ''} is using ${storage}; ` +
      'talk to it with hyperfs commands, or stop it with: hyperfs daemon stop')
  }
  const pid = Buffer.from(`${process.pid}\n`)
  await file.truncate(0)
  await file.write(0, pid)
  return file
}
