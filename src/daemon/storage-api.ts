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
//        at the latest version stays out of the reader's cache (pin-list.ts),
//        and so does that of every drive mounted under it, at the version its
//        mount names; download pins what it fetches, and seed holds a drive
//        (its mounted drives too) while it runs.
//   cache { size }  sets the cap of the reader's cache (store/reader-cache.ts)
//   keep-history { size }  sets the history budget of the drives we write:
//        past it, gc runs by itself (auto-gc.ts)
import { RoutedDrive } from '../drive/routed-drive.js'
import type { DriveStore } from '../drive/drive-store.js'
import type { Drive, MountInfo } from '../drive/types.js'
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
import { clearFree, gcPlan, keepNewer, treeBlocks } from './live-blocks.js'
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
// drives a pin passes through, mount in mount: a hostile drive can nest them without end
const MAX_PIN_MOUNT_DEPTH = 32

// Content blocks kept, each content core's by its key (hex).
type Kept = Map<string, { core: Hypercore, blocks: Bitfield }>

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
  // what each pinned or held drive keeps, of its own content and of the
  // drives mounted under its pins, when last found: a content core's pins
  // are the union of what every such drive keeps of it
  private resolved = new Map<string, Kept>()
  // drives whose pins are not found yet since the start, with the content
  // cores they kept then (pin-list.ts): those stay whole until they are
  private unresolved = new Map<string, Set<string>>()
  private watched = new Map<string, Set<string>>() // drives whose new versions refresh the pins of these pinned drives
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
    for (const p of this.pins.list()) {
      const was = this.unresolved.get(p.key) ?? new Set<string>()
      for (const ck of [p.contentKey, ...p.mounted]) if (ck) was.add(ck)
      this.unresolved.set(p.key, was)
    }
    if (this.cache) {
      this.apply(this.unresolvedKeys())
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
      this.apply(this.unresolvedKeys())
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
      // (a drive that mounts this one at an old version can pin that version)
      await this.resolve(result.key, opts.timeout).catch(() => null)
      const pinned = this.keptOf(content)
      if (pinned) for (const [s, e] of pinned.blocks.runs()) plan.free.setRange(s, e, false)
      await keepNewer(drive, plan.latest, plan.free, bound)
      const r = await clearFree(drive, content, plan.free, bound, opts.signal)
      result.blocks = r.blocks
      result.bytes = r.bytes
      result.punched = r.punched
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
      pinned: async (key, content) => {
        await this.resolve(key, this.timeout)
        return this.keptOf(content)?.blocks ?? null
      }
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
    await this.pins.add({ key, path, contentKey: content?.key?.toString('hex') ?? null, mounted: [], by })
    const kept = await this.resolve(key, p.timeout)
    let pinnedBytes = 0
    if (kept) for (const r of kept.values()) pinnedBytes += await heldIn(r.core, r.blocks)
    return { key, path, by, pins: this.pins.list(key).map(pinInfo), pinnedBytes }
  }

  async unpin (p: Record<string, any>): Promise<unknown> {
    if (typeof p.key !== 'string' || !/^[0-9a-f]{64}$/i.test(p.key)) throw HyperfsError.from('BAD_KEY', `expected a 64-digit hex key, got ${JSON.stringify(p.key)}`)
    const key = p.key.toLowerCase()
    const gone = await this.pins.remove(key, p.path === undefined || p.path === null ? undefined : drivePath(p.path))
    if (gone.length === 0) throw HyperfsError.ENOENT(`no pin on ${p.path === undefined || p.path === null ? 'this drive' : drivePath(p.path)}`)
    await this.resolve(key, p.timeout).catch((err) => this.s.logger.warn(`pins of ${key}: ${err.message}`))
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

  // What drive `key`'s pins (or a seed's hold: all of it) keep at its latest
  // version, of its own content and of the drives mounted under them, handed
  // to the cache. Null: nothing is pinned.
  private async resolve (key: string, timeout?: unknown): Promise<Kept | null> {
    const pins = this.pins.list(key)
    const held = this.holds.has(key)
    if (pins.length === 0 && !held) {
      // nothing keeps its blocks any more (the last pin went, or the seed
      // that held it whole ended): they are the cache's again
      const was = this.resolved.get(key)
      const before = this.unresolved.get(key)
      this.resolved.delete(key)
      this.unresolved.delete(key)
      this.apply([...(was?.keys() ?? []), ...(before ?? [])])
      return null
    }
    const drive = await this.s.api.open(key, undefined, timeout)
    const kept: Kept = new Map()
    const content = await contentOf(drive)
    await this.keepUnder(key, drive, content, held ? ['/'] : pins.map((p) => p.path), kept, [key + '@'], timeout)
    const own = content?.key?.toString('hex') ?? null
    await this.pins.setContentKeys(key, own, [...kept.keys()].filter((ck) => ck !== own))
    const was = this.resolved.get(key)
    const before = this.unresolved.get(key)
    this.resolved.set(key, kept)
    this.unresolved.delete(key)
    this.apply([...(was?.keys() ?? []), ...(before ?? []), ...kept.keys()])
    return kept
  }

  // Marks in `kept` what `paths` of `drive` reference, and goes on into the
  // drives mounted there (at the version a mount names), each path that
  // passes through a mount as the path left inside it. A mount that closes a
  // cycle, nests too deep, or cannot be opened or walked (its drive is not
  // here and no peer has it) keeps nothing, and a warning says why: the
  // drive's own pins still hold. A raw core mounted as a file is not the
  // reader cache's.
  private async keepUnder (root: string, drive: Drive, content: Hypercore | null, paths: string[], kept: Kept, chain: string[], timeout: unknown): Promise<void> {
    let into = new Bitfield({ maxPages: MAX_PIN_PAGES })
    if (content) {
      const ck = content.key!.toString('hex')
      const k = kept.get(ck) ?? { core: content, blocks: into }
      kept.set(ck, k)
      into = k.blocks
    }
    if (drive instanceof RoutedDrive) this.watch(root, drive)
    const mounts: Array<{ mount: MountInfo, rest: string }> = []
    for (const path of paths) {
      try {
        await treeBlocks(drive, path, into, MAX_PIN_PAGES * PAGE_BITS, { onMount: (mount, rest) => mounts.push({ mount, rest }) })
      } catch (err) {
        if (!isHyperfsError(err, 'ENOENT', 'ENOTDIR')) throw err
        this.s.logger.warn(`pin ${root}${chain.length > 1 ? ' (in a mounted drive)' : ''} ${path}: ${err.message} (it keeps nothing until the path is back)`)
      }
    }
    for (const { mount, rest } of mounts) {
      if (mount.kind !== 'drive') continue
      const hex = mount.key.toString('hex')
      const id = hex + '@' + (mount.version ?? '')
      if (chain.includes(id)) continue // a cycle: that drive's pins are being found already
      if (chain.length > MAX_PIN_MOUNT_DEPTH) {
        this.s.logger.warn(`pin ${root}: a mount more than ${MAX_PIN_MOUNT_DEPTH} drives deep keeps nothing`)
        continue
      }
      // (what it kept before it failed stays kept)
      try {
        const inner = await this.s.api.open(hex, mount.version ?? undefined, timeout)
        await this.keepUnder(root, inner, await contentOf(inner), [rest], kept, [...chain, id], timeout)
      } catch (err) {
        this.s.logger.warn(`pin ${root}: the mounted drive ${hex}: ${(err as Error).message} (it keeps nothing more there until its pins are found again)`)
      }
    }
  }

  // What every pinned or held drive keeps of a content core (itself, or its
  // key in hex), or null.
  private keptOf (core: Hypercore | string): { core: Hypercore, blocks: Bitfield } | null {
    const ck = typeof core === 'string' ? core : core.key!.toString('hex')
    let out: { core: Hypercore, blocks: Bitfield } | null = null
    for (const kept of this.resolved.values()) {
      const k = kept.get(ck)
      if (!k) continue
      if (!out) out = { core: k.core, blocks: new Bitfield({ maxPages: MAX_PIN_PAGES }) }
      for (const [s, e] of k.blocks.runs()) out.blocks.setRange(s, e, true)
    }
    return out
  }

  // Tells the cache what is pinned now in each of these content cores: the
  // union of what the pinned drives keep of it, or all of it while a drive
  // that kept some at the last start is not found yet.
  private apply (contentKeys: Iterable<string>): void {
    if (!this.cache) return
    const whole = new Set(this.unresolvedKeys())
    for (const ck of new Set(contentKeys)) {
      if (whole.has(ck)) this.cache.setPins(ck, null)
      else this.cache.setPins(ck, this.keptOf(ck)?.blocks ?? new Bitfield())
    }
  }

  // the content cores kept whole until the drives that kept them are resolved
  private unresolvedKeys (): string[] {
    return [...this.unresolved.values()].flatMap((keys) => [...keys])
  }

  // New versions of a pinned drive, or of a drive mounted under a pin, can
  // name new content under a pinned path: the pins are found again once the
  // drive settles.
  private watch (root: string, drive: RoutedDrive): void {
    const key = drive.key.toString('hex')
    const roots = this.watched.get(key)
    if (roots) { roots.add(root); return }
    this.watched.set(key, new Set([root]))
    let timer: NodeJS.Timeout | null = null
    const md = drive.metadata
    const onappend = (): void => {
      if (timer) clearTimeout(timer)
      timer = setTimeout(() => {
        timer = null
        for (const r of this.watched.get(key) ?? []) {
          if (!this.pins.list(r).length && !this.holds.has(r)) { this.watched.get(key)?.delete(r); continue }
          this.resolve(r, this.timeout).catch((err) => this.s.logger.warn(`pins of ${r}: ${err.message}`))
        }
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
    if (!this.resolved.has(key) && walkable) await this.resolve(key, p.timeout)
    const pinned = content ? this.keptOf(content) : null
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
