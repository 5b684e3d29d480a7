// Store: many cores in one storage folder, like corestore.
//   <root>/primary-key                 32 random bytes; named cores derive from it
//   <root>/cores/<dk[0:2]>/<dk hex>/   one core's files (see core/hypercore.ts)
// Folders are named by discovery key, so a remote that opens a channel for a
// discovery key can be served without knowing the key up front, and a peer that
// knows only the discovery key still gets nothing (the capability needs the key).
// A named core's key pair is seeded with H[primaryKey]("hyperfs/name" ‖ name).
// The primary key and every core's header are secrets: the folder and all in
// it are private to us (core/storage.ts), and a folder others can write to is
// refused with STORAGE_INSECURE.
// Events, for whoever runs the network and the log: 'starved' (core: a read
// waits with no peer connected), 'replication-error' (err, core: fetching
// paused on a storage error, or a bug in scheduling), 'corrupt' (err, core: a
// local block or tree node a core found damaged).
// With a ReaderCache (opts.cache), every core opened with role 'content' that
// we do not write is counted against its cap (store/reader-cache.ts).
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { open as fsOpen, writeFile, access, readdir } from 'node:fs/promises'
import type { Duplex } from 'node:stream'
import { Hypercore, type HypercoreOptions } from '../core/hypercore.js'
import { MemoryStorage, FileStorage, privateFolder, PRIVATE_FILE_MODE, type Storage } from '../core/storage.js'
import { defaultManifest, keyFromManifest } from '../core/signer.js'
import { discoveryKey, keyPair as makeKeyPair, keyedHash, randomBytes, type KeyPair } from '../crypto/index.js'
import { protocolStream, type ProtocolStreamOptions } from '../net/protocol-stream.js'
import type { Mux } from '../net/mux.js'
import type { MuxLike } from '../replication/types.js'
import { HyperfsError, safetyCatch, systemCode } from '../errors.js'
import type { ReaderCache } from './reader-cache.js'

export interface StoreGetOptions extends HypercoreOptions {
  key?: Buffer | null
  name?: string
  // 'content': file bytes (a drive's content core, a core mounted as a file),
  // which a reader's cache may evict; anything else is kept
  role?: 'content'
}

export interface StoreOptions {
  requestTimeout?: number
  cache?: ReaderCache | null
}

const HYPERCORE_PROTOCOL = 'hypercore/alpha'
const PRIMARY_KEY_BYTES = 32

export class Store extends EventEmitter {
  readonly root: string | null
  private opts: StoreOptions
  private memory = new Map<string, MemoryStorage>()
  private cores = new Map<string, Promise<Hypercore>>() // by discovery key hex
  private muxes = new Set<Mux>() // streams whose handshake is done
  private streams = new Set<{ once: (e: string, f: () => void) => unknown }>() // every live stream
  private primaryKey: Buffer | null = null
  private contentCores = new Set<Hypercore>() // opened with role 'content': what a cache attached later tracks
  private opening: Promise<void> | null = null
  closed = false

  // a folder path, or null for a store held in memory
  constructor (root: string | null, opts: StoreOptions = {}) {
    super()
    this.root = root
    this.opts = opts
  }

  static memory (opts: StoreOptions = {}): Store {
    return new Store(null, opts)
  }

  ready (): Promise<void> {
    if (!this.opening) this.opening = this.open()
    return this.opening
  }

  private async open (): Promise<void> {
    if (!this.root) { this.primaryKey = randomBytes(PRIMARY_KEY_BYTES); return }
    privateFolder(this.root)
    const file = join(this.root, 'primary-key')
    let fh
    try {
      fh = await fsOpen(file, 'r')
    } catch (err) {
      if (systemCode(err) !== 'ENOENT') throw HyperfsError.from('STORAGE_IO', `open ${file}: ${(err as Error).message}`, err)
      this.primaryKey = randomBytes(PRIMARY_KEY_BYTES)
      await writeFile(file, this.primaryKey, { flag: 'wx', mode: PRIVATE_FILE_MODE })
      return
    }
    try {
      if (((await fh.stat()).mode & 0o077) !== 0) await fh.chmod(PRIVATE_FILE_MODE)
      const k = await fh.readFile()
      if (k.byteLength !== PRIMARY_KEY_BYTES) throw HyperfsError.STORAGE_CORRUPT(`${file}: expected ${PRIMARY_KEY_BYTES} bytes, found ${k.byteLength}`)
      this.primaryKey = k
    } finally {
      await fh.close()
    }
  }

  private storageFor (dk: Buffer): Storage {
    const hex = dk.toString('hex')
    if (!this.root) {
      let s = this.memory.get(hex)
      if (!s) { s = new MemoryStorage(); this.memory.set(hex, s) }
      return s
    }
    return new FileStorage(join(this.root, 'cores', hex.slice(0, 2), hex), { root: this.root })
  }

  // The key pair of our own core called `name` (stable across restarts).
  namedKeyPair (name: string): KeyPair {
    if (!this.primaryKey) throw HyperfsError.SESSION_CLOSED('store is not ready')
    return makeKeyPair(keyedHash(this.primaryKey, Buffer.from('hyperfs/name\0' + name)))
  }

  // Opens (once) a core by key, our own named core, or a new writable core.
  async get (opts: StoreGetOptions | Buffer = {}): Promise<Hypercore> {
    if (Buffer.isBuffer(opts)) opts = { key: opts }
    await this.ready()
    if (this.closed) throw HyperfsError.SESSION_CLOSED('store is closed')
    let { key = null, name, keyPair, role, ...rest } = opts
    if (name !== undefined) keyPair = this.namedKeyPair(name)
    if (!key) {
      keyPair = keyPair ?? makeKeyPair()
      key = rest.compat ? keyPair.publicKey : (rest.manifest ? keyFromManifest(rest.manifest) : keyFromManifest(defaultManifest(keyPair.publicKey)))
    }
    const hex = discoveryKey(key).toString('hex')
    // A peer's request may be opening this core by its discovery key; that
    // holds the folder's lock for a moment, so wait for it, then share its core.
    const looking = this.lookups.get(hex)
    if (looking && !this.cores.has(hex)) await looking.catch(safetyCatch)
    const core = await this.openKey(key, { ...rest, ...(keyPair ? { keyPair } : {}) })
    if (role === 'content' && !core.writable && !this.contentCores.has(core)) {
      this.contentCores.add(core)
      core.once('close', () => this.contentCores.delete(core))
      if (this.opts.cache) await this.opts.cache.track(core)
    }
    return core
  }

  get cache (): ReaderCache | null {
    return this.opts.cache ?? null
  }

  // Puts the content cores opened so far, and every one opened from now on,
  // under `cache` (a daemon given --cache-size after it started).
  async useCache (cache: ReaderCache): Promise<void> {
    this.opts = { ...this.opts, cache }
    for (const core of [...this.contentCores]) await cache.track(core)
  }

  private openKey (key: Buffer, opts: HypercoreOptions): Promise<Hypercore> {
    if (this.closed) return Promise.reject(HyperfsError.SESSION_CLOSED('store is closed'))
    const dk = discoveryKey(key)
    const hex = dk.toString('hex')
    let p = this.cores.get(hex)
    if (!p) {
      const core = new Hypercore(this.storageFor(dk), key, { requestTimeout: this.opts.requestTimeout, ...opts })
      core.on('corrupt', (err) => this.emit('corrupt', err, core))
      p = core.ready().then(() => {
        core.once('close', () => { if (this.cores.get(hex) === p) this.cores.delete(hex) })
        const r = core.replicator
        r.on('starved', () => this.emit('starved', core))
        r.on('storage-error', (err: Error) => this.emit('replication-error', err, core))
        r.on('error-internal', (err: Error) => this.emit('replication-error', err, core))
        for (const stream of this.streams) core.replicator.expect(stream) // update() waits for each peer's answer
        for (const mux of this.muxes) core.replicator.attach(mux as unknown as MuxLike)
        return core
      })
      this.cores.set(hex, p)
      p.catch(() => { if (this.cores.get(hex) === p) this.cores.delete(hex) })
    }
    return p
  }

  // The discovery keys of every core held in this store (its folder, or memory).
  async discoveryKeys (): Promise<Buffer[]> {
    if (!this.root) return [...this.memory.keys()].map((hex) => Buffer.from(hex, 'hex'))
    const out: Buffer[] = []
    const cores = join(this.root, 'cores')
    const list = (dir: string): Promise<string[]> => readdir(dir).catch((err) => { if (['ENOENT', 'ENOTDIR'].includes(systemCode(err))) return []; throw err })
    for (const prefix of await list(cores)) {
      for (const hex of await list(join(cores, prefix))) {
        if (/^[0-9a-f]{64}$/.test(hex) && hex.startsWith(prefix)) out.push(Buffer.from(hex, 'hex'))
      }
    }
    return out
  }

  // The core held here under this discovery key, opened; null when there is none.
  openByDiscoveryKey (dk: Buffer): Promise<Hypercore | null> {
    return this.byDiscoveryKey(dk)
  }

  // A core we hold on disk (or in memory) for this discovery key, opened on demand.
  private lookups = new Map<string, Promise<Hypercore | null>>()

  private byDiscoveryKey (dk: Buffer): Promise<Hypercore | null> {
    const hex = dk.toString('hex')
    const open = this.cores.get(hex)
    if (open) return open
    let p = this.lookups.get(hex)
    if (!p) {
      p = this.lookup(dk).finally(() => this.lookups.delete(hex))
      this.lookups.set(hex, p)
    }
    return p
  }

  // whether this store holds a core for this discovery key (without opening or creating it)
  async holds (dk: Buffer): Promise<boolean> {
    const hex = dk.toString('hex')
    if (this.cores.has(hex)) return true
    if (!this.root) return this.memory.has(hex)
    try {
      await access(join(this.root, 'cores', hex.slice(0, 2), hex, 'header'))
      return true
    } catch {
      return false
    }
  }

  private async lookup (dk: Buffer): Promise<Hypercore | null> {
    const hex = dk.toString('hex')
    if (!(await this.holds(dk))) return null
    const open = this.cores.get(hex) // opened by key meanwhile
    if (open) return open
    const core = new Hypercore(this.storageFor(dk), null, { createIfMissing: false, requestTimeout: this.opts.requestTimeout })
    try {
      await core.ready()
    } catch {
      await core.close().catch(safetyCatch)
      return null
    }
    const key = core.key!
    await core.close() // it holds the folder's lock; the store opens its own
    return this.openKey(key, {})
  }

  // Replicates every core this store holds or opens later over one stream;
  // a channel the remote opens for a core we hold on disk opens that core.
  replicate (isInitiator: boolean | Duplex, opts: ProtocolStreamOptions = {}): Duplex {
    const ps = protocolStream(isInitiator, opts)
    const mux = ps.mux
    this.streams.add(ps.secret)
    ps.secret.once('close', () => {
      this.streams.delete(ps.secret)
      for (const p of this.cores.values()) p.then((core) => core.replicator.settle(ps.secret), safetyCatch)
    })
    // registered now: a remote open can arrive before our handshake promise
    // settles. The mux waits for this promise before it rejects an open nobody claimed.
    mux.pair({ protocol: HYPERCORE_PROTOCOL }, async (id) => {
      if (!id) return
      const core = await this.byDiscoveryKey(Buffer.from(id)).catch(() => null)
      if (core && !ps.secret.destroyed) core.replicator.attach(mux as unknown as MuxLike)
    })
    ps.secret.opened.then((ok) => {
      if (!ok || this.closed || ps.secret.destroyed) return
      this.muxes.add(mux)
      ps.secret.once('close', () => this.muxes.delete(mux))
      for (const p of this.cores.values()) {
        p.then((core) => { if (!ps.secret.destroyed) core.replicator.attach(mux as unknown as MuxLike) }, () => {})
      }
    }, () => {})
    for (const p of this.cores.values()) p.then((core) => core.replicator.expect(ps.secret), () => {})
    return ps.outer
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    const all = await Promise.allSettled([...this.cores.values()])
    this.cores.clear()
    await Promise.all(all.map((r) => r.status === 'fulfilled' ? r.value.close() : null))
  }
}
