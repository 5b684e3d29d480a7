// The storage operations of the control API: gc, pin, unpin, pins, cache,
// and the storage fields of info. The drive operations are in drive-api.ts;
// this file only opens drives through it.
//
//   gc { key, keepVersions? }  frees the content blocks held here that only
//        versions older than the last keepVersions (default 1: the latest)
//        reference (live-blocks.ts), by punching holes (Hypercore#clear); not
//        what a drive retains (the base of a file open for writing in a mount).
//        History metadata stays: log and /.versions still list, and reading
//        freed content of an old version fetches it from a peer, or fails.
//   pin { key, path? } / unpin { key, path? } / pins {}   the content of a path
//        at the latest version stays out of the reader's cache (pin-list.ts);
//        download pins what it fetches, and seed holds a drive while it runs.
//   cache { size }  sets the cap of the reader's cache (store/reader-cache.ts)
//   keep-history { size }  sets the history budget of the drives we write:
//        past it, gc runs by itself (auto-gc.ts)
import { RoutedDrive } from '../drive/routed-drive.js'
import type { DriveStore } from '../drive/drive-store.js'
import type { Drive } from '../drive/types.js'
import type { Hypercore } from '../core/hypercore.js'
import { Bitfield, PAGE_BITS } from '../core/bitfield.js'
import { Mutex } from '../core/mutex.js'
import { ReaderCache, type CacheStatus } from '../store/reader-cache.js'
import { HyperfsError, isHyperfsError } from '../errors.js'
import type { CallContext } from './control-server.js'
import type { DriveApi } from './drive-api.js'
import type { Logger } from './logger.js'
import { PinList, type Pin } from './pin-list.js'
import { CachedCores } from './cached-cores.js'
import { discoveryKey } from '../crypto/index.js'
import { gcPlan, keepNewer, keepRetained, treeBlocks } from './live-blocks.js'
import { AutoGc } from './auto-gc.js'
import { parseSize } from './byte-size.js'

const MAX_KEEP_VERSIONS = Number.MAX_SAFE_INTEGER
// Pins name blocks a replica may not know of yet (its content core learns
// its length from peers), so they are not clamped to the core's length but
// kept within this many bitfield pages (of 32768 blocks): what a hostile
// Stat can make us mark stays bounded (16 MiB of pages, 8 TiB of 64 KiB blocks).
const MAX_PIN_PAGES = 4096
// a pinned drive that moves on has its pins found again this long after its last new version
const PIN_REFRESH_MS = 1000

export interface StorageServices {
  drives: DriveStore
  api: DriveApi
  logger: Logger
}

export interface GcResult {
  key: string
  version: number
  keepVersions: number
  blocks: number // content blocks freed
  bytes: number // their bytes
  punched: boolean // false: this filesystem could not punch holes, the bytes stay on disk
  diskBefore: number // bytes the drive's cores took on disk before, and after
  diskAfter: number
}

export class StorageApi {
  private s: StorageServices
  private pins: PinList
  private cachedCores: CachedCores
  private saving = new Mutex() // writes of cached-cores.json, in turn
  private cache: ReaderCache | null = null
  private autoGc: AutoGc | null = null
  private gcLock = new Mutex() // one gc at a time: each walks a whole history
  private holds = new Map<string, number>() // drives held whole while seeded
  private resolved = new Map<string, { core: Hypercore, blocks: Bitfield }>() // each drive's pinned blocks, when last found
  private watched = new Set<string>() // pinned drives whose new versions refresh their pins
  private timeout: number

  constructor (services: StorageServices, opts: { storage: string, cacheSize: number | null, keepHistory?: number | null, timeout: number }) {
    this.s = services
    this.pins = new PinList(opts.storage)
    this.cachedCores = new CachedCores(opts.storage)
    this.timeout = opts.timeout
    if (opts.cacheSize) this.cache = this.newCache(opts.cacheSize)
    if (opts.keepHistory) this.autoGc = this.newAutoGc(opts.keepHistory)
  }

  private newCache (capacity: number): ReaderCache {
    return new ReaderCache({
      capacity,
      onerror: (err, core) => this.s.logger.error(`cache: evicting from core ${core.key?.toString('hex')}: ${err.message}`),
      ontrack: (core) => {
        const key = core.key!.toString('hex')
        this.saving.run(() => this.cachedCores.add(key)).catch((err) => this.s.logger.warn(`cache: ${err.message}`))
      }
    })
  }

  // The content cores an earlier run counted are opened and counted now, so
  // that what they hold is under the cap before anything reads them.
  private async reopenCached (cache: ReaderCache): Promise<void> {
    for (const hex of this.cachedCores.list()) {
      const key = Buffer.from(hex, 'hex')
      if (!(await this.s.drives.store.holds(discoveryKey(key)))) {
        await this.saving.run(() => this.cachedCores.remove(hex))
        continue
      }
      const core = await this.s.drives.store.get({ key, role: 'content' })
      await cache.track(core)
    }
  }

  // Loads the pins; a cache keeps every pinned drive's content whole until
  // its pins are found again (in the background: it may need peers).
  async start (): Promise<void> {
    await this.pins.load()
    await this.cachedCores.load()
    if (this.autoGc) this.watchDrives(this.autoGc)
    if (this.cache) {
      for (const p of this.pins.list()) if (p.contentKey) this.cache.setPins(p.contentKey, null)
      await this.s.drives.store.useCache(this.cache)
      const cache = this.cache
      this.reopenCached(cache).catch((err) => this.s.logger.warn(`cache: counting what earlier runs kept: ${err.message}`))
    }
    void (async () => {
      for (const key of this.pins.keys()) {
        await this.resolve(key, this.timeout).catch((err) => this.s.logger.warn(`pins of ${key}: ${err.message} (its content stays whole until they resolve)`))
      }
    })()
  }

  cacheStatus (): CacheStatus | null {
    return this.cache?.status() ?? null
  }

  async setCache (p: Record<string, any>): Promise<unknown> {
    const size = typeof p.size === 'number' ? p.size : parseSize(String(p.size))
    if (!Number.isSafeInteger(size) || size <= 0) throw HyperfsError.BAD_ARGUMENT(`bad cache size ${String(p.size)}`)
    if (this.cache) {
      this.cache.setCapacity(size)
    } else {
      this.cache = this.newCache(size)
      for (const pin of this.pins.list()) if (pin.contentKey) this.cache.setPins(pin.contentKey, null)
      await this.s.drives.store.useCache(this.cache)
      await this.reopenCached(this.cache).catch((err) => this.s.logger.warn(`cache: counting what earlier runs kept: ${err.message}`))
      for (const key of new Set([...this.pins.keys(), ...this.holds.keys()])) {
        await this.resolve(key, this.timeout).catch((err) => this.s.logger.warn(`pins of ${key}: ${err.message}`))
      }
    }
    return this.cache.status()
  }

  // ---- gc ----

  async gc (p: Record<string, any>, ctx: CallContext): Promise<GcResult> {
    const keep = p.keepVersions === undefined || p.keepVersions === null ? 1 : Number(p.keepVersions)
    if (!Number.isSafeInteger(keep) || keep < 1 || keep > MAX_KEEP_VERSIONS) throw HyperfsError.EINVAL(`--keep-versions must be a whole number from 1 up, not ${String(p.keepVersions)}`)
    const drive = await this.s.api.open(p.key, undefined, p.timeout)
    return this.collect(drive, { keepVersions: keep, signal: ctx.signal, timeout: p.timeout })
  }

  // The one gc, of `hyperfs gc` and of the history budget (auto-gc.ts):
  // frees the content blocks held here that only versions before the oldest
  // kept one reference (the last keepVersions, or from oldestKept on), but
  // what a pin keeps. One at a time: each walks a whole history.
  private collect (drive: Drive, opts: { keepVersions: number, oldestKept?: number, signal: AbortSignal, timeout?: unknown }): Promise<GcResult> {
    return this.gcLock.run(async () => {
      const content = await contentOf(drive)
      const keepVersions = opts.oldestKept === undefined ? opts.keepVersions : Math.max(1, drive.version - opts.oldestKept + 1)
      const result: GcResult = { key: drive.key.toString('hex'), version: drive.version, keepVersions, blocks: 0, bytes: 0, punched: true, diskBefore: 0, diskAfter: 0 }
      result.diskBefore = await diskBytes(drive, content)
      if (!content) { result.diskAfter = result.diskBefore; return result }
      const bound = content.length
      const plan = await gcPlan(drive, { keepVersions: opts.keepVersions, oldestKept: opts.oldestKept, bound, signal: opts.signal })
      // what a pin keeps stays, even where only older versions reference it
      const pinned = await this.resolve(result.key, opts.timeout).catch(() => null)
      if (pinned) for (const [s, e] of pinned.blocks.runs()) plan.free.setRange(s, e, false)
      await keepNewer(drive, plan.latest, plan.free, bound)
      // run by run; what a file opened for writing meanwhile retains stays (its base)
      for (let at = 0; at < bound;) {
        if (opts.signal.aborted) throw HyperfsError.REQUEST_CANCELLED('gc was aborted')
        keepRetained(drive, plan.free, bound, false)
        const s = plan.free.firstSet(at)
        if (s < 0 || s >= bound) break
        const e = Math.min(bound, plan.free.firstUnset(s))
        const r = await content.clear(s, e)
        result.blocks += r.blocks
        result.bytes += r.bytes
        if (!r.punched) result.punched = false
        at = e
      }
      result.diskAfter = await diskBytes(drive, content)
      this.s.logger.info(`gc ${result.key}: freed ${result.blocks} blocks (${result.bytes} bytes) that only versions before ${plan.oldestKept} reference`)
      return result
    })
  }

  // ---- the history budget (auto-gc.ts) ----

  private newAutoGc (budget: number): AutoGc {
    return new AutoGc({
      logger: this.s.logger,
      content: contentOf,
      gc: (drive, oldestKept, signal) => this.collect(drive, { keepVersions: 1, oldestKept, signal }),
      pinned: async (key) => (await this.resolve(key, this.timeout))?.blocks ?? null
    }, { budget })
  }

  // The drives we write, each as it is opened.
  private watchDrives (autoGc: AutoGc): void {
    this.s.drives.onOpen((drive) => {
      if (drive.writable) autoGc.track(drive)
    })
  }

  async setHistoryBudget (p: Record<string, any>): Promise<unknown> {
    const size = typeof p.size === 'number' ? p.size : parseSize(String(p.size))
    if (!Number.isSafeInteger(size) || size <= 0) throw HyperfsError.BAD_ARGUMENT(`bad history budget ${String(p.size)}`)
    if (this.autoGc) {
      this.autoGc.setBudget(size)
    } else {
      this.autoGc = this.newAutoGc(size)
      this.watchDrives(this.autoGc)
    }
    return { keepHistory: size }
  }

  historyBudget (): number | null {
    return this.autoGc?.size ?? null
  }

  async close (): Promise<void> {
    await this.autoGc?.close()
  }

  // ---- pins ----

  async pin (p: Record<string, any>, by: Pin['by'] = 'pin'): Promise<unknown> {
    const drive = await this.s.api.open(p.key, undefined, p.timeout)
    const key = drive.key.toString('hex')
    const path = drivePath(p.path)
    await drive.lstat(path) // ENOENT for a path the drive does not have
    const content = await contentOf(drive)
    await this.pins.add({ key, path, contentKey: content?.key?.toString('hex') ?? null, by })
    const r = await this.resolve(key, p.timeout)
    return { key, path, by, pins: this.pins.list(key).map(pinInfo), pinnedBytes: r ? await heldIn(r.core, r.blocks) : 0 }
  }

  async unpin (p: Record<string, any>): Promise<unknown> {
    if (typeof p.key !== 'string' || !/^[0-9a-f]{64}$/i.test(p.key)) throw HyperfsError.from('BAD_KEY', `expected a 64-digit hex key, got ${JSON.stringify(p.key)}`)
    const key = p.key.toLowerCase()
    const gone = await this.pins.remove(key, p.path === undefined || p.path === null ? undefined : drivePath(p.path))
    if (gone.length === 0) throw HyperfsError.ENOENT(`no pin on ${p.path === undefined || p.path === null ? 'this drive' : drivePath(p.path)}`)
    const contentKey = gone.find((g) => g.contentKey)?.contentKey ?? null
    if (this.pins.list(key).length === 0 && !this.holds.has(key)) {
      if (contentKey) this.cache?.setPins(contentKey, new Bitfield())
    } else {
      await this.resolve(key, p.timeout).catch((err) => this.s.logger.warn(`pins of ${key}: ${err.message}`))
    }
    return { key, removed: gone.map(pinInfo), pins: this.pins.list(key).map(pinInfo) }
  }

  listPins (): unknown {
    return this.pins.list().map((p) => ({ key: p.key, ...pinInfo(p) }))
  }

  // A seeded drive is held whole (its blocks are not the cache's to evict)
  // until the returned function is called: when its seed ends (the seeding
  // client goes, or unseed ends a detached seed).
  async holdWhole (key: string): Promise<() => Promise<void>> {
    key = key.toLowerCase()
    this.holds.set(key, (this.holds.get(key) ?? 0) + 1)
    // only a cache evicts: without one there is nothing to hold against
    if (this.cache) await this.resolve(key, this.timeout).catch((err) => this.s.logger.warn(`pins of ${key}: ${err.message}`))
    let held = true
    return async () => {
      if (!held) return
      held = false
      const n = (this.holds.get(key) ?? 1) - 1
      if (n > 0) this.holds.set(key, n); else this.holds.delete(key)
      if (this.cache) await this.resolve(key, this.timeout).catch((err) => this.s.logger.warn(`pins of ${key}: ${err.message}`))
    }
  }

  // The blocks of drive `key`'s content its pins (and a seed's hold) keep,
  // at its latest version, handed to the cache. Null: nothing is pinned.
  private async resolve (key: string, timeout?: unknown): Promise<{ core: Hypercore, blocks: Bitfield } | null> {
    const pins = this.pins.list(key)
    const held = this.holds.has(key)
    if (pins.length === 0 && !held) {
      // nothing keeps its blocks any more (the last pin went, or the seed
      // that held it whole ended): they are the cache's again
      const was = this.resolved.get(key)
      if (was) this.cache?.setPins(was.core.key!.toString('hex'), new Bitfield())
      this.resolved.delete(key)
      return null
    }
    const drive = await this.s.api.open(key, undefined, timeout)
    const content = await contentOf(drive)
    if (!content) return null
    const contentKey = content.key!.toString('hex')
    await this.pins.setContentKey(key, contentKey)
    if (drive instanceof RoutedDrive) this.watch(key, drive)
    const blocks = new Bitfield({ maxPages: MAX_PIN_PAGES })
    const paths = held ? ['/'] : pins.map((p) => p.path)
    for (const path of paths) {
      try {
        await treeBlocks(drive, path, blocks, MAX_PIN_PAGES * PAGE_BITS)
      } catch (err) {
        if (!isHyperfsError(err, 'ENOENT', 'ENOTDIR')) throw err
        this.s.logger.warn(`pin ${key}${path}: ${err.message} (it keeps nothing until the path is back)`)
      }
    }
    this.cache?.setPins(contentKey, blocks)
    const r = { core: content, blocks }
    this.resolved.set(key, r)
    return r
  }

  // New versions of a pinned drive can name new content under a pinned
  // path: the pins are found again once the drive settles.
  private watch (key: string, drive: RoutedDrive): void {
    if (this.watched.has(key)) return
    this.watched.add(key)
    let timer: NodeJS.Timeout | null = null
    const md = drive.metadata
    const onappend = (): void => {
      if (timer) clearTimeout(timer)
      timer = setTimeout(() => {
        timer = null
        if (!this.pins.list(key).length && !this.holds.has(key)) return
        this.resolve(key, this.timeout).catch((err) => this.s.logger.warn(`pins of ${key}: ${err.message}`))
      }, PIN_REFRESH_MS)
      timer.unref()
    }
    md.on('append', onappend)
    md.once('close', () => {
      md.off('append', onappend)
      if (timer) clearTimeout(timer)
      this.watched.delete(key)
    })
  }

  // ---- info ----

  // The storage fields of `info`: bytes really held (each block at its
  // size), on disk, pinned, in the cache, and what gc would free. What needs
  // a walk of the drive's versions is counted only when its metadata is all
  // here (null otherwise): info never waits on peers for it.
  async info (p: Record<string, any>, base: Record<string, any>): Promise<Record<string, unknown>> {
    const drive = await this.s.api.open(p.key, undefined, p.timeout)
    const key = drive.key.toString('hex')
    const content = await contentOf(drive)
    const localBytes = content ? await content.heldBytes() : 0
    const byteLength = typeof base.byteLength === 'number' ? base.byteLength : content?.byteLength ?? 0
    const walkable = drive instanceof RoutedDrive && drive.historyIsLocal
    const pinned = this.resolved.get(key) ?? (walkable ? await this.resolve(key, p.timeout) : null)
    const pinnedBytes = pinned ? await heldIn(pinned.core, pinned.blocks) : 0
    let reclaimable: number | null = null
    if (!content) reclaimable = 0
    else if (walkable) {
      const plan = await gcPlan(drive, { keepVersions: 1, bound: content.length })
      if (pinned) for (const [s, e] of pinned.blocks.runs()) plan.free.setRange(s, e, false)
      reclaimable = await heldIn(content, plan.free)
    }
    const cached = this.cache && content && !content.writable ? Math.max(0, localBytes - pinnedBytes) : 0
    return {
      ...base,
      localBytes,
      percentLocal: byteLength === 0 ? 100 : Math.floor(1000 * localBytes / byteLength) / 10,
      diskBytes: await diskBytes(drive, content),
      pins: this.pins.list(key).map(pinInfo),
      pinnedBytes,
      reclaimable,
      cache: this.cache ? { ...this.cache.status(), drive: cached } : null,
      // the history budget, and what it last did to this drive (auto-gc.ts)
      autoGc: this.autoGc ? this.autoGc.status(key) : null
    }
  }
}

async function contentOf (drive: Drive): Promise<Hypercore | null> {
  if (!(drive instanceof RoutedDrive)) return null
  await drive.info() // opens the content core, when the drive has one
  return drive.content
}

async function diskBytes (drive: Drive, content: Hypercore | null): Promise<number> {
  const md = drive instanceof RoutedDrive ? await drive.metadata.diskBytes() : 0
  return md + (content ? await content.diskBytes() : 0)
}

// bytes of the blocks marked in `blocks` that `core` holds
async function heldIn (core: Hypercore, blocks: Bitfield): Promise<number> {
  let n = 0
  for (const [s, e] of [...blocks.runs(0, core.length)]) n += await core.heldBytes(s, e)
  return n
}

function pinInfo (p: Pin): { path: string, by: Pin['by'] } {
  return { path: p.path, by: p.by }
}

function drivePath (p: unknown): string {
  if (p === undefined || p === null || p === '') return '/'
  if (typeof p !== 'string') throw HyperfsError.BAD_ARGUMENT('a path must be a string')
  return '/' + p.split('/').filter((c) => c && c !== '.').join('/')
}
