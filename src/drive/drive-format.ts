// The contract between a drive format and the layer above it (routed-drive.ts).
// A format (the Hypertrie drive in hyperdrive.ts, the hyperdrive@13 drive in
// hyperdrive13.ts) knows its own entries only: paths arrive as component lists
// that the router has already normalised (drive-path.ts) and routed, so a
// format never sees a path that crosses a mount point, a symlink to follow,
// or the root where the root cannot be changed. Mount points are ordinary
// entries to a format (a Stat with `mount` set), plus a record that mountAt()
// finds; a format that cannot carry mounts finds none and refuses putMount.
//
// Errors are those of types.ts. A format checks what needs its own entries
// (EEXIST, ENOTDIR, ENOTEMPTY, EISDIR on a write over a folder) under its own
// write lock.
import type { Hypercore } from '../core/hypercore.js'
import type {
  DirEntry, DiffEntry, DriveInfo, FileReader, FilePatch, HistoryEntry, MountInfo, ReadOptions, Stat, WatchEvent, WriteOptions
} from './types.js'

export type DriveFormatName = 'hypertrie' | 'hyperdrive13'

export interface FetchFilesOptions {
  signal?: AbortSignal
  timeout: number // ms without a block before REQUEST_TIMEOUT
  onbytes: (bytes: number) => void // bytes of the files now held: first those already here, then each block as it arrives
}

export interface DriveFormat {
  readonly format: DriveFormatName
  readonly key: Buffer
  readonly discoveryKey: Buffer
  readonly writable: boolean
  readonly version: number
  // which drive and which version of it: key@version for a checkout, key@latest otherwise
  readonly id: string
  // the core whose key is the drive's key (the one peers are asked for first), and
  // the core of file bytes once it is known
  readonly metadata: Hypercore
  readonly content: Hypercore | null
  // Whether every version's entries, and all their Stats need, are held
  // here: a walk of the history then waits on no peer.
  readonly historyIsLocal: boolean

  ready (): Promise<void>
  close (): Promise<void>
  info (): Promise<DriveInfo>
  checkout (version: number): DriveFormat

  // ---- entries ----
  // The entry at comps, or null when there is none; ENOTDIR when a folder
  // above it is a file. The root ([]) is a folder that always exists.
  entry (comps: string[]): Promise<Stat | null>
  // The children of the folder at comps (the caller has checked it is one);
  // entries a drive cannot hold are skipped, with a warning.
  list (comps: string[]): AsyncIterable<DirEntry>
  // Every entry under the folder at comps, at any depth, mount points
  // included but not entered (for download).
  walk (comps: string[]): AsyncIterable<{ comps: string[], stat: Stat }>
  // Bytes [start, end) of the file whose entry is `stat`.
  chunks (stat: Stat, start: number, end: number, opts: ReadOptions): AsyncIterable<Buffer>
  openReader (stat: Stat): Promise<FileReader | null>
  // Fetches the content of these files (entries of this drive) from peers.
  fetchFiles (files: Stat[], opts: FetchFilesOptions): Promise<void>

  // ---- writes (comps is never the root) ----
  writeFile (comps: string[], data: Buffer | AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<void>
  truncate (comps: string[], size: number): Promise<void>
  // A change to part of a file (types.ts FilePatch); a format without extents has none.
  patchFile? (comps: string[], patch: FilePatch, opts: WriteOptions): Promise<void>
  mkdir (comps: string[], mode: number): Promise<void>
  rmdir (comps: string[]): Promise<void>
  unlink (comps: string[]): Promise<void>
  rename (from: string[], to: string[]): Promise<void>
  symlink (target: string, comps: string[]): Promise<void>
  // Changes the entry at comps (chmod, chown, utimes, xattrs) in one write.
  update (comps: string[], fn: (st: Stat) => Stat): Promise<void>

  // ---- mounts ----
  // The mount record at comps or closest above it, with the depth of its mount
  // point, or null.
  mountAt (comps: string[]): Promise<{ depth: number, mount: MountInfo } | null>
  putMount (comps: string[], mount: MountInfo): Promise<void> // EEXIST where an entry is
  delMount (comps: string[]): Promise<void> // EINVAL where no mount point is
  // The mount records; with local, only from blocks held here (no waiting for peers).
  mounts (opts?: { local?: boolean }): AsyncIterable<{ path: string, mount: MountInfo }>

  // ---- versions ----
  history (opts?: { gte?: number, lt?: number }): AsyncIterable<HistoryEntry>
  diff (from: number, to: number | undefined, prefix: string[]): AsyncIterable<DiffEntry>
  watch (comps: string[], opts: { signal?: AbortSignal }): AsyncIterable<WatchEvent>
}
