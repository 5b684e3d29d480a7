// The raw FUSE binding, kept apart from the filesystem logic (as go-fuse
// does). It adapts fuse-native's callback ops to a promise-based filesystem,
// and it guarantees three things for every op:
//   - the kernel gets exactly one answer,
//   - within a bounded time (an op that overruns answers EIO and is logged:
//     a FUSE request that never returns hangs the caller in D state),
//   - at once, with no promise or timer, when the filesystem answers
//     synchronously (a cached stat, read-ahead bytes already in memory):
//     those are most ops, and each costs a round trip through this thread,
//   - errors become errno only through toErrno() (errno.ts).
// fuse-native's own per-op timeout is off: it answers ETIMEDOUT, which
// programs do not expect from a file.
import Fuse from 'fuse-native'
import type { FuseOps, FuseStat } from 'fuse-native'
import { ERRNO, toErrno } from './errno.js'
import { clearStaleMount } from './stale-mount.js'
import { Deadlines } from './deadlines.js'
import type { Attr, Logger, Statfs } from './drive-filesystem.js'

// A value now, or later.
export type MaybePromise<T> = T | Promise<T>

// The filesystem this binding drives (DriveFilesystem). Ops on the hot paths
// may answer synchronously.
export interface FuseFilesystem {
  getattr (path: string): MaybePromise<Attr>
  readdir (path: string): Promise<string[]>
  readlink (path: string): Promise<string>
  access (path: string, mode: number): Promise<void>
  statfs (): Promise<Statfs>
  open (path: string, flags: number): Promise<number>
  create (path: string, mode: number): Promise<number>
  read (fh: number, target: Buffer, length: number, position: number): MaybePromise<number>
  write (fh: number, data: Buffer, position: number): Promise<number>
  ftruncate (fh: number, size: number): Promise<void>
  flush (fh: number): Promise<void>
  fsync (fh: number): Promise<void>
  release (fh: number): Promise<void>
  truncate (path: string, size: number): Promise<void>
  unlink (path: string): Promise<void>
  mkdir (path: string, mode: number): Promise<void>
  rmdir (path: string): Promise<void>
  rename (from: string, to: string): Promise<void>
  symlink (target: string, path: string): Promise<void>
  chmod (path: string, mode: number): Promise<void>
  chown (path: string, uid: number, gid: number): Promise<void>
  utimens (path: string, atime: number, mtime: number): Promise<void>
  getxattr (path: string, name: string): MaybePromise<Buffer | null>
  listxattr (path: string): Promise<string[]>
  setxattr (path: string, name: string, value: Buffer, flags: number): Promise<void>
  removexattr (path: string, name: string): Promise<void>
}

export interface FuseBindingOptions {
  mountpoint: string
  opTimeout: number // ms any op may take before it answers EIO
  commitTimeout: number // the same for flush/fsync/release, which upload a whole file
  kernelCache: boolean // let the kernel keep pages across opens (immutable content only)
  force: boolean // unmount whatever is mounted at mountpoint, even if it answers
  debug: boolean
}

// Options fuse-native has no name for. Without big_writes libfuse 2 splits
// every write into 4 KiB requests.
const EXTRA_MOUNT_OPTIONS = ['big_writes', 'max_write=131072']

class HyperfsFuse extends Fuse {
  protected override _fuseOptions (): string {
    const base = super._fuseOptions()
    const extra = EXTRA_MOUNT_OPTIONS.join(',')
    return base ? `${base},${extra}` : `-o${extra}`
  }

  // fuse-native copies an xattr value (or list) into the kernel's buffer
  // without checking its size, and reports the full length. Answer ERANGE
  // instead, as the xattr syscalls promise, so the caller asks again.
  protected override _op_getxattr (signal: (res: number, buf: ArrayBuffer) => void, path: string, name: string, valueBuf: Buffer, position: number): void {
    const ops = (this as unknown as { ops: FuseOps }).ops
    ops.getxattr!(path, name, position, (err, value) => {
      if (err) return signal(err, valueBuf.buffer as ArrayBuffer)
      if (!value) return signal(-ERRNO.ENODATA, valueBuf.buffer as ArrayBuffer)
      if (valueBuf.length === 0) return signal(value.length, valueBuf.buffer as ArrayBuffer)
      if (value.length > valueBuf.length) return signal(-ERRNO.ERANGE, valueBuf.buffer as ArrayBuffer)
      value.copy(valueBuf)
      signal(value.length, valueBuf.buffer as ArrayBuffer)
    })
  }

  protected override _op_listxattr (signal: (res: number, buf: ArrayBuffer) => void, path: string, listBuf: Buffer): void {
    const ops = (this as unknown as { ops: FuseOps }).ops
    ops.listxattr!(path, (err, list) => {
      if (err || !list) return signal(err || -ERRNO.EIO, listBuf.buffer as ArrayBuffer)
      const packed = Buffer.from(list.map((n) => n + '\0').join(''))
      if (listBuf.length === 0) return signal(packed.length, listBuf.buffer as ArrayBuffer)
      if (packed.length > listBuf.length) return signal(-ERRNO.ERANGE, listBuf.buffer as ArrayBuffer)
      packed.copy(listBuf)
      signal(packed.length, listBuf.buffer as ArrayBuffer)
    })
  }
}

export class FuseBinding {
  readonly #fs: FuseFilesystem
  readonly #log: Logger
  readonly #opts: FuseBindingOptions
  readonly #deadlines: Deadlines
  #fuse: HyperfsFuse | null = null

  constructor (services: { filesystem: FuseFilesystem, logger: Logger }, opts: FuseBindingOptions) {
    this.#fs = services.filesystem
    this.#log = services.logger
    this.#opts = opts
    // a tenth of the shortest timeout, so an overrun answers close to it
    this.#deadlines = new Deadlines({ tick: Math.max(10, Math.min(1000, Math.min(opts.opTimeout, opts.commitTimeout) / 10)) })
  }

  get mountpoint (): string {
    return this.#opts.mountpoint
  }

  async mount (): Promise<void> {
    if (this.#fuse) throw new Error('already mounted')
    if (await clearStaleMount(this.#opts.mountpoint, { force: this.#opts.force })) {
      this.#log.warn(`cleared a dead mount at ${this.#opts.mountpoint}`)
    }
    const fuse = new HyperfsFuse(this.#opts.mountpoint, this.#ops(), {
      timeout: false,
      fsname: 'hyperfs',
      subtype: 'hyperfs',
      kernelCache: this.#opts.kernelCache,
      debug: this.#opts.debug
    })
    await new Promise<void>((resolve, reject) => fuse.mount((err) => err ? reject(err) : resolve()))
    this.#fuse = fuse
  }

  async unmount (): Promise<void> {
    const fuse = this.#fuse
    if (!fuse) return
    this.#fuse = null
    try {
      await new Promise<void>((resolve, reject) => fuse.unmount((err) => err ? reject(err) : resolve()))
    } finally {
      this.#deadlines.clear()
    }
  }

  #ops (): FuseOps {
    const fs = this.#fs
    const op = this.#op.bind(this)
    const commit = this.#opts.commitTimeout
    return {
      init: (cb) => cb(0),
      getattr: (path, cb) => op('getattr', path, () => fs.getattr(path), (a) => cb(0, toFuseStat(a)), (e) => cb(e)),
      fgetattr: (path, _fd, cb) => op('fgetattr', path, () => fs.getattr(path), (a) => cb(0, toFuseStat(a)), (e) => cb(e)),
      readdir: (path, cb) => op('readdir', path, () => fs.readdir(path), (names) => cb(0, names), (e) => cb(e)),
      readlink: (path, cb) => op('readlink', path, () => fs.readlink(path), (target) => cb(0, target), (e) => cb(e)),
      access: (path, mode, cb) => op('access', path, () => fs.access(path, mode), () => cb(0), cb),
      statfs: (path, cb) => op('statfs', path, () => fs.statfs(), (s) => cb(0, s), (e) => cb(e)),
      open: (path, flags, cb) => op('open', path, () => fs.open(path, flags), (fh) => cb(0, fh), (e) => cb(e)),
      create: (path, mode, cb) => op('create', path, () => fs.create(path, mode), (fh) => cb(0, fh), (e) => cb(e)),
      read: (path, fd, buf, len, pos, cb) => op('read', path, () => fs.read(fd, buf, len, pos), cb, cb),
      write: (path, fd, buf, len, pos, cb) => op('write', path, () => fs.write(fd, buf.subarray(0, len), pos), cb, cb),
      ftruncate: (path, fd, size, cb) => op('ftruncate', path, () => fs.ftruncate(fd, size), () => cb(0), cb),
      flush: (path, fd, cb) => op('flush', path, () => fs.flush(fd), () => cb(0), cb, commit),
      fsync: (path, _datasync, fd, cb) => op('fsync', path, () => fs.fsync(fd), () => cb(0), cb, commit),
      release: (path, fd, cb) => op('release', path, () => fs.release(fd), () => cb(0), cb, commit),
      truncate: (path, size, cb) => op('truncate', path, () => fs.truncate(path, size), () => cb(0), cb, commit),
      unlink: (path, cb) => op('unlink', path, () => fs.unlink(path), () => cb(0), cb),
      mkdir: (path, mode, cb) => op('mkdir', path, () => fs.mkdir(path, mode), () => cb(0), cb),
      rmdir: (path, cb) => op('rmdir', path, () => fs.rmdir(path), () => cb(0), cb),
      rename: (from, to, cb) => op('rename', from, () => fs.rename(from, to), () => cb(0), cb, commit),
      symlink: (target, path, cb) => op('symlink', path, () => fs.symlink(target, path), () => cb(0), cb),
      chmod: (path, mode, cb) => op('chmod', path, () => fs.chmod(path, mode), () => cb(0), cb),
      chown: (path, uid, gid, cb) => op('chown', path, () => fs.chown(path, uid, gid), () => cb(0), cb),
      utimens: (path, atime, mtime, cb) => op('utimens', path, () => fs.utimens(path, atime, mtime), () => cb(0), cb),
      getxattr: (path, name, _pos, cb) => op('getxattr', path, () => fs.getxattr(path, name), (v) => cb(0, v), (e) => cb(e)),
      listxattr: (path, cb) => op('listxattr', path, () => fs.listxattr(path), (l) => cb(0, l), (e) => cb(e)),
      setxattr: (path, name, value, _pos, flags, cb) => op('setxattr', path, () => fs.setxattr(path, name, value, flags), () => cb(0), cb),
      removexattr: (path, name, cb) => op('removexattr', path, () => fs.removexattr(path, name), () => cb(0), cb)
    }
  }

  #op<T> (name: string, path: string, fn: () => MaybePromise<T>, ok: (v: T) => void, fail: (errno: number) => void, timeout = this.#opts.opTimeout): void {
    let result: MaybePromise<T>
    try {
      result = fn()
    } catch (err) {
      fail(toErrno(err, this.#log, `${name} ${path}`))
      return
    }
    if (!(result instanceof Promise)) {
      ok(result)
      return
    }
    let answered = false
    const cancel = this.#deadlines.add(timeout, () => {
      if (answered) return
      answered = true
      this.#log.error(`EIO ${name} ${path}: no result within ${timeout} ms`)
      fail(-ERRNO.EIO)
    })
    result.then((value) => {
      cancel()
      if (answered) return
      answered = true
      ok(value)
    }, (err: unknown) => {
      cancel()
      if (answered) return
      answered = true
      fail(toErrno(err, this.#log, `${name} ${path}`))
    })
  }
}

function toFuseStat (a: Attr): FuseStat {
  return {
    mode: a.mode,
    uid: a.uid,
    gid: a.gid,
    size: a.size,
    nlink: a.nlink,
    blksize: a.blksize,
    blocks: a.blocks,
    atime: a.atime,
    mtime: a.mtime,
    ctime: a.ctime
  }
}
