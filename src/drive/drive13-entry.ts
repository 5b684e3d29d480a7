// hyperdrive@13 entries and keys (docs/hyperdrive13.md §3), and our POSIX
// view of them.
//   key   = "files" ‖ 0x00 ‖ UTF-8 path ('/a/b', no trailing slash)
//   value = JSON {"executable":bool,"linkname":string|null,"blob":id|null,"metadata":any}
//   blob id = {"blockOffset","byteOffset","blockLength","byteLength"[, "blockMap": true]},
//             absolute in the blobs core
// Folders are implicit in the format. Ours also have a marker: the key of the
// folder with a trailing slash ('/a/'), whose metadata holds the folder's mode
// and times. A real reader's readdir and entry() never see it (its folder
// range starts after '/a/', and paths are normalised without trailing
// slashes), so a folder made with mkdir survives, empty, and looks like any
// other folder to them.
//
// POSIX fields we write go in `metadata` (docs/hyperdrive13.md §4):
// mtime, ctime (ms), mode (permission bits), uid, gid, xattrs (name -> base64),
// and for a block map we write, mapSize {blockOffset, byteLength}: the file's
// size, so that an old version whose map gc freed still lists (recordedSize).
// Read back when present and well formed, defaults otherwise; a real app's
// other metadata keys are kept as they are when we change an entry.
import { HyperfsError } from '../errors.js'
import { hash, namespace } from '../crypto/index.js'
import type { Codec } from '../codec/state.js'
import { uint, array } from '../codec/primitives.js'
import { DecodeError } from '../codec/decode-error.js'
import type { Manifest } from '../codec/manifest.js'
import { statEntry } from './stat-entry.js'
import { type Stat, S_IFREG, S_IFDIR, S_IFLNK } from './types.js'

export const FILES_PREFIX = Buffer.from('files\0')
// the byte after '/': a folder's range ends before F ‖ '0'
const AFTER_SLASH = '0'
// bytes of one entry's JSON value we parse at most (a real entry is ~150 bytes)
export const MAX_ENTRY_BYTES = 64 * 1024
// blocks a block map may span (hyperblobs refuses more)
export const MAX_MAP_BLOCKS = 64
// entries of one block map block (hyperblobs writes at most this many per block)
export const MAX_MAP_ENTRIES = 8192

// hyperdrive's BLOBS namespace: namespace('hyperdrive', 1)[0]
export const BLOBS_NAMESPACE = namespace('hyperdrive', 1)[0]

export interface BlobId {
  blockOffset: number
  byteOffset: number
  blockLength: number
  byteLength: number
  blockMap?: true
}

export interface Drive13Entry {
  executable: boolean
  linkname: string | null
  blob: BlobId | null
  metadata: unknown // any JSON
}

// ---- keys ----

export function fileKey (comps: string[]): Buffer {
  return Buffer.concat([FILES_PREFIX, Buffer.from('/' + comps.join('/'))])
}

// The key of a folder's marker ('/a/'); the root has none.
export function markerKey (comps: string[]): Buffer {
  return Buffer.concat([FILES_PREFIX, Buffer.from('/' + comps.map((c) => c + '/').join(''))])
}

// The range of everything below a folder: (F/, F0) for F = '/a' ('' for the root).
export function folderRange (comps: string[]): { gt: Buffer, lt: Buffer } {
  const f = comps.length === 0 ? '' : '/' + comps.join('/')
  return { gt: Buffer.concat([FILES_PREFIX, Buffer.from(f + '/')]), lt: Buffer.concat([FILES_PREFIX, Buffer.from(f + AFTER_SLASH)]) }
}

// The path of a key under files\0, as its text after the prefix ('/a/b', or
// '/a/' for a marker); null for keys outside files\0.
export function keyPath (key: Buffer): string | null {
  if (key.byteLength < FILES_PREFIX.byteLength || !key.subarray(0, FILES_PREFIX.byteLength).equals(FILES_PREFIX)) return null
  return key.subarray(FILES_PREFIX.byteLength).toString()
}

// ---- the blobs core ----

// The blobs core's manifest, derived from the db core's (docs/hyperdrive13.md §1.2):
// the same signers and quorum, each signer's namespace H(BLOBS ‖ dbKey ‖ ns).
// Null for a manifest of version 0 (no derivation).
export function blobsManifest (db: Manifest, dbKey: Buffer): Manifest | null {
  if (db.version < 1) return null
  return {
    version: db.version,
    hash: 'blake2b',
    allowPatch: db.allowPatch,
    quorum: db.quorum,
    signers: db.signers.map((s) => ({ signature: s.signature, publicKey: s.publicKey, namespace: hash([BLOBS_NAMESPACE, dbKey, s.namespace]) })),
    prologue: null,
    linked: null,
    userData: null
  }
}

// ---- block maps (docs/hyperdrive13.md §5) ----

export interface MapEntry {
  index: number // an absolute blobs block, read whole
  byteLength: number
}

const mapEntry: Codec<MapEntry> = {
  preencode (s, e) { uint.preencode(s, e.index); uint.preencode(s, e.byteLength) },
  encode (s, e) { uint.encode(s, e.index); uint.encode(s, e.byteLength) },
  decode (s) { return { index: uint.decode(s), byteLength: uint.decode(s) } }
}

const mapEntries = array(mapEntry, MAX_MAP_ENTRIES)

// One block of a map: uint version (0) ‖ array of (uint index, uint byteLength).
export const blockMapBlock: Codec<MapEntry[]> = {
  preencode (s, entries) { uint.preencode(s, 0); mapEntries.preencode(s, entries) },
  encode (s, entries) { uint.encode(s, 0); mapEntries.encode(s, entries) },
  decode (s) {
    if (uint.decode(s) !== 0) throw new DecodeError('a block map of an unknown version')
    return mapEntries.decode(s)
  }
}

// ---- values ----

export function encodeEntry (e: Drive13Entry): Buffer {
  // the field order hyperdrive writes (docs/hyperdrive13.md §3.2)
  const blob = e.blob === null
    ? null
    : { blockOffset: e.blob.blockOffset, byteOffset: e.blob.byteOffset, blockLength: e.blob.blockLength, byteLength: e.blob.byteLength, ...(e.blob.blockMap ? { blockMap: true } : {}) }
  return Buffer.from(JSON.stringify({ executable: e.executable, linkname: e.linkname, blob, metadata: e.metadata ?? null }))
}

// A value as hyperdrive wrote it, checked: DECODE_ERROR for anything else.
export function decodeEntry (value: Buffer | null): Drive13Entry {
  if (value === null) throw HyperfsError.DECODE_ERROR('an entry with no value')
  if (value.byteLength > MAX_ENTRY_BYTES) throw HyperfsError.DECODE_ERROR(`an entry of ${value.byteLength} bytes (at most ${MAX_ENTRY_BYTES})`)
  let v: any
  try {
    v = JSON.parse(value.toString())
  } catch (err) {
    // a SyntaxError, or a RangeError for nesting deeper than the parser's stack
    throw HyperfsError.DECODE_ERROR('an entry that is not JSON: ' + (err as Error).message)
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw HyperfsError.DECODE_ERROR('an entry that is not a JSON object')
  const linkname = v.linkname ?? null
  if (linkname !== null && (typeof linkname !== 'string' || linkname.length === 0)) throw HyperfsError.DECODE_ERROR('an entry whose linkname is not a string')
  if (typeof linkname === 'string' && linkname.includes('\0')) throw HyperfsError.DECODE_ERROR('a symlink target with a NUL byte')
  return { executable: v.executable === true, linkname, blob: v.blob == null ? null : blobId(v.blob), metadata: v.metadata ?? null }
}

function blobId (b: any): BlobId {
  if (!b || typeof b !== 'object') throw HyperfsError.DECODE_ERROR('a blob id that is not an object')
  const n = (name: string): number => {
    const x = b[name]
    if (!Number.isSafeInteger(x) || x < 0) throw HyperfsError.DECODE_ERROR(`a blob id whose ${name} is not a whole number`)
    return x
  }
  const id: BlobId = { blockOffset: n('blockOffset'), byteOffset: n('byteOffset'), blockLength: n('blockLength'), byteLength: n('byteLength') }
  if (!Number.isSafeInteger(id.blockOffset + id.blockLength) || !Number.isSafeInteger(id.byteOffset + id.byteLength)) throw HyperfsError.DECODE_ERROR('a blob id past any core')
  if (b.blockMap === true) {
    if (id.blockLength > MAX_MAP_BLOCKS) throw HyperfsError.DECODE_ERROR(`a block map of ${id.blockLength} blocks (at most ${MAX_MAP_BLOCKS})`)
    id.blockMap = true
  }
  return id
}

// ---- the POSIX view ----

interface PosixFields {
  mtime?: number
  ctime?: number
  mode?: number
  uid?: number
  gid?: number
  xattrs?: Record<string, Buffer>
}

function posixFields (metadata: unknown): PosixFields {
  const out: PosixFields = {}
  if (!metadata || typeof metadata !== 'object' || Array.isArray(metadata)) return out
  const m = metadata as Record<string, unknown>
  const whole = (x: unknown, max: number) => Number.isSafeInteger(x) && (x as number) >= 0 && (x as number) <= max
  // a time an app wrote with a fraction of a ms is read to the ms
  const time = (x: unknown) => typeof x === 'number' && x >= 0 && x <= Number.MAX_SAFE_INTEGER ? Math.floor(x) : undefined
  const mtime = time(m.mtime)
  const ctime = time(m.ctime)
  if (mtime !== undefined) out.mtime = mtime
  if (ctime !== undefined) out.ctime = ctime
  if (whole(m.mode, 0o7777)) out.mode = m.mode as number
  if (whole(m.uid, 0xffffffff)) out.uid = m.uid as number
  if (whole(m.gid, 0xffffffff)) out.gid = m.gid as number
  if (m.xattrs && typeof m.xattrs === 'object' && !Array.isArray(m.xattrs)) {
    const x: Record<string, Buffer> = Object.create(null)
    for (const [name, v] of Object.entries(m.xattrs as Record<string, unknown>)) {
      if (typeof v === 'string' && name.length > 0) x[name] = Buffer.from(v, 'base64')
    }
    out.xattrs = x
  }
  return out
}

// The Stat of an entry. A block map's (its entries given by the caller) has
// the size of their sum, an extent per entry, and the map's own blocks in
// `blockMap`; offset, blocks and byteOffset stay the blob id's. Without its
// entries, a block map's Stat has the size recorded with it and no extents.
export function entryStat (e: Drive13Entry, map?: MapEntry[], recorded?: number): Stat {
  const p = posixFields(e.metadata)
  const common = { uid: p.uid ?? 0, gid: p.gid ?? 0, mtime: p.mtime ?? 0, ctime: p.ctime ?? p.mtime ?? 0, metadata: p.xattrs ?? Object.create(null) }
  if (e.linkname !== null) {
    return statEntry({ ...common, mode: S_IFLNK | 0o777, linkname: e.linkname, size: Buffer.byteLength(e.linkname) })
  }
  // `executable` is what real readers see: it decides the x bits
  let perm = p.mode ?? (e.executable ? 0o755 : 0o644)
  if (e.executable !== ((perm & 0o100) !== 0)) perm = e.executable ? perm | 0o111 : perm & ~0o111
  const b = e.blob
  const listed = b && map ? { extents: map.map((m) => ({ offset: m.index, blocks: 1, skip: 0, length: m.byteLength })) } : {}
  const mapped = b?.blockMap ? { blockMap: { offset: b.blockOffset, blocks: b.blockLength } } : {}
  return statEntry({
    ...common,
    mode: S_IFREG | perm,
    size: b ? (map ? map.reduce((n, m) => n + m.byteLength, 0) : b.blockMap && recorded !== undefined ? recorded : b.byteLength) : 0,
    blocks: b ? b.blockLength : 0,
    offset: b ? b.blockOffset : 0,
    byteOffset: b ? b.byteOffset : 0,
    ...listed,
    ...mapped
  })
}

// The size we recorded with a block map we wrote (withMapSize), or null: none,
// or one recorded for another blob (an app that copied our metadata).
export function recordedSize (e: Drive13Entry): number | null {
  const b = e.blob
  const m = e.metadata
  if (!b?.blockMap || !m || typeof m !== 'object' || Array.isArray(m)) return null
  const r = (m as Record<string, any>).mapSize
  if (!r || typeof r !== 'object' || r.blockOffset !== b.blockOffset) return null
  return Number.isSafeInteger(r.byteLength) && r.byteLength >= 0 ? r.byteLength : null
}

// `metadata` with the size of a file of `size` bytes recorded for its blob
// when that is a block map, and any older record taken out otherwise.
export function withMapSize (metadata: Record<string, unknown>, blob: BlobId | null, size: number): Record<string, unknown> {
  const out = { ...metadata }
  if (blob?.blockMap) out.mapSize = { blockOffset: blob.blockOffset, byteLength: size }
  else delete out.mapSize
  return out
}

// The Stat of a folder: from its marker's entry, or the defaults of an implicit one.
export function folderStat (marker: Drive13Entry | null): Stat {
  const p = marker ? posixFields(marker.metadata) : {}
  return statEntry({
    mode: S_IFDIR | (p.mode ?? 0o755),
    uid: p.uid ?? 0,
    gid: p.gid ?? 0,
    mtime: p.mtime ?? 0,
    ctime: p.ctime ?? p.mtime ?? 0,
    metadata: p.xattrs ?? Object.create(null)
  })
}

// The metadata to write for `st`, over what the entry held: our fields
// replaced, an app's other keys kept. EOPNOTSUPP where an app keeps metadata
// that is not an object (there is nowhere to put ours without losing it).
export function withPosix (previous: unknown, st: Stat): Record<string, unknown> {
  if (previous !== null && previous !== undefined && (typeof previous !== 'object' || Array.isArray(previous))) {
    throw HyperfsError.EOPNOTSUPP('this entry\'s metadata is not a JSON object: its POSIX fields cannot be kept there')
  }
  const out: Record<string, unknown> = { ...(previous as Record<string, unknown> | null) }
  // whole ms: utimensat(2) times come with ns, and a reader takes only whole numbers
  out.mtime = Math.floor(st.mtime)
  out.ctime = Math.floor(st.ctime)
  out.mode = st.mode & 0o7777
  out.uid = st.uid
  out.gid = st.gid
  const names = Object.keys(st.metadata)
  if (names.length > 0) {
    const x: Record<string, string> = {}
    for (const n of names.sort()) x[n] = st.metadata[n].toString('base64')
    out.xattrs = x
  } else {
    delete out.xattrs
  }
  return out
}
