// The contracts of the FUSE layer, in three parts (go-fuse's split):
//   - FuseFilesystem: what the filesystem logic offers (DriveFilesystem), in
//     paths and numbers, throwing coded errors (go-fuse's fs/api.go);
//   - FuseRequests: what a binding may ask of the bridge (bridge.ts), which
//     wraps each call to the filesystem in the per-op rules and answers with
//     an errno (go-fuse's fs/bridge.go);
//   - FuseBinding / FuseBindingFactory: the raw kernel protocol side (go-fuse's
//     fuse/), which turns kernel requests into FuseRequests calls.
// Nothing above this file knows which binding serves a mount: FuseHost takes a
// factory, and only the factory knows its library.

// A value now, or later.
export type MaybePromise<T> = T | Promise<T>

export interface Logger {
  error (msg: string): void
  warn (msg: string): void
}

// What getattr hands to the binding; times in ms since the epoch.
export interface Attr {
  mode: number
  uid: number
  gid: number
  size: number
  nlink: number
  blksize: number
  blocks: number
  atime: number
  mtime: number
  ctime: number
  // How long a binding may let the kernel keep this (see native-binding.ts):
  // 'fixed' when it can never change (a past version), 'watched' when every
  // change to it shows in the drive's watch(); absent: it may change
  // without notice (a drive mounted inside the drive).
  stability?: 'fixed' | 'watched'
}

export interface Statfs {
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

// The filesystem a binding serves, through the bridge. Ops on the hot paths
// may answer synchronously (a cached stat, read-ahead bytes already in
// memory), which saves a promise per op.
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
  listxattr (path: string): MaybePromise<string[]>
  setxattr (path: string, name: string, value: Buffer, flags: number): Promise<void>
  removexattr (path: string, name: string): Promise<void>
}

export type FuseOp = keyof FuseFilesystem

// What one op of the filesystem answers, once settled.
export type FuseResult<K extends FuseOp> = Awaited<ReturnType<FuseFilesystem[K]>>

// What a binding calls for each kernel request. The bridge answers exactly
// once, through ok with the op's result or through fail with a negative
// errno; `path` names the request in logs.
export interface FuseRequests {
  call<K extends FuseOp> (op: K, path: string, args: Parameters<FuseFilesystem[K]>, ok: (value: FuseResult<K>) => void, fail: (errno: number) => void): void
}

export interface FuseMountOptions {
  mountpoint: string // absolute
  kernelCache: boolean // let the kernel keep pages across opens (immutable content only)
  nonEmpty: boolean // mount over a folder that has entries (they are hidden while mounted)
  debug: boolean // the library's debug output on stderr
}

export interface FuseBinding {
  // Rejects with FUSE_FAILED, saying why, when the kernel does not take the mount.
  mount (): Promise<void>
  unmount (): Promise<void>
}

export interface FuseBindingFactory {
  readonly name: string // for logs: which library serves the mount
  // the setuid helper the library mounts (for a user) and unmounts with,
  // checked before mounting so that its absence has a clear message
  readonly helper: string
  create (requests: FuseRequests, opts: FuseMountOptions, services: { logger: Logger }): FuseBinding
}
