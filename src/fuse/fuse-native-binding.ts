// The fuse-native binding (libfuse 2, through the fuse-native addon): the raw
// protocol side, kept apart from the filesystem logic as go-fuse keeps fuse/.
// It only translates: each fuse-native callback op becomes one
// FuseRequests.call(), and the answer goes back in fuse-native's callback
// conventions. The per-op rules (one answer, a deadline, the synchronous fast
// path, errno mapping) are the bridge's, the same for every binding.
// fuse-native's own per-op timeout is off: it answers ETIMEDOUT, which
// programs do not expect from a file.
import Fuse from 'fuse-native'
import type { FuseOps, FuseOptions, FuseStat } from 'fuse-native'
import type { Attr, FuseBinding, FuseBindingFactory, FuseMountOptions, FuseRequests } from './api.js'
import { ERRNO } from './errno.js'
import { HyperfsError } from '../errors.js'

// Options fuse-native has no name for. Without big_writes libfuse 2 splits
// every write into 4 KiB requests. Without atomic_o_trunc the kernel strips
// O_TRUNC from open and sends truncate(path, 0) instead, which the filesystem
// cannot tell from truncate(2): it would commit the emptied file at once, and
// a save that then fails would leave it empty.
const EXTRA_MOUNT_OPTIONS = ['big_writes', 'max_write=131072', 'atomic_o_trunc']
const NONEMPTY_OPTION = 'nonempty'

class HyperfsFuse extends Fuse {
  readonly #extra: string[]

  constructor (mnt: string, ops: FuseOps, opts: FuseOptions, extra: string[]) {
    super(mnt, ops, opts)
    this.#extra = extra
  }

  protected override _fuseOptions (): string {
    const base = super._fuseOptions()
    const extra = this.#extra.join(',')
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

class FuseNativeBinding implements FuseBinding {
  readonly #requests: FuseRequests
  readonly #opts: FuseMountOptions
  #fuse: HyperfsFuse | null = null

  constructor (requests: FuseRequests, opts: FuseMountOptions) {
    this.#requests = requests
    this.#opts = opts
  }

  async mount (): Promise<void> {
    if (this.#fuse) throw HyperfsError.from('FUSE_FAILED', `${this.#opts.mountpoint} is already mounted by this binding`)
    const extra = this.#opts.nonEmpty ? [...EXTRA_MOUNT_OPTIONS, NONEMPTY_OPTION] : EXTRA_MOUNT_OPTIONS
    const fuse = new HyperfsFuse(this.#opts.mountpoint, this.#ops(), {
      timeout: false,
      fsname: 'hyperfs',
      subtype: 'hyperfs',
      kernelCache: this.#opts.kernelCache,
      debug: this.#opts.debug
    }, extra)
    try {
      await new Promise<void>((resolve, reject) => fuse.mount((err) => err ? reject(err) : resolve()))
    } catch (err) {
      // fuse-native says only "fuse failed"; libfuse printed its reason on
      // stderr. FuseHost checked what it could before, so say where to look.
      throw HyperfsError.from('FUSE_FAILED', `cannot mount at ${this.#opts.mountpoint}: fuse-native: ${(err as Error).message} (libfuse printed the reason on stderr)`, err)
    }
    this.#fuse = fuse
  }

  async unmount (): Promise<void> {
    const fuse = this.#fuse
    if (!fuse) return
    this.#fuse = null
    await new Promise<void>((resolve, reject) => fuse.unmount((err) => err ? reject(err) : resolve()))
  }

  #ops (): FuseOps {
    const r = this.#requests
    return {
      init: (cb) => cb(0),
      getattr: (path, cb) => r.call('getattr', path, [path], (a) => cb(0, toFuseStat(a)), cb),
      fgetattr: (path, _fd, cb) => r.call('getattr', path, [path], (a) => cb(0, toFuseStat(a)), cb),
      readdir: (path, cb) => r.call('readdir', path, [path], (names) => cb(0, names), cb),
      readlink: (path, cb) => r.call('readlink', path, [path], (target) => cb(0, target), cb),
      access: (path, mode, cb) => r.call('access', path, [path, mode], () => cb(0), cb),
      statfs: (path, cb) => r.call('statfs', path, [], (s) => cb(0, s), cb),
      open: (path, flags, cb) => r.call('open', path, [path, flags], (fh) => cb(0, fh), cb),
      create: (path, mode, cb) => r.call('create', path, [path, mode], (fh) => cb(0, fh), cb),
      read: (path, fd, buf, len, pos, cb) => r.call('read', path, [fd, buf, len, pos], cb, cb),
      write: (path, fd, buf, len, pos, cb) => r.call('write', path, [fd, buf.subarray(0, len), pos], cb, cb),
      ftruncate: (path, fd, size, cb) => r.call('ftruncate', path, [fd, size], () => cb(0), cb),
      flush: (path, fd, cb) => r.call('flush', path, [fd], () => cb(0), cb),
      fsync: (path, _datasync, fd, cb) => r.call('fsync', path, [fd], () => cb(0), cb),
      release: (path, fd, cb) => r.call('release', path, [fd], () => cb(0), cb),
      truncate: (path, size, cb) => r.call('truncate', path, [path, size], () => cb(0), cb),
      unlink: (path, cb) => r.call('unlink', path, [path], () => cb(0), cb),
      mkdir: (path, mode, cb) => r.call('mkdir', path, [path, mode], () => cb(0), cb),
      rmdir: (path, cb) => r.call('rmdir', path, [path], () => cb(0), cb),
      rename: (from, to, cb) => r.call('rename', from, [from, to], () => cb(0), cb),
      symlink: (target, path, cb) => r.call('symlink', path, [target, path], () => cb(0), cb),
      chmod: (path, mode, cb) => r.call('chmod', path, [path, mode], () => cb(0), cb),
      chown: (path, uid, gid, cb) => r.call('chown', path, [path, uid, gid], () => cb(0), cb),
      utimens: (path, atime, mtime, cb) => r.call('utimens', path, [path, atime, mtime], () => cb(0), cb),
      getxattr: (path, name, _pos, cb) => r.call('getxattr', path, [path, name], (v) => cb(0, v), cb),
      listxattr: (path, cb) => r.call('listxattr', path, [path], (l) => cb(0, l), cb),
      setxattr: (path, name, value, _pos, flags, cb) => r.call('setxattr', path, [path, name, value, flags], () => cb(0), cb),
      removexattr: (path, name, cb) => r.call('removexattr', path, [path, name], () => cb(0), cb)
    }
  }
}

export const fuseNativeBinding: FuseBindingFactory = {
  name: 'fuse-native',
  // libfuse 2's helper; fuse-native unmounts with it even as root
  helper: 'fusermount',
  create: (requests, opts) => new FuseNativeBinding(requests, opts)
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
