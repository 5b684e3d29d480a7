// A drive entry (the value of a trie node): POSIX-like stat of a file,
// directory, symlink or mount point.
//   uint flags (1 linkname, 2 xattrs, 4 mount) ‖ uint mode ‖ uint uid ‖ uint gid ‖
//   uint size ‖ uint blocks ‖ uint offset ‖ uint byteOffset ‖ uint mtime ‖ uint ctime ‖
//   [string linkname] ‖ [uint n ‖ n × (string name ‖ buffer value)] ‖ [driveMount]
// offset/blocks name the file's content blocks, byteOffset its first byte in
// the content core. Times are whole milliseconds since the epoch.
//
// Versioned entries (flag 8): `uint version` follows the flags, and the fields
// of that version follow the ones above. Version 1 adds the file's extents:
//   uint n ‖ n × (uint blocks ‖ [int offset delta ‖ uint skip] ‖ uint length)
// a hole has blocks 0 and no offset or skip; an offset is stored as the
// difference from where the previous data extent's blocks end (0 for the
// common case of blocks appended one after another).
// Entries that need no extents are written unversioned, so readers from
// before versions read them; those readers refuse flag 8 (DECODE_ERROR), and
// a reader refuses a version newer than STAT_VERSION the same way.
import { DecodeError } from './decode-error.js'
import { type Codec } from './state.js'
import { uint, int, string, buffer } from './primitives.js'
import { driveMount, type DriveMountRecord } from './drive-mount.js'

const MAX_XATTRS = 4096
export const STAT_VERSION = 1
const FLAG_VERSIONED = 8
// an entry is one trie value; more extents than this is a broken or hostile writer
export const MAX_EXTENTS_DECODED = 1 << 20

export interface ExtentRecord {
  offset: number
  blocks: number
  skip: number
  length: number
}

export interface DriveStatRecord {
  mode: number
  uid: number
  gid: number
  size: number
  blocks: number
  offset: number
  byteOffset: number
  mtime: number
  ctime: number
  linkname: string | null
  metadata: Record<string, Buffer>
  mount: DriveMountRecord | null
  extents?: ExtentRecord[]
}

const extentList: Codec<ExtentRecord[]> = {
  preencode (s, list) {
    uint.preencode(s, list.length)
    let next = 0
    for (const e of list) {
      uint.preencode(s, e.blocks)
      if (e.blocks > 0) { int.preencode(s, e.offset - next); uint.preencode(s, e.skip); next = e.offset + e.blocks }
      uint.preencode(s, e.length)
    }
  },
  encode (s, list) {
    uint.encode(s, list.length)
    let next = 0
    for (const e of list) {
      uint.encode(s, e.blocks)
      if (e.blocks > 0) { int.encode(s, e.offset - next); uint.encode(s, e.skip); next = e.offset + e.blocks }
      uint.encode(s, e.length)
    }
  },
  decode (s) {
    const n = uint.decode(s)
    if (n > MAX_EXTENTS_DECODED || n > s.end - s.start) throw new DecodeError(`${n} extents is over the limit`)
    const list: ExtentRecord[] = []
    let next = 0
    for (let i = 0; i < n; i++) {
      const blocks = uint.decode(s)
      let offset = 0
      let skip = 0
      if (blocks > 0) {
        offset = next + int.decode(s)
        if (offset < 0 || !Number.isSafeInteger(offset + blocks)) throw new DecodeError(`extent at block ${offset} is out of range`)
        skip = uint.decode(s)
        next = offset + blocks
      }
      list.push({ offset, blocks, skip, length: uint.decode(s) })
    }
    return list
  }
}

function times (n: number): number {
  return Math.max(0, Math.floor(n))
}

export const driveStat: Codec<DriveStatRecord> = {
  preencode (s, st) {
    const names = Object.keys(st.metadata)
    uint.preencode(s, 15)
    if (st.extents) uint.preencode(s, STAT_VERSION)
    for (const n of [st.mode, st.uid, st.gid, st.size, st.blocks, st.offset, st.byteOffset, times(st.mtime), times(st.ctime)]) uint.preencode(s, n)
    if (st.linkname !== null) string.preencode(s, st.linkname)
    if (names.length) {
      uint.preencode(s, names.length)
      for (const n of names) { string.preencode(s, n); buffer.preencode(s, st.metadata[n]) }
    }
    if (st.mount) driveMount.preencode(s, st.mount)
    if (st.extents) extentList.preencode(s, st.extents)
  },
  encode (s, st) {
    const names = Object.keys(st.metadata).sort()
    uint.encode(s, (st.linkname !== null ? 1 : 0) | (names.length ? 2 : 0) | (st.mount ? 4 : 0) | (st.extents ? FLAG_VERSIONED : 0))
    if (st.extents) uint.encode(s, STAT_VERSION)
    for (const n of [st.mode, st.uid, st.gid, st.size, st.blocks, st.offset, st.byteOffset, times(st.mtime), times(st.ctime)]) uint.encode(s, n)
    if (st.linkname !== null) string.encode(s, st.linkname)
    if (names.length) {
      uint.encode(s, names.length)
      for (const n of names) { string.encode(s, n); buffer.encode(s, st.metadata[n]) }
    }
    if (st.mount) driveMount.encode(s, st.mount)
    if (st.extents) extentList.encode(s, st.extents)
  },
  decode (s) {
    const flags = uint.decode(s)
    if (flags > 15) throw new DecodeError(`unknown stat flags ${flags}`)
    const version = flags & FLAG_VERSIONED ? uint.decode(s) : 0
    if (version > STAT_VERSION) throw new DecodeError(`entry format version ${version} is newer than this hyperfs reads (up to ${STAT_VERSION}); upgrade hyperfs`)
    // one by one, in this order (a listing decodes an entry per name)
    const mode = uint.decode(s)
    const uid = uint.decode(s)
    const gid = uint.decode(s)
    const size = uint.decode(s)
    const blocks = uint.decode(s)
    const offset = uint.decode(s)
    const byteOffset = uint.decode(s)
    const mtime = uint.decode(s)
    const ctime = uint.decode(s)
    const linkname = flags & 1 ? string.decode(s) : null
    const metadata: Record<string, Buffer> = Object.create(null)
    if (flags & 2) {
      const n = uint.decode(s)
      if (n > MAX_XATTRS || n > s.end - s.start) throw new DecodeError(`${n} xattrs is over the limit`)
      for (let i = 0; i < n; i++) {
        const name = string.decode(s)
        metadata[name] = Buffer.from(buffer.decode(s))
      }
    }
    const mount = flags & 4 ? driveMount.decode(s) : null
    const record: DriveStatRecord = { mode, uid, gid, size, blocks, offset, byteOffset, mtime, ctime, linkname, metadata, mount }
    if (version >= 1) record.extents = extentList.decode(s)
    return record
  }
}
