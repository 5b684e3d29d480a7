// fuse-native ships no types. This declares the parts src/fuse/fuse-binding.ts
// uses. Callback conventions are the binding's own: for read/write the first
// argument is the byte count (or a negative errno); for getxattr it is the
// value; everywhere else it is 0 or a negative errno.
declare module 'fuse-native' {
  type Cb = (err: number) => void

  export interface FuseStat {
    mode: number
    uid: number
    gid: number
    size: number
    dev?: number
    nlink?: number
    ino?: number
    rdev?: number
    blksize?: number
    blocks?: number
    atime: number | Date
    mtime: number | Date
    ctime: number | Date
  }

  export interface FuseStatfs {
    bsize: number
    frsize: number
    blocks: number
    bfree: number
    bavail: number
    files: number
    ffree: number
    favail: number
    fsid: number
    flag: number
    namemax: number
  }

  export interface FuseOps {
    init?: (cb: Cb) => void
    access?: (path: string, mode: number, cb: Cb) => void
    statfs?: (path: string, cb: (err: number, statfs?: FuseStatfs) => void) => void
    getattr?: (path: string, cb: (err: number, stat?: FuseStat) => void) => void
    fgetattr?: (path: string, fd: number, cb: (err: number, stat?: FuseStat) => void) => void
    flush?: (path: string, fd: number, cb: Cb) => void
    fsync?: (path: string, datasync: number, fd: number, cb: Cb) => void
    fsyncdir?: (path: string, datasync: number, fd: number, cb: Cb) => void
    readdir?: (path: string, cb: (err: number, names?: string[], stats?: FuseStat[]) => void) => void
    truncate?: (path: string, size: number, cb: Cb) => void
    ftruncate?: (path: string, fd: number, size: number, cb: Cb) => void
    utimens?: (path: string, atime: number, mtime: number, cb: Cb) => void
    readlink?: (path: string, cb: (err: number, linkname?: string) => void) => void
    chown?: (path: string, uid: number, gid: number, cb: Cb) => void
    chmod?: (path: string, mode: number, cb: Cb) => void
    mknod?: (path: string, mode: number, dev: number, cb: Cb) => void
    setxattr?: (path: string, name: string, value: Buffer, position: number, flags: number, cb: Cb) => void
    getxattr?: (path: string, name: string, position: number, cb: (err: number, value?: Buffer | null) => void) => void
    listxattr?: (path: string, cb: (err: number, list?: string[]) => void) => void
    removexattr?: (path: string, name: string, cb: Cb) => void
    open?: (path: string, flags: number, cb: (err: number, fd?: number) => void) => void
    opendir?: (path: string, flags: number, cb: (err: number, fd?: number) => void) => void
    read?: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (bytesOrErr: number) => void) => void
    write?: (path: string, fd: number, buf: Buffer, len: number, pos: number, cb: (bytesOrErr: number) => void) => void
    release?: (path: string, fd: number, cb: Cb) => void
    releasedir?: (path: string, fd: number, cb: Cb) => void
    create?: (path: string, mode: number, cb: (err: number, fd?: number) => void) => void
    unlink?: (path: string, cb: Cb) => void
    rename?: (src: string, dest: string, cb: Cb) => void
    link?: (src: string, dest: string, cb: Cb) => void
    symlink?: (target: string, path: string, cb: Cb) => void
    mkdir?: (path: string, mode: number, cb: Cb) => void
    rmdir?: (path: string, cb: Cb) => void
  }

  export interface FuseOptions {
    // false disables the binding's own per-op timeout (it answers ETIMEDOUT)
    timeout?: number | false
    force?: boolean
    mkdir?: boolean
    debug?: boolean
    allowOther?: boolean
    autoUnmount?: boolean
    defaultPermissions?: boolean
    kernelCache?: boolean
    autoCache?: boolean
    fsname?: string
    subtype?: string
    maxRead?: number
    entryTimeout?: number
    attrTimeout?: number
  }

  class Fuse {
    constructor (mnt: string, ops: FuseOps, opts?: FuseOptions)
    readonly mnt: string
    mount (cb: (err: Error | null) => void): void
    unmount (cb: (err: Error | null) => void): void
    static unmount (mnt: string, cb: (err: Error | null) => void): void
    // the options string handed to libfuse ("-oa,b,c" or "")
    protected _fuseOptions (): string
    // the raw handlers behind getxattr/listxattr, which see the kernel's buffer
    protected _op_getxattr (signal: (res: number, buf: ArrayBuffer) => void, path: string, name: string, valueBuf: Buffer, position: number): void
    protected _op_listxattr (signal: (res: number, buf: ArrayBuffer) => void, path: string, listBuf: Buffer): void
  }

  export default Fuse
}
