// The drive operations of the control API (create, ls, cat, put, rm, mkdir,
// mkmount, info, log, download, seed, unseed, mount, drives). Requests name
// drives by hex key; the CLI parses and prints the hyper:// form. A drive this
// storage does not hold is waited for from peers, for the request's --timeout
// (params.timeout) or else the daemon's (config.timeout); each lookup the
// request then makes waits as long (timed-drive.ts).
//
// What a request starts, it ends: looking a drive up on the swarm lasts as long
// as the request; a seed as long as its client stays connected, unless it was
// detached (then until unseed or the daemon stops).
import type { RoutedDrive } from '../drive/routed-drive.js'
import { DRIVE_FORMATS } from '../drive/drive-formats.js'
import type { DriveStore } from '../drive/drive-store.js'
import { S_IFMT, S_IFDIR, S_IFLNK, type Drive, type DriveInfo, type Stat } from '../drive/types.js'
import { MAX_PATH_DEPTH } from '../drive/drive-path.js'
import { z32 } from '../fuse/z32.js'
import { discoveryKey } from '../crypto/hypercore.js'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import type { CallContext } from './control-server.js'
import type { PeerNetwork } from './peer-network.js'
import type { MountTable, MountRecord } from './mount-table.js'
import type { Logger } from './logger.js'
import { importFolder } from './folder-import.js'
import { DownloadProgress } from './download-progress.js'
import { timedDrive } from './timed-drive.js'

const CHUNK = 1024 * 1024
const PROGRESS_MS = 500
const LATEST_MS = 2000

export interface Entry {
  name: string
  type: 'file' | 'dir' | 'symlink' | 'mount'
  size: number
  mode: number
  mtime: number
  link?: string
  mount?: { key: string, version: number | null }
}

export interface ApiServices {
  drives: DriveStore
  network: PeerNetwork
  mounts: MountTable
  logger: Logger
}

export class DriveApi {
  private s: ApiServices
  private timeout: number
  private seeding = new Map<string, number>() // key hex → holders (seed commands, detached seeds)
  private detached = new Map<string, () => void>() // key hex → ends a detached seed
  private writable = new Set<string>() // drives known to be ours: never looked up on the swarm
  // Holds a seeded drive whole against the cache (StorageApi.holdWhole)
  // until the function it resolves to is called: when the seed ends.
  seedHold: ((key: string) => Promise<() => Promise<void>>) | null = null

  constructor (services: ApiServices, opts: { timeout: number }) {
    this.s = services
    this.timeout = opts.timeout
    // a damaged block any core finds (on a read, a mount's read or a verify) is logged
    services.drives.store.on('corrupt', (err: Error) => services.logger.error(err.message))
  }

  seeded (): string[] {
    return [...this.seeding.keys()]
  }

  // ---- opening ----

  // `holder`: the request on whose behalf a drive held elsewhere is looked up
  // on the swarm; the lookup ends with it. Without one, it ends once opened.
  async open (key: unknown, version?: unknown, timeout?: unknown, holder?: CallContext): Promise<Drive> {
    const drive = await this.latest(key, timeout, holder)
    if (version === undefined || version === null) return drive
    const v = Number(version)
    if (!Number.isSafeInteger(v) || v < 1) throw HyperfsError.EINVAL(`--version must be a whole number from 1 up, not ${String(version)}`)
    if (v > drive.version) throw HyperfsError.EINVAL(`version ${v} does not exist yet (${link(drive.key)} is at version ${drive.version})`)
    return drive.checkout(v)
  }

  // the caller's --timeout, or the daemon's
  private wait (timeout: unknown): number {
    const t = Number(timeout)
    return Number.isFinite(t) && t > 0 ? t : this.timeout
  }

  private async latest (key: unknown, timeout?: unknown, holder?: CallContext): Promise<RoutedDrive> {
    const wait = this.wait(timeout)
    const buf = hexKey(key)
    const hex = buf.toString('hex')
    // the swarm is joined before the drive is opened: opening one not held
    // here waits for peers to tell its length, and they must be found first
    const lookup = this.writable.has(hex) ? null : this.lookUp(discoveryKey(buf), holder)
    const deadline = Date.now() + wait
    let drive: RoutedDrive
    try {
      drive = await within(this.s.drives.open(buf), wait, () => this.notFound(buf, wait))
    } catch (err) {
      lookup?.()
      throw err
    }
    if (drive.writable) {
      this.writable.add(hex)
      lookup?.()
      return drive
    }
    const md = drive.metadata
    await this.s.network.ready()
    // a version held here is good enough when peers are slow to say there is a newer one
    await md.update({ timeout: md.length > 0 ? Math.min(wait, LATEST_MS) : Math.max(1, deadline - Date.now()) })
    while (md.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      await md.update({ timeout: Math.max(1, deadline - Date.now()) })
    }
    if (md.length === 0) {
      lookup?.()
      throw this.notFound(drive.key, wait)
    }
    // without a holder, the drive is looked up only while it is opened
    if (!holder) lookup?.()
    return drive
  }

  private notFound (key: Buffer, wait: number): HyperfsError {
    const n = connectionCount(this.s.network)
    return HyperfsError.from('DRIVE_NOT_FOUND', `${link(key)}: not held here and no peer sent it within ${wait} ms ` +
      `(${n} peer connection${n === 1 ? '' : 's'}; connect to one that has it with --peer HOST:PORT)`)
  }

  // Looks a drive up (and serves what we hold of it) on the swarm until the
  // holder's request is answered, or until the returned release is called.
  private lookUp (dk: Buffer, holder?: CallContext): () => void {
    this.s.network.join(dk, { server: true, client: true })
    let left = false
    const leave = (): void => {
      if (left) return
      left = true
      this.s.network.leave(dk)
    }
    holder?.onDone(leave)
    return leave
  }

  // ---- calls ----

  async create (p: Record<string, any>): Promise<unknown> {
    const format = p.format ?? 'hypertrie'
    if (!DRIVE_FORMATS.includes(format)) throw HyperfsError.BAD_ARGUMENT(`--format is one of ${DRIVE_FORMATS.join(', ')}, not ${JSON.stringify(format)}`)
    const drive = await this.s.drives.create({ format })
    this.writable.add(drive.key.toString('hex'))
    const summary = p.from ? await importFolder(drive, String(p.from), '/') : { files: 0, bytes: 0, skipped: [] }
    for (const f of summary.skipped) this.s.logger.warn(`create: skipped ${f} (not a file, folder or symlink)`)
    return { key: drive.key.toString('hex'), version: drive.version, format: drive.format, ...summary }
  }

  async ls (p: Record<string, any>, ctx?: CallContext): Promise<Entry[]> {
    const drive = timedDrive(await this.open(p.key, p.version, p.timeout, ctx), this.wait(p.timeout))
    const path = drivePath(p.path)
    const st = await drive.lstat(path)
    if ((st.mode & S_IFMT) !== S_IFDIR && !st.mount) return [entry(path.split('/').pop() || '/', st)]
    const out: Entry[] = []
    // the drive skips names that could climb or loop ('..', '.'); the depth
    // bound is for whatever else would make a walk endless
    const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
      if (depth > MAX_PATH_DEPTH) throw HyperfsError.WALK_TOO_DEEP(`${dir}: more than ${MAX_PATH_DEPTH} folders deep`)
      for await (const e of drive.readdir(dir)) {
        const name = prefix + e.name
        out.push(entry(name, e.stat))
        if (p.recursive && (e.stat.mode & S_IFMT) === S_IFDIR && !e.stat.mount) await walk(join(dir, e.name), name + '/', depth + 1)
      }
    }
    await walk(path, '', 0)
    return out.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  }

  async cat (p: Record<string, any>, ctx: CallContext): Promise<unknown> {
    const drive = timedDrive(await this.open(p.key, p.version, p.timeout, ctx), this.wait(p.timeout))
    const path = drivePath(p.path)
    const st = await drive.stat(path)
    if ((st.mode & S_IFMT) === S_IFDIR) throw HyperfsError.EISDIR(path)
    let sent = 0
    while (sent < st.size && !ctx.signal.aborted) {
      const length = Math.min(CHUNK, st.size - sent)
      const data = await drive.read(path, { start: sent, length, timeout: this.wait(p.timeout), signal: ctx.signal })
      if (data.byteLength === 0) break
      await ctx.emit({ data: data.toString('base64') })
      sent += data.byteLength
    }
    return { bytes: sent }
  }

  async put (p: Record<string, any>, ctx: CallContext): Promise<unknown> {
    const drive = await this.open(p.key, undefined, p.timeout)
    if (!drive.writable) throw HyperfsError.EROFS(`${link(drive.key)} is not writable here (it was created elsewhere)`)
    const path = drivePath(p.path)
    if (path === '/' && typeof p.from !== 'string') throw HyperfsError.EISDIR('/ is the root folder; name a file')
    let summary
    if (typeof p.from === 'string') {
      summary = await importFolder(drive, p.from, path)
    } else {
      // the bytes are the request's input, streamed: a put of any size from
      // stdin holds one chunk at a time, here and on the socket
      let bytes = 0
      const counted = async function * (input: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
        for await (const chunk of input) {
          bytes += chunk.byteLength
          yield chunk
        }
      }
      await drive.writeFile(path, counted(ctx.input), p.mode === undefined ? {} : { mode: Number(p.mode) })
      summary = { files: 1, bytes, skipped: [] }
    }
    return { path, version: drive.version, ...summary }
  }

  async rm (p: Record<string, any>): Promise<unknown> {
    const drive = await this.open(p.key, undefined, p.timeout)
    if (!drive.writable) throw HyperfsError.EROFS(`${link(drive.key)} is not writable here`)
    const path = drivePath(p.path)
    if (path === '/') throw HyperfsError.EINVAL('refusing to remove the root folder')
    await remove(drive, path, p.recursive === true)
    return { path, version: drive.version }
  }

  async mkdir (p: Record<string, any>): Promise<unknown> {
    const drive = await this.open(p.key, undefined, p.timeout)
    const path = drivePath(p.path)
    await drive.mkdir(path)
    return { path, version: drive.version }
  }

  async mkmount (p: Record<string, any>): Promise<unknown> {
    const drive = await this.open(p.key, undefined, p.timeout)
    const path = drivePath(p.path)
    const version = p.version === undefined || p.version === null ? undefined : Number(p.version)
    await drive.mount(path, hexKey(p.target), version === undefined ? {} : { version })
    return { path, target: String(p.target), version: drive.version }
  }

  async info (p: Record<string, any>, ctx?: CallContext): Promise<unknown> {
    const drive = timedDrive(await this.latest(p.key, p.timeout, ctx), this.wait(p.timeout))
    let i = await drive.info()
    if (!drive.writable && drive.content) {
      // a replica learns the content core's length from peers
      await drive.content.update({ timeout: Math.min(this.wait(p.timeout), 5000) })
      i = await drive.info()
    }
    const peers = drive.metadata.peers
    return {
      key: i.key.toString('hex'),
      format: drive.format,
      discoveryKey: i.discoveryKey.toString('hex'),
      version: i.version,
      writable: i.writable,
      contentKey: i.contentKey?.toString('hex') ?? null,
      byteLength: i.byteLength,
      localBytes: i.localBytes,
      percentLocal: i.byteLength === 0 ? 100 : Math.floor(1000 * i.localBytes / i.byteLength) / 10,
      peers,
      seeding: this.seeding.has(i.key.toString('hex')),
      mounts: this.s.mounts.list().filter((m) => m.key === i.key.toString('hex')).map((m) => m.mountpoint)
    }
  }

  // Reads and hashes every block held here of a drive's metadata and content
  // cores against their signed trees. A replica drops damaged blocks, to be
  // fetched again from peers; a writer's stay damaged (reads give EIO).
  async verify (p: Record<string, any>, ctx: CallContext): Promise<unknown> {
    const drive = await this.latest(p.key, p.timeout, ctx)
    await drive.info() // opens the content core, when the drive has one
    const cores: Array<{ name: string, key: string, length: number, checked: number, corrupt: Array<{ block: number, message: string }> }> = []
    for (const [name, core] of [['metadata', drive.metadata], ['content', drive.content]] as const) {
      if (!core) continue
      const r = await core.verify({ signal: ctx.signal })
      cores.push({ name, key: core.key!.toString('hex'), length: core.length, checked: r.checked, corrupt: r.corrupt.map((c) => ({ block: c.index, message: c.error.message })) })
    }
    return {
      key: drive.key.toString('hex'),
      checked: cores.reduce((n, c) => n + c.checked, 0),
      corrupt: cores.reduce((n, c) => n + c.corrupt.length, 0),
      cores
    }
  }

  async log (p: Record<string, any>, ctx?: CallContext): Promise<unknown> {
    const drive = timedDrive(await this.open(p.key, undefined, p.timeout, ctx), this.wait(p.timeout))
    const out: Array<{ version: number, type: string, name: string, size: number | null }> = []
    const limit = p.limit === undefined ? Infinity : Number(p.limit)
    for await (const h of drive.history()) {
      out.push({ version: h.version, type: h.type, name: h.name, size: h.value ? h.value.size : null })
    }
    return out.slice(Math.max(0, out.length - limit))
  }

  // Each drive of the download (the one named and each mounted in it) is
  // fetched on its own by Drive#download; one that fails is logged and named
  // in a DOWNLOAD_INCOMPLETE error, sent only once the rest is downloaded.
  async download (p: Record<string, any>, ctx: CallContext): Promise<unknown> {
    const drive = timedDrive(await this.latest(p.key, p.timeout, ctx), this.wait(p.timeout))
    const path = drivePath(p.path)
    const progress = new DownloadProgress(path)
    const tick = (): void => { void ctx.emit({ progress: progress.tick(drive.metadata.peers) }) }
    const timer = setInterval(tick, PROGRESS_MS)
    try {
      await drive.download(path, { signal: ctx.signal, timeout: this.wait(p.timeout), onprogress: (s) => progress.update(s) })
    } catch (err) {
      if (!isHyperfsError(err, 'DOWNLOAD_INCOMPLETE')) throw err
    } finally {
      clearInterval(timer)
    }
    const failed = progress.failed()
    for (const f of failed) this.s.logger.warn(`download ${link(drive.key)}: ${f.path} (${link(f.key)}) failed: ${f.error?.message}`)
    if (failed.length > 0) throw HyperfsError.DOWNLOAD_INCOMPLETE(progress.describe())
    return progress.totals(drive.metadata.peers)
  }

  // Serves drives to peers. A drive held elsewhere is downloaded whole first
  // (seeding means holding every block), with progress events and then one
  // that says it is held, or why the download stopped. A seed lasts while its
  // client stays connected: the call is answered only when the client goes
  // (so the answer reaches nobody). With detach, the call is answered at once
  // and the daemon seeds until unseed, or until it stops.
  //   events: { seeding: [{ key, version, writable }], listening: [addr] }
  //           { progress: { key, bytes, total, peers } }
  //           { held: { key, bytes } } | { failed: { key, message } }
  async seed (p: Record<string, any>, ctx: CallContext): Promise<unknown> {
    const keys: unknown[] = Array.isArray(p.keys) ? p.keys : []
    if (keys.length === 0) throw HyperfsError.BAD_ARGUMENT('no drive to seed')
    const detach = p.detach === true
    const wait = this.wait(p.timeout)
    const drives = await Promise.all(keys.map((k) => this.latest(k, p.timeout, ctx)))
    const seeded = []
    for (const drive of drives) {
      const hex = drive.key.toString('hex')
      seeded.push({ key: hex, version: drive.version, writable: drive.writable })
      if (detach && this.detached.has(hex)) continue
      const stop = new AbortController()
      const release = this.holdSeed(drive)
      // held before the download starts, so that the cache never evicts what it fetches
      const unhold = await this.seedHold?.(hex)
      const end = (): void => {
        stop.abort(HyperfsError.REQUEST_CANCELLED('the seed ended'))
        release()
        unhold?.().catch((err: Error) => this.s.logger.warn(`seed: ${link(drive.key)}: ${err.message}`))
      }
      // a client that left while its drives were looked up has this run at once
      if (detach) this.detached.set(hex, end); else ctx.onClose(end)
      if (!drive.writable) this.fetchForSeed(drive, wait, stop.signal, detach ? null : ctx)
    }
    await ctx.emit({ seeding: seeded, listening: this.s.network.status().listening })
    if (detach) return { seeding: seeded, detached: true }
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve()
      else ctx.signal.addEventListener('abort', () => resolve(), { once: true })
    })
    return null
  }

  // Ends detached seeds (a seed held by a running `hyperfs seed` ends with it).
  unseed (p: Record<string, any>): unknown {
    const keys: unknown[] = Array.isArray(p.keys) ? p.keys : []
    const hexes = keys.map((k) => hexKey(k).toString('hex'))
    for (const hex of hexes) {
      if (this.detached.has(hex)) continue
      const why = this.seeding.has(hex) ? 'it is seeded by a running `hyperfs seed`; stop that command' : 'it is not seeded'
      throw HyperfsError.EINVAL(`${link(Buffer.from(hex, 'hex'))} has no detached seed: ${why}`)
    }
    for (const hex of hexes) {
      this.detached.get(hex)!()
      this.detached.delete(hex)
    }
    return { unseeded: hexes }
  }

  // One holder of a seed: counted, and the drive announced, until released.
  private holdSeed (drive: Drive): () => void {
    const hex = drive.key.toString('hex')
    this.seeding.set(hex, (this.seeding.get(hex) ?? 0) + 1)
    this.s.network.join(drive.discoveryKey, { server: true, client: true })
    let held = true
    return () => {
      if (!held) return
      held = false
      this.s.network.leave(drive.discoveryKey)
      const n = (this.seeding.get(hex) ?? 1) - 1
      if (n > 0) this.seeding.set(hex, n); else this.seeding.delete(hex)
    }
  }

  // Downloads a seeded drive whole, telling the seed's client (if it still
  // has one) how far it got and when it is done.
  private fetchForSeed (drive: RoutedDrive, wait: number, signal: AbortSignal, ctx: CallContext | null): void {
    const key = drive.key.toString('hex')
    const progress = new DownloadProgress('/')
    const tick = (): void => {
      const t = progress.tick(drive.metadata.peers)
      void ctx?.emit({ progress: { key, bytes: t.bytes, total: t.total, peers: t.peers } })
    }
    const timer = setInterval(tick, PROGRESS_MS)
    drive.download('/', { signal, timeout: wait, onprogress: (s) => progress.update(s) }).finally(() => clearInterval(timer)).then(() => {
      this.s.logger.info(`seed: ${link(drive.key)} is held in full`)
      void ctx?.emit({ held: { key, bytes: progress.totals(drive.metadata.peers).bytes } })
    }, (err) => {
      if (signal.aborted) return
      this.s.logger.warn(`seed: ${link(drive.key)}: ${err.message}`)
      void ctx?.emit({ failed: { key, message: err.message } })
    })
  }


  // Every drive in the storage folder, from what is held here (no peer is
  // asked). A drive is a core whose first block is a drive's header; the
  // content cores those headers name, and raw cores, are not drives. A core
  // with nothing held (a drive looked up that no peer sent) may be one: it is
  // listed with no format.
  async drives (): Promise<unknown[]> {
    const store = this.s.drives.store
    const cores = []
    for (const dk of await store.discoveryKeys()) {
      const core = await store.openByDiscoveryKey(dk)
      if (core) cores.push(core)
    }
    const found: Array<{ drive: RoutedDrive, info: DriveInfo }> = []
    const empty = []
    const content = new Set<string>()
    for (const core of cores) {
      // an empty core is never opened as a drive: a writable one would get a drive's header
      if (core.length === 0 || !core.has(0)) { empty.push(core); continue }
      let drive: RoutedDrive
      try {
        drive = await this.s.drives.open(core.key!)
      } catch (err) {
        if (isHyperfsError(err)) continue // not a drive: a content core, or a raw one
        throw err
      }
      const info = await drive.info()
      found.push({ drive, info })
      if (info.contentKey) content.add(info.contentKey.toString('hex'))
    }
    const mounts = this.s.mounts.list()
    const out = found.map(({ drive, info }) => {
      const key = info.key.toString('hex')
      return {
        key,
        format: drive.format as string | null,
        writable: info.writable,
        version: info.version,
        byteLength: info.byteLength,
        localBytes: info.localBytes,
        percentLocal: info.byteLength === 0 ? 100 : Math.floor(1000 * info.localBytes / info.byteLength) / 10,
        mounts: mounts.filter((m) => m.key === key).map((m) => m.mountpoint),
        seeding: this.seeding.has(key)
      }
    })
    for (const core of empty) {
      const key = core.key!.toString('hex')
      if (content.has(key)) continue
      out.push({ key, format: null, writable: core.writable, version: core.length, byteLength: 0, localBytes: 0, percentLocal: 0, mounts: [], seeding: false })
    }
    return out.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
  }

  async mount (p: Record<string, any>, ctx: CallContext): Promise<MountRecord> {
    if (typeof p.mountpoint !== 'string' || !p.mountpoint.startsWith('/')) throw HyperfsError.BAD_ARGUMENT('mountpoint must be an absolute path')
    const drive = p.key === 'new' ? await this.s.drives.create() : await this.open(p.key, p.version, p.timeout, ctx)
    if (drive.writable) this.writable.add(drive.key.toString('hex'))
    const pinned = p.key !== 'new' && p.version !== undefined && p.version !== null
    const readTimeout = p.readTimeout === undefined || p.readTimeout === null ? undefined : Number(p.readTimeout)
    this.s.network.join(drive.discoveryKey, { server: true, client: !drive.writable })
    let record: MountRecord
    try {
      record = await this.s.mounts.mount(drive, p.mountpoint, { readOnly: !drive.writable || pinned, readTimeout, kernelCache: pinned },
        { key: drive.key.toString('hex'), version: pinned ? drive.version : null },
        () => this.s.network.leave(drive.discoveryKey))
    } catch (err) {
      this.s.network.leave(drive.discoveryKey)
      throw err
    }
    if (p.session === true) {
      ctx.onClose(async () => {
        if (this.s.mounts.list().some((m) => m.mountpoint === record.mountpoint)) await this.s.mounts.unmount(record.mountpoint)
      })
    }
    return record
  }
}

function hexKey (key: unknown): Buffer {
  if (typeof key !== 'string' || !/^[0-9a-f]{64}$/i.test(key)) throw HyperfsError.from('BAD_KEY', `expected a 64-digit hex key, got ${JSON.stringify(key)}`)
  return Buffer.from(key, 'hex')
}

function drivePath (p: unknown): string {
  if (p === undefined || p === null || p === '') return '/'
  if (typeof p !== 'string') throw HyperfsError.BAD_ARGUMENT('a path must be a string')
  const comps = p.split('/').filter((c) => c && c !== '.')
  return '/' + comps.join('/')
}

function join (dir: string, name: string): string {
  return dir === '/' ? '/' + name : dir + '/' + name
}

function link (key: Buffer): string {
  return 'hyper://' + z32(key)
}

function entry (name: string, st: Stat): Entry {
  const kind = st.mode & S_IFMT
  const e: Entry = {
    name,
    type: st.mount ? 'mount' : kind === S_IFDIR ? 'dir' : kind === S_IFLNK ? 'symlink' : 'file',
    size: st.size,
    mode: st.mode,
    mtime: st.mtime
  }
  if (st.linkname) e.link = st.linkname
  if (st.mount) e.mount = { key: st.mount.key.toString('hex'), version: st.mount.version }
  return e
}

async function remove (drive: Drive, path: string, recursive: boolean): Promise<void> {
  const st = await drive.lstat(path)
  if (st.mount) return drive.unmount(path)
  if ((st.mode & S_IFMT) !== S_IFDIR) return drive.unlink(path)
  if (recursive) {
    const children: string[] = []
    for await (const e of drive.readdir(path)) children.push(join(path, e.name))
    for (const c of children) await remove(drive, c, true)
  }
  return drive.rmdir(path)
}

// Resolves or rejects as `p` does, or rejects with err() after ms: a wait the
// caller gives up on (the work behind it goes on, and ends by its own bound).
function within<T> (p: Promise<T>, ms: number, err: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(err()), ms) })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

// Every peer connection, by whichever path it came: dialled or accepted over
// TCP, or found on the swarm (DHT or MDNS).
export function connectionCount (network: PeerNetwork): number {
  const s = network.status()
  return s.connections + s.swarmPeers
}
