// The Drive interface: everything the FUSE layer (and the CLI) may ask of a
// drive. src/fuse imports only this file. A drive held in memory, one on disk,
// and one replicated from a peer all implement it and pass the same suites.
//
// Paths are POSIX-style and absolute ('/a/b'); implementations normalise '..',
// '//' and a trailing '/'. Errors are HyperfsError with codes ENOENT, ENOTDIR,
// EISDIR, ENOTEMPTY, EEXIST, EROFS, EINVAL, ELOOP, ENAMETOOLONG, INVALID_NAME
// (a NUL in a path), MOUNT_CYCLE and EOPNOTSUPP (from mount, on a format that
// holds no mounts), DECODE_ERROR (an entry its writer broke) and network codes such as
// REQUEST_TIMEOUT when content cannot be fetched in time. readdir lists only
// entries with valid names (see drive-path.ts); others are skipped.
import type { Readable, Writable } from 'node:stream'

export const S_IFMT = 0o170000
export const S_IFREG = 0o100000
export const S_IFDIR = 0o040000
export const S_IFLNK = 0o120000

export interface MountInfo {
  key: Buffer
  version: number | null // pinned version, or null to follow the latest
  kind: 'drive' | 'core'
}

// A run of a file's bytes: `length` bytes starting `skip` bytes into content
// block `offset`, over `blocks` blocks that are all the drive's block size but
// the last. A hole (blocks 0) is `length` zero bytes that store nothing.
export interface Extent {
  offset: number
  blocks: number
  skip: number
  length: number
}

export interface Stat {
  mode: number // file type bits (S_IF*) | permission bits
  uid: number
  gid: number
  size: number // bytes of the file (0 for directories)
  blocks: number // content blocks the file spans
  offset: number // first content block (0 when extents is set)
  byteOffset: number // byte offset of the file in the content core (0 when extents is set)
  // The file's bytes in order, when they are not the one run [offset, offset + blocks):
  // a file changed in place or appended to reuses the blocks it did not change.
  extents?: Extent[]
  // Content blocks that hold no file bytes but list the blocks that do (a
  // hyperdrive13 block map, whose entries are `extents`, one block each):
  // the file cannot be read without them.
  blockMap?: { offset: number, blocks: number }
  mtime: number // ms since the epoch
  ctime: number // ms since the epoch
  linkname: string | null // symlink target
  metadata: Record<string, Buffer> // xattrs, names without the "user." prefix
  mount: MountInfo | null
}

export interface DirEntry {
  name: string
  stat: Stat
}

export interface ReadOptions {
  start?: number
  length?: number
  signal?: AbortSignal
  timeout?: number
}

export interface WriteOptions {
  mode?: number
  uid?: number
  gid?: number
  mtime?: number
  metadata?: Record<string, Buffer>
}

// A change to a file, applied to its current content: bytes [0, keep) stay
// (keep is clamped to the file's size), [keep, size) become zeros, then each
// write lands at its offset (in order; all inside [0, size)).
export interface FilePatch {
  keep: number
  size: number
  writes: Array<{ offset: number, length: number, data: Buffer | AsyncIterable<Uint8Array> }>
}

export type DiffEntry =
  | { type: 'put', name: string, value: Stat, previous: Stat | null }
  | { type: 'del', name: string, previous: Stat }

export interface HistoryEntry {
  version: number
  type: 'put' | 'del'
  name: string
  value: Stat | null
}

export interface WatchEvent {
  version: number
  path: string
}

// One drive's part of a download: the drive the download names, or one
// mounted inside it (a raw core mounted as a file counts as a drive of one
// file). Sent to DownloadOptions.onprogress whenever it changes.
export interface DownloadStatus {
  path: string // where this drive's part begins, as a path of the drive download() was called on
  key: Buffer
  kind: 'drive' | 'core'
  files: number // files found so far (all of them from state 'fetching' on)
  bytes: number // bytes of those files held here
  total: number // bytes of those files
  state: 'listing' | 'fetching' | 'done' | 'failed'
  error: Error | null // why it failed: DRIVE_NOT_FOUND (no peer sent it), REQUEST_TIMEOUT (blocks stopped coming), ...
}

export interface DownloadOptions {
  signal?: AbortSignal
  timeout?: number // ms a drive may go without a block arriving before it fails with REQUEST_TIMEOUT
  onprogress?: (status: DownloadStatus) => void
}

export interface DriveInfo {
  key: Buffer
  discoveryKey: Buffer
  version: number
  writable: boolean
  contentKey: Buffer | null
  byteLength: number // bytes of all content
  localBytes: number // content bytes held on this machine
  peers: number
}

// A file opened for reading whose bytes can be copied straight into a
// caller's buffer when they are local (the FUSE read path uses it to skip
// every intermediate buffer). The file is as it was when opened.
export interface FileReader {
  readonly size: number
  // bytes copied into target[0..], or null when some are not local yet
  readInto (target: Buffer, position: number, length: number): number | null
}

export interface Drive {
  readonly key: Buffer
  readonly discoveryKey: Buffer
  readonly writable: boolean
  readonly version: number

  ready (): Promise<void>
  close (): Promise<void>
  info (): Promise<DriveInfo>

  // reading
  stat (path: string): Promise<Stat> // follows a final symlink
  lstat (path: string): Promise<Stat>
  readdir (path: string): AsyncIterable<DirEntry>
  read (path: string, opts?: ReadOptions): Promise<Buffer>
  openReader? (path: string): Promise<FileReader | null> // null: no fast path for this file
  // bytes start..end (inclusive, as fs.createReadStream) as they arrive; what
  // a layer above a drive reads through when it streams
  createReadStream (path: string, opts?: { start?: number, end?: number, signal?: AbortSignal, timeout?: number }): Readable
  readlink (path: string): Promise<string>
  getxattr (path: string, name: string): Promise<Buffer | null>
  listxattr (path: string): Promise<string[]>

  // writing (EROFS on a read-only drive or checkout)
  writeFile (path: string, data: Buffer | AsyncIterable<Uint8Array>, opts?: WriteOptions): Promise<void>
  createWriteStream (path: string, opts?: WriteOptions): Writable
  truncate (path: string, size: number): Promise<void>
  // Changes part of an existing file as one new version, storing only the
  // bytes written (a format without extents leaves it out; callers then
  // write the whole file).
  patchFile? (path: string, patch: FilePatch, opts?: WriteOptions): Promise<void>
  mkdir (path: string, opts?: { mode?: number }): Promise<void>
  rmdir (path: string): Promise<void>
  unlink (path: string): Promise<void>
  rename (from: string, to: string): Promise<void> // files or whole folders, one atomic batch
  symlink (target: string, path: string): Promise<void>
  chmod (path: string, mode: number): Promise<void>
  chown (path: string, uid: number, gid: number): Promise<void>
  utimes (path: string, atime: number, mtime: number): Promise<void>
  setxattr (path: string, name: string, value: Buffer): Promise<void>
  removexattr (path: string, name: string): Promise<void>

  // versions
  checkout (version: number): Drive // read-only view of the past
  history (opts?: { gte?: number, lt?: number }): AsyncIterable<HistoryEntry>
  diff (from: number, to?: number, prefix?: string): AsyncIterable<DiffEntry>
  watch (path?: string, opts?: { signal?: AbortSignal }): AsyncIterable<WatchEvent>

  // mounts
  mount (path: string, key: Buffer, opts?: { version?: number, kind?: 'drive' | 'core' }): Promise<void>
  unmount (path: string): Promise<void>
  mounts (): AsyncIterable<{ path: string, mount: MountInfo }>

  // Keeps the content `stat` names (an entry this drive, or a checkout of
  // it, gave for `path`: of any version) from gc until the returned function
  // is called: the base that a file open for writing reads its unwritten
  // bytes from (fuse/staged-file.ts). The stat may still be being looked up
  // (a promise; null: nothing to keep): the hold starts with the call.
  // retained() is what is kept now, for gc (daemon/live-blocks.ts), once
  // retainSettled() has resolved. A drive that never frees content has none.
  retain? (path: string, stat: Stat | Promise<Stat | null>): Promise<() => void>
  retained? (): Stat[]
  retainSettled? (): Promise<void>

  // Prefetch everything under a path (content included), mounted drives too.
  // A mounted drive that cannot be fetched does not stop the others: once
  // the rest is held, download rejects with DOWNLOAD_INCOMPLETE, naming the
  // drives that failed (onprogress has each one's error).
  download (path?: string, opts?: DownloadOptions): Promise<void>
}
