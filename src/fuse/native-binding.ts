// The native binding: our own N-API addon over libfuse3's low-level API
// (native/hyperfs_fuse.c), the raw protocol side as go-fuse keeps fuse/.
// The addon owns what must not wait for JS: the inode table (stable numbers
// per path, lookup counts, forget), later pages of a listing, xattr names the
// drive cannot hold, and a multithreaded session loop that hands every other
// request to this thread without blocking. Here each request becomes one or
// a few FuseRequests.call()s, and the answer goes back by request id.
//
// What libfuse 3 gives over fuse-native (libfuse 2):
//   - readdirplus: a listing carries every entry's attributes, so `ls -l`
//     asks nothing more per entry;
//   - entry and attribute timeouts, and invalidation (invalidate(),
//     invalidateEntry(), invalidateOnChange()) to tell the kernel when the
//     drive changed under it;
//   - pages kept across opens while a file's size, mtime and ctime are the
//     ones the kernel saw (a drive writes a new ctime with every change);
//   - setattr with UTIME_OMIT and UTIME_NOW (fuse-native passes the access
//     time as both times);
//   - requests up to 1 MiB;
//   - mount errors with errno and a reason.
// If the addon is not built or does not load, preferNative() falls back to
// the given binding and says so once.
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Attr, FuseBinding, FuseBindingFactory, FuseMountOptions, FuseRequests, Logger } from './api.js'
import type { Drive } from '../drive/types.js'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import { ERRNO } from './errno.js'

// Where `npm run build:native` puts the addon, from dist/src/fuse/.
const ADDON_URL = new URL('../../../native/build/hyperfs_fuse.node', import.meta.url)
// Seconds the kernel may keep a name and its attributes before it asks again
// (Attr.stability says which applies):
//   - content that may change unannounced (under a drive mounted in the
//     drive: its changes are not in our drive's watch()): a change shows
//     within ATTR_TIMEOUT;
//   - content whose every change is in the drive's watch(), while
//     invalidateOnChange() follows it: a change shows at once, through the
//     invalidation; WATCHED_TIMEOUT only bounds a change the watcher missed;
//   - content that cannot change (a past version, a mount with kernelCache):
//     FIXED_TIMEOUT.
// Each lookup or stat that the kernel answers from its cache is a round trip
// to this thread saved: `cat` of a cached file otherwise waits on a LOOKUP and
// a GETATTR once its entry is a second old.
const ENTRY_TIMEOUT = 1
const ATTR_TIMEOUT = 1
const WATCHED_TIMEOUT = 60
const FIXED_TIMEOUT = 3600
// Numbers per attribute record handed to the addon: the stat, then its timeout.
const ATTR_FIELDS = 11
// Read buffers kept for reuse; a read is at most the addon's MAX_WRITE.
const READ_POOL_SIZE = 16
// xattr namespaces a drive cannot hold, answered ENODATA by the addon
// without a hop to JS (`ls -l` asks every entry for security.selinux).
const XATTR_UNHELD = ['security.', 'system.', 'trusted.']
const S_IFDIR = 0o040000
const S_IFMT = 0o170000
const ENV_CHOICE = 'HYPERFS_FUSE'
// Folders above a removed entry checked for having vanished with it.
const MAX_FOLDER_DEPTH = 64

interface Constants {
  [name: string]: number
}

interface Addon {
  ops: Constants // request kinds the addon hands to JS
  constants: Constants
  mount (mountpoint: string, opts: object, dispatch: (op: number, ...args: any[]) => void): unknown
  unmount (h: unknown): Promise<void>
  notify (h: unknown, kind: 1 | 2, path: string, name: string | undefined, id: number): boolean
  stats (h: unknown): { inodes: number, pending: number }
  inodeOf (h: unknown, path: string): number
  replyErr (h: unknown, id: number, errno: number, hiddenName?: string): boolean
  replyEntry (h: unknown, id: number, attrs: Float64Array): boolean
  replyAttr (h: unknown, id: number, attrs: Float64Array): boolean
  replyOpen (h: unknown, id: number, fh: number, attrs?: Float64Array): boolean
  replyCreate (h: unknown, id: number, fh: number, attrs: Float64Array): boolean
  replyData (h: unknown, id: number, data: Buffer, length: number): boolean
  replyWrite (h: unknown, id: number, count: number): boolean
  replyReadlink (h: unknown, id: number, target: string): boolean
  replyStatfs (h: unknown, id: number, values: Float64Array): boolean
  replyXattr (h: unknown, id: number, value: Buffer | null): boolean
  replyDir (h: unknown, id: number, names: string, attrs: Float64Array): boolean
}

// What loading the addon gave, per file: a process loads it once, as
// require() would, and a failure is not retried.
const loaded = new Map<string, { addon: Addon } | { error: string }>()
// Loggers already told that the native binding is missing: once is enough.
const toldFallback = new WeakSet<Logger>()

// The addon, or why it cannot be had.
export function loadNativeAddon (file = fileURLToPath(ADDON_URL)): { addon: Addon } | { error: string } {
  let result = loaded.get(file)
  if (result) return result
  if (!existsSync(file)) {
    result = { error: `${file} is not built (npm run build:native; it needs libfuse3-dev and a C compiler)` }
  } else {
    try {
      result = { addon: createRequire(import.meta.url)(file) as Addon }
    } catch (err) {
      result = { error: `${file} does not load: ${(err as Error).message}` }
    }
  }
  loaded.set(file, result)
  return result
}

// The binding to mount with: the native one where its addon loads, unless
// HYPERFS_FUSE names the fallback (HYPERFS_FUSE=fuse-native). Tells the
// logger, once, why it falls back.
export function preferNative (fallback: FuseBindingFactory, logger: Logger, opts: { env?: NodeJS.ProcessEnv, addonFile?: string } = {}): FuseBindingFactory {
  const env = opts.env ?? process.env
  if (env[ENV_CHOICE] === fallback.name) return fallback
  const result = loadNativeAddon(opts.addonFile)
  if ('addon' in result) return nativeBinding
  if (!toldFallback.has(logger)) {
    toldFallback.add(logger)
    logger.warn(`FUSE runs on ${fallback.name}: the native libfuse3 binding is not available: ${result.error}`)
  }
  return fallback
}

// Tells the kernel to forget what it cached. Both resolve once the kernel
// has it, or at once when it cached nothing for the path.
export interface KernelCache {
  invalidate (path: string): Promise<void> // attributes and pages of path
  invalidateEntry (dir: string, name: string): Promise<void> // the name in dir (it appeared, went, or changed kind)
  // invalidateOnChange() starts (true) or stops (false) following the drive:
  // while one follows it, 'watched' content may stay cached long
  following? (on: boolean): void
}

export interface NativeBinding extends FuseBinding, KernelCache {
  // for tests: inodes the addon holds, requests waiting for JS, and the
  // kernel requests that reached JS, by op ('LOOKUP', 'READ', ...)
  stats (): { inodes: number, pending: number, requests: Record<string, number> }
  inodeOf (path: string): number // 0: the kernel holds none for it
}

export const nativeBinding: FuseBindingFactory = {
  name: 'libfuse3',
  // libfuse 3's setuid helper, for mounts by a user
  helper: 'fusermount3',
  create: (requests, opts, services) => new NativeFuseBinding(requests, opts, services)
}

class NativeFuseBinding implements NativeBinding {
  readonly #requests: FuseRequests
  readonly #opts: FuseMountOptions
  readonly #log: Logger
  // the addon's handle; kept after unmount, so late answers still find it
  #h: unknown = null
  #mounted = false
  #exited = false
  #unmounting = false
  readonly #notifications = new Map<number, () => void>()
  #nextNotification = 1
  readonly #readPool: Buffer[] = []
  readonly #scratch = new Float64Array(ATTR_FIELDS)
  #followers = 0 // invalidateOnChange() loops following the drive

  constructor (requests: FuseRequests, opts: FuseMountOptions, services: { logger: Logger }) {
    this.#requests = requests
    this.#opts = opts
    this.#log = services.logger
  }

  async mount (): Promise<void> {
    const result = loadNativeAddon()
    if ('error' in result) throw HyperfsError.from('FUSE_FAILED', `cannot mount at ${this.#opts.mountpoint}: ${result.error}`)
    if (this.#mounted) throw HyperfsError.from('FUSE_FAILED', `${this.#opts.mountpoint} is already mounted by this binding`)
    const addon = result.addon
    if (addon.constants.ATTR_FIELDS !== ATTR_FIELDS) {
      throw HyperfsError.from('FUSE_FAILED', `cannot mount at ${this.#opts.mountpoint}: the native addon is out of date (npm run build:native)`)
    }
    try {
      this.#h = addon.mount(this.#opts.mountpoint, {
        debug: this.#opts.debug,
        nonEmpty: this.#opts.nonEmpty,
        kernelCache: this.#opts.kernelCache,
        entryTimeout: ENTRY_TIMEOUT,
        attrTimeout: ATTR_TIMEOUT,
        negativeTimeout: 0,
        xattrUnheld: XATTR_UNHELD
      }, dispatcher(this, addon))
      this.#mounted = true
      this.#exited = false
    } catch (err) {
      const e = err as Error & { errno?: number, reason?: string }
      const failure = HyperfsError.from('FUSE_FAILED', e.message, err)
      Object.assign(failure, { errno: e.errno, reason: e.reason })
      throw failure
    }
  }

  async unmount (): Promise<void> {
    if (!this.#mounted) return
    this.#mounted = false
    const addon = (loadNativeAddon() as { addon: Addon }).addon
    this.#unmounting = true
    await addon.unmount(this.#h)
    // nothing will answer these any more; the kernel forgot it all anyway
    for (const done of this.#notifications.values()) done()
    this.#notifications.clear()
  }

  readonly requestCounts = new Map<number, number>()

  stats (): { inodes: number, pending: number, requests: Record<string, number> } {
    const addon = (loadNativeAddon() as { addon: Addon }).addon
    const requests: Record<string, number> = {}
    for (const [name, op] of Object.entries(addon.ops)) {
      const n = this.requestCounts.get(op)
      if (n) requests[name] = n
    }
    return { ...(this.#mounted ? addon.stats(this.#h) : { inodes: 0, pending: 0 }), requests }
  }

  inodeOf (path: string): number {
    const addon = (loadNativeAddon() as { addon: Addon }).addon
    return this.#mounted ? addon.inodeOf(this.#h, path) : 0
  }

  invalidate (path: string): Promise<void> {
    return this.#notify(1, path, undefined)
  }

  following (on: boolean): void {
    this.#followers += on ? 1 : -1
  }

  // Seconds the kernel may keep this name and these attributes.
  timeout (a: Attr): number {
    if (this.#opts.kernelCache || a.stability === 'fixed') return FIXED_TIMEOUT
    if (a.stability === 'watched' && this.#followers > 0) return WATCHED_TIMEOUT
    return ATTR_TIMEOUT
  }

  invalidateEntry (dir: string, name: string): Promise<void> {
    return this.#notify(2, dir, name)
  }

  #notify (kind: 1 | 2, path: string, name: string | undefined): Promise<void> {
    if (!this.#mounted || this.#exited) return Promise.resolve()
    const addon = (loadNativeAddon() as { addon: Addon }).addon
    const id = this.#nextNotification++
    if (!addon.notify(this.#h, kind, path, name, id)) return Promise.resolve()
    return new Promise<void>((resolve) => this.#notifications.set(id, resolve))
  }

  // ---- for the dispatcher

  get handle (): unknown {
    return this.#h
  }

  get requests (): FuseRequests {
    return this.#requests
  }

  get logger (): Logger {
    return this.#log
  }

  get scratch (): Float64Array {
    return this.#scratch
  }

  notified (id: number, errno: number): void {
    const done = this.#notifications.get(id)
    this.#notifications.delete(id)
    // the kernel not knowing the inode any more is not worth a line
    if (errno !== 0) this.#log.warn(`kernel cache invalidation ${id} failed: errno ${errno}`)
    done?.()
  }

  exited (): void {
    if (this.#exited || !this.#mounted) return
    this.#exited = true
    if (this.#unmounting) return
    this.#log.warn(`the kernel ended the session at ${this.#opts.mountpoint} (unmounted from outside?)`)
  }

  takeReadBuffer (size: number): Buffer {
    const buf = this.#readPool.pop()
    return buf && buf.length >= size ? buf : Buffer.allocUnsafeSlow(Math.max(size, 4096))
  }

  giveReadBuffer (buf: Buffer): void {
    if (this.#readPool.length < READ_POOL_SIZE) this.#readPool.push(buf)
  }
}

// Attributes into the Float64Array layout the addon reads (ATTR_FIELDS):
// the stat, then the seconds the kernel may keep it.
function pack (a: Attr, timeout: number, out: Float64Array, at = 0): Float64Array {
  out[at] = a.mode
  out[at + 1] = a.uid
  out[at + 2] = a.gid
  out[at + 3] = a.size
  out[at + 4] = a.nlink
  out[at + 5] = a.blksize
  out[at + 6] = a.blocks
  out[at + 7] = a.atime
  out[at + 8] = a.mtime
  out[at + 9] = a.ctime
  out[at + 10] = timeout
  return out
}

// Where a file unlinked or replaced while open lives on until its last
// release (libfuse's high-level API uses the same prefix).
function hiddenName (ino: number): string {
  return `.fuse_hidden${ino.toString(16).padStart(14, '0')}`
}

function sibling (path: string, name: string): string {
  const slash = path.lastIndexOf('/')
  return path.slice(0, slash + 1) + name
}

// A failure from the bridge is a negative errno; anything else is a bug here.
function errnoOf (err: unknown): number {
  return typeof err === 'number' && err < 0 ? -err : ERRNO.EIO
}

function dispatcher (b: NativeFuseBinding, addon: Addon): (op: number, ...args: any[]) => void {
  const C = { ...addon.ops, ...addon.constants }
  const r = b.requests
  const call = <T>(op: Parameters<FuseRequests['call']>[0], path: string, args: unknown[]): Promise<T> =>
    new Promise<T>((resolve, reject) => r.call(op, path, args as never, resolve as never, reject))
  const h = (): unknown => b.handle
  const fail = (id: number) => (e: number): void => { addon.replyErr(h(), id, -e) }
  const failAny = (id: number) => (err: unknown): void => {
    if (typeof err !== 'number') b.logger.error(`native binding: ${(err as Error)?.stack ?? String(err)}`)
    addon.replyErr(h(), id, errnoOf(err))
  }
  const entry = (id: number, path: string): void =>
    r.call('getattr', path, [path], (a) => { addon.replyEntry(h(), id, pack(a, b.timeout(a), b.scratch)) }, fail(id))

  const counts = b.requestCounts
  return function dispatch (op: number, id: number, path: string, a3?: any, a4?: any, a5?: any, a6?: any, a7?: any, a8?: any, a9?: any, a10?: any): void {
    counts.set(op, (counts.get(op) ?? 0) + 1)
    switch (op) {
      case C.LOOKUP:
        return entry(id, path)
      case C.GETATTR:
        return r.call('getattr', path, [path], (a) => { addon.replyAttr(h(), id, pack(a, b.timeout(a), b.scratch)) }, fail(id))
      case C.SETATTR:
        setattr(id, path, a3, a4, a5, a6, a7, a8, a9, a10).catch(failAny(id))
        return
      case C.READLINK:
        return r.call('readlink', path, [path], (target) => { addon.replyReadlink(h(), id, target) }, fail(id))
      case C.MKNOD:
        call<number>('create', path, [path, a3])
          .then((fh) => call('release', path, [fh]))
          .then(() => entry(id, path), failAny(id))
        return
      case C.MKDIR:
        return r.call('mkdir', path, [path, a3], () => entry(id, path), fail(id))
      case C.UNLINK:
        if (a3) {
          // open: hide it, and the last release removes it
          const hidden = hiddenName(a3)
          return r.call('rename', path, [path, sibling(path, hidden)], () => { addon.replyErr(h(), id, 0, hidden) }, fail(id))
        }
        return r.call('unlink', path, [path], () => { addon.replyErr(h(), id, 0) }, fail(id))
      case C.RMDIR:
        return r.call('rmdir', path, [path], () => { addon.replyErr(h(), id, 0) }, fail(id))
      case C.SYMLINK:
        return r.call('symlink', path, [a3, path], () => entry(id, path), fail(id))
      case C.RENAME:
        rename(id, path, a3, a4, a5).catch(failAny(id))
        return
      case C.OPEN:
        return r.call('open', path, [path, a3], (fh) => {
          // the attributes decide whether the kernel's pages of this file are still good
          r.call('getattr', path, [path], (a) => { addon.replyOpen(h(), id, fh, pack(a, b.timeout(a), b.scratch)) }, () => { addon.replyOpen(h(), id, fh) })
        }, fail(id))
      case C.READ: {
        const size = a4 as number
        const buf = b.takeReadBuffer(size)
        // on failure the buffer is dropped: a read that overran its deadline may still write into it
        return r.call('read', path, [a3, buf, size, a5], (n) => { addon.replyData(h(), id, buf, n); b.giveReadBuffer(buf) }, fail(id))
      }
      case C.WRITE:
        return r.call('write', path, [a3, a4, a5], (n) => { addon.replyWrite(h(), id, n) }, fail(id))
      case C.FLUSH:
        return r.call('flush', path, [a3], () => { addon.replyErr(h(), id, 0) }, fail(id))
      case C.RELEASE:
        return r.call('release', path, [a3], () => {
          if (a4 !== 1) return addon.replyErr(h(), id, 0)
          // the last handle of a file unlinked while open: now it goes
          r.call('unlink', path, [path], () => { addon.replyErr(h(), id, 0) }, () => { addon.replyErr(h(), id, 0) })
        }, fail(id))
      case C.FSYNC:
        return r.call('fsync', path, [a3], () => { addon.replyErr(h(), id, 0) }, fail(id))
      case C.READDIR:
        return r.call('readdir', path, [path], (names) => listing(id, path, names), fail(id))
      case C.STATFS:
        return r.call('statfs', path, [], (s) => {
          addon.replyStatfs(h(), id, Float64Array.of(s.bsize, s.frsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.favail, s.fsid, s.flag, s.namemax))
        }, fail(id))
      case C.SETXATTR:
        return r.call('setxattr', path, [path, a3, a4, a5], () => { addon.replyErr(h(), id, 0) }, fail(id))
      case C.GETXATTR:
        return r.call('getxattr', path, [path, a3], (v) => { addon.replyXattr(h(), id, v) }, fail(id))
      case C.LISTXATTR:
        return r.call('listxattr', path, [path], (names) => {
          addon.replyXattr(h(), id, Buffer.from(names.map((n) => n + '\0').join('')))
        }, fail(id))
      case C.REMOVEXATTR:
        return r.call('removexattr', path, [path, a3], () => { addon.replyErr(h(), id, 0) }, fail(id))
      case C.ACCESS:
        return r.call('access', path, [path, a3], () => { addon.replyErr(h(), id, 0) }, fail(id))
      case C.CREATE:
        return r.call('create', path, [path, a3], (fh) => {
          r.call('getattr', path, [path], (a) => { addon.replyCreate(h(), id, fh, pack(a, b.timeout(a), b.scratch)) }, (e) => {
            // created and opened, but it vanished at once: give the handle back
            r.call('release', path, [fh], () => {}, () => {})
            addon.replyErr(h(), id, -e)
          })
        }, fail(id))
      case C.NOTIFY_DONE:
        return b.notified(id, path as unknown as number)
      case C.EXIT:
        return b.exited()
      default:
        addon.replyErr(h(), id, ERRNO.ENOSYS)
    }
  }

  // chmod, chown, truncate and the times, in that order, then the new attributes.
  // A time left out (UTIME_OMIT) arrives as NaN and keeps its value.
  async function setattr (id: number, path: string, toSet: number, mode: number, uid: number, gid: number, size: number, atime: number, mtime: number, fh: number): Promise<void> {
    if (toSet & C.SET_ATTR_MODE) await call('chmod', path, [path, mode & 0o7777])
    if (toSet & (C.SET_ATTR_UID | C.SET_ATTR_GID)) await call('chown', path, [path, uid, gid])
    if (toSet & C.SET_ATTR_SIZE) {
      if (fh >= 0) await call('ftruncate', path, [fh, size])
      else await call('truncate', path, [path, size])
    }
    if (toSet & (C.SET_ATTR_ATIME | C.SET_ATTR_MTIME)) {
      if (Number.isNaN(atime) || Number.isNaN(mtime)) {
        const now = await call<Attr>('getattr', path, [path])
        if (Number.isNaN(atime)) atime = now.atime
        if (Number.isNaN(mtime)) mtime = now.mtime
      }
      await call('utimens', path, [path, atime, mtime])
    }
    const a = await call<Attr>('getattr', path, [path])
    addon.replyAttr(h(), id, pack(a, b.timeout(a), b.scratch))
  }

  async function rename (id: number, from: string, to: string, flags: number, openIno: number): Promise<void> {
    if (flags & C.RENAME_NOREPLACE) {
      const exists = await call('getattr', to, [to]).then(() => true, (e) => {
        if (e === -ERRNO.ENOENT) return false
        throw e
      })
      if (exists) {
        addon.replyErr(h(), id, ERRNO.EEXIST)
        return
      }
    }
    if (openIno) {
      // the file renamed over is open: its handles keep the old bytes under a hidden name
      const hidden = hiddenName(openIno)
      await call('rename', to, [to, sibling(to, hidden)])
      await call('rename', from, [from, to])
      addon.replyErr(h(), id, 0, hidden)
      return
    }
    await call('rename', from, [from, to])
    addon.replyErr(h(), id, 0)
  }

  // A listing with every entry's attributes (from the filesystem's stat
  // cache, filled by the listing itself, so mostly without waiting). An entry
  // gone by the time it is asked for is left out.
  function listing (id: number, dir: string, names: string[]): void {
    const attrs: (Attr | null)[] = new Array(names.length).fill(null)
    let pending = 1
    const done = (): void => {
      if (--pending > 0) return
      const kept: string[] = []
      const out = new Float64Array(names.length * ATTR_FIELDS)
      for (let i = 0; i < names.length; i++) {
        const a = attrs[i]
        if (!a) continue
        pack(a, b.timeout(a), out, kept.length * ATTR_FIELDS)
        kept.push(names[i])
      }
      addon.replyDir(h(), id, kept.join('/'), out.subarray(0, kept.length * ATTR_FIELDS))
    }
    const prefix = dir === '/' ? '/' : dir + '/'
    for (let i = 0; i < names.length; i++) {
      const name = names[i]
      if (name === '.' || name === '..') {
        attrs[i] = { mode: S_IFDIR, uid: 0, gid: 0, size: 0, nlink: 1, blksize: 0, blocks: 0, atime: 0, mtime: 0, ctime: 0 }
        continue
      }
      if (name === '' || name.includes('/')) continue
      pending++
      const path = prefix + name
      r.call('getattr', path, [path], (a) => { attrs[i] = a; done() }, () => done())
    }
    done()
  }
}

// Keeps the kernel's caches true to a drive that changes under the mount
// (another writer on this daemon, a peer's update): after each new version,
// every changed path has its attributes, pages and name dropped. Runs until
// the signal aborts or the drive stops changing.
export async function invalidateOnChange (drive: Drive, cache: KernelCache, opts: { signal: AbortSignal, logger: Logger }): Promise<void> {
  let seen = drive.version
  cache.following?.(true)
  try {
    for await (const event of drive.watch('/', { signal: opts.signal })) {
      const from = seen
      seen = event.version
      const pending: Promise<void>[] = []
      const emptied = new Set<string>() // folders that lost an entry
      const relisted = new Set<string>() // folders whose names changed
      for await (const change of drive.diff(from, event.version)) {
        const path = change.name
        const slash = path.lastIndexOf('/')
        const parent = parentOf(path)
        const before = change.previous
        const after = change.type === 'put' ? change.value : null
        // A new name needs no entry dropped: the kernel keeps no negative
        // entries (negativeTimeout 0). A name that went, or now holds another
        // kind of file, must leave the kernel's cache; but dropping a live
        // folder's entry would break getcwd() for a shell inside it, so a
        // changed entry of the same kind only loses its attributes and pages.
        // Either way a new or gone name changes its folder's listing, which
        // the kernel may hold (the addon's cache_readdir): the folder's pages
        // go too.
        if (before && after && (before.mode & S_IFMT) === (after.mode & S_IFMT)) pending.push(cache.invalidate(path))
        else {
          if (before) {
            pending.push(cache.invalidateEntry(parent, path.slice(slash + 1)))
            if (slash > 0) emptied.add(parent)
          }
          relisted.add(parent)
        }
      }
      // Those folders' listings go, and those of each folder above: a folder
      // may have appeared or gone with its first or last entry, with no
      // change of its own to name it (an implicit folder has no entry).
      for (const dir of [...relisted]) for (let d = dir; d !== '/';) { d = parentOf(d); relisted.add(d) }
      for (const dir of relisted) pending.push(cache.invalidate(dir))
      for (const dir of emptied) pending.push(dropVanishedFolders(drive, cache, dir))
      await Promise.all(pending)
    }
  } catch (err) {
    if (opts.signal.aborted) return
    safetyCatch(err)
    opts.logger.warn(`kernel cache invalidation stopped: ${(err as Error).message}`)
  } finally {
    cache.following?.(false)
  }
}

// The folder that holds `path` ('/' for a name at the top).
function parentOf (path: string): string {
  const slash = path.lastIndexOf('/')
  return slash <= 0 ? '/' : path.slice(0, slash)
}

// A format with implicit folders (Hyperdrive 10) has no entry of its own
// for a folder, so no change names it when its last file goes: the folder,
// and each one above it that went too, leaves the kernel's cache here.
async function dropVanishedFolders (drive: Drive, cache: KernelCache, dir: string): Promise<void> {
  for (let depth = 0; dir.length > 1 && depth < MAX_FOLDER_DEPTH; depth++) {
    const st = await drive.lstat(dir).catch((err: unknown) => {
      if (isHyperfsError(err, 'ENOENT', 'ENOTDIR')) return null
      throw err
    })
    if (st && (st.mode & S_IFMT) === S_IFDIR) return
    const parent = parentOf(dir)
    await cache.invalidateEntry(parent, dir.slice(dir.lastIndexOf('/') + 1))
    dir = parent
  }
}
