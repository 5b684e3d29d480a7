// A drive entry (the value of a trie node): POSIX-like stat of a file,
// directory, symlink or mount point.
//   uint flags (1 linkname, 2 xattrs, 4 mount) ‖ uint mode ‖ uint uid ‖ uint gid ‖
//   uint size ‖ uint blocks ‖ uint offset ‖ uint byteOffset ‖ uint mtime ‖ uint ctime ‖
//   [string linkname] ‖ [uint n ‖ n × (string name ‖ buffer value)] ‖ [driveMount]
// offset/blocks name the file's content blocks, byteOffset its first byte in
// the content core. Times are whole milliseconds since the epoch.
import { DecodeError } from './decode-error.js'
import { type Codec } from './state.js'
import { uint, string, buffer } from './primitives.js'
import { driveMount, type DriveMountRecord } from './drive-mount.js'

const MAX_XATTRS = 4096

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
}

function times (n: number): number {
  return Math.max(0, Math.floor(n))
}

export const driveStat: Codec<DriveStatRecord> = {
  preencode (s, st) {
    const names = Object.keys(st.metadata)
    uint.preencode(s, 7)
    for (const n of [st.mode, st.uid, st.gid, st.size, st.blocks, st.offset, st.byteOffset, times(st.mtime), times(st.ctime)]) uint.preencode(s, n)
    if (st.linkname !== null) string.preencode(s, st.linkname)
    if (names.length) {
      uint.preencode(s, names.length)
      for (const n of names) { string.preencode(s, n); buffer.preencode(s, st.metadata[n]) }
    }
    if (st.mount) driveMount.preencode(s, st.mount)
  },
  encode (s, st) {
    const names = Object.keys(st.metadata).sort()
    uint.encode(s, (st.linkname !== null ? 1 : 0) | (names.length ? 2 : 0) | (st.mount ? 4 : 0))
    for (const n of [st.mode, st.uid, st.gid, st.size, st.blocks, st.offset, st.byteOffset, times(st.mtime), times(st.ctime)]) uint.encode(s, n)
    if (st.linkname !== null) string.encode(s, st.linkname)
    if (names.length) {
      uint.encode(s, names.length)
      for (const n of names) { string.encode(s, n); buffer.encode(s, st.metadata[n]) }
    }
    if (st.mount) driveMount.encode(s, st.mount)
  },
  decode (s) {
    const flags = uint.decode(s)
    if (flags > 7) throw new DecodeError(`unknown stat flags ${flags}`)
    const [mode, uid, gid, size, blocks, offset, byteOffset, mtime, ctime] = Array.from({ length: 9 }, () => uint.decode(s))
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
    return { mode, uid, gid, size, blocks, offset, byteOffset, mtime, ctime, linkname, metadata, mount }
  }
}
