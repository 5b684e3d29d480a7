// On-disk formats of one core's folder (ours, not Hypercore's RocksDB layout).
//   header: written once when the core is created (tmp file + rename):
//     u32 magic ‖ uint version ‖ uint flags(1 secretKey, 2 manifest, 4 compat) ‖
//     fixed32 key ‖ fixed32 publicKey ‖ [fixed64 secretKey] ‖ [buffer manifest]
//   state: two 4 KiB slots, written alternately; each is
//     u32 payloadLength ‖ payload ‖ fixed32 checksum(H(payload))
//     payload = uint64 seq ‖ uint fork ‖ uint length ‖ uint byteLength ‖ buffer signature
//   bitfield, and a writer's dropped (made by its first clear): 4 KiB pages
//     of u32 little-endian words, bit i = block i, LSB first (core/bitfield.ts);
//     bitfield marks the blocks a replica holds, dropped the blocks a writer
//     gave back to the disk (it holds every other block below its length)
//   tree: 48-byte records at flat index · 48:
//     fixed32 hash ‖ uint64 size ‖ uint64 (leaves: byteOffset + 1, else 0)
//     an all-zero record is an absent node
//   checksums: 8-byte entries at block index · 8:
//     u32 CRC-32 of the block's bytes ‖ u32 (block length + 1), little-endian
//     an all-zero entry is an absent one (core/checksums.ts)
import { DecodeError } from './decode-error.js'
import { type Codec, state as makeState } from './state.js'
import { uint, uint32, uint64, fixed32, fixed64, buffer } from './primitives.js'

export const HEADER_MAGIC = 0x48594653 // "HYFS"
export const HEADER_VERSION = 1

export interface CoreHeader {
  key: Buffer
  publicKey: Buffer
  secretKey: Buffer | null
  manifest: Buffer | null // encoded manifest bytes
  compat: boolean
}

export const coreHeader: Codec<CoreHeader> = {
  preencode (s, h) {
    s.end += 4
    uint.preencode(s, HEADER_VERSION)
    uint.preencode(s, 0)
    s.end += 64
    if (h.secretKey) s.end += 64
    if (h.manifest) buffer.preencode(s, h.manifest)
  },
  encode (s, h) {
    uint32.encode(s, HEADER_MAGIC)
    uint.encode(s, HEADER_VERSION)
    uint.encode(s, (h.secretKey ? 1 : 0) | (h.manifest ? 2 : 0) | (h.compat ? 4 : 0))
    fixed32.encode(s, h.key)
    fixed32.encode(s, h.publicKey)
    if (h.secretKey) fixed64.encode(s, h.secretKey)
    if (h.manifest) buffer.encode(s, h.manifest)
  },
  decode (s) {
    if (uint32.decode(s) !== HEADER_MAGIC) throw new DecodeError('not a hyperfs core header')
    const version = uint.decode(s)
    if (version !== HEADER_VERSION) throw new DecodeError(`unsupported header version ${version}`)
    const flags = uint.decode(s)
    const key = Buffer.from(fixed32.decode(s))
    const publicKey = Buffer.from(fixed32.decode(s))
    const secretKey = flags & 1 ? Buffer.from(fixed64.decode(s)) : null
    const manifest = flags & 2 ? Buffer.from(buffer.decode(s)) : null
    return { key, publicKey, secretKey, manifest, compat: (flags & 4) !== 0 }
  }
}

export interface CoreState {
  seq: number
  fork: number
  length: number
  byteLength: number
  signature: Buffer
}

export const STATE_SLOT_SIZE = 4096
export const MAX_SIGNATURE = STATE_SLOT_SIZE - 128

export const coreState: Codec<CoreState> = {
  preencode (s, v) {
    s.end += 8
    uint.preencode(s, v.fork)
    uint.preencode(s, v.length)
    uint.preencode(s, v.byteLength)
    buffer.preencode(s, v.signature)
  },
  encode (s, v) {
    uint64.encode(s, v.seq)
    uint.encode(s, v.fork)
    uint.encode(s, v.length)
    uint.encode(s, v.byteLength)
    buffer.encode(s, v.signature)
  },
  decode (s) {
    const seq = uint64.decode(s)
    const fork = uint.decode(s)
    const length = uint.decode(s)
    const byteLength = uint.decode(s)
    const signature = Buffer.from(buffer.decode(s))
    return { seq, fork, length, byteLength, signature }
  }
}

export const TREE_RECORD_SIZE = 48

export interface TreeRecord {
  hash: Buffer
  size: number
  byteOffset: number | null
}

export function encodeTreeRecord (r: TreeRecord, out: Buffer, offset: number): void {
  const s = makeState(out, offset, offset + TREE_RECORD_SIZE)
  fixed32.encode(s, r.hash)
  uint64.encode(s, r.size)
  uint64.encode(s, r.byteOffset === null ? 0 : r.byteOffset + 1)
}

// null for an absent (all-zero) record
export function decodeTreeRecord (buf: Buffer, offset: number): TreeRecord | null {
  let zero = true
  for (let i = offset; i < offset + TREE_RECORD_SIZE; i++) if (buf[i] !== 0) { zero = false; break }
  if (zero) return null
  const s = makeState(buf, offset, offset + TREE_RECORD_SIZE)
  const hash = Buffer.from(fixed32.decode(s))
  const size = uint64.decode(s)
  const off = uint64.decode(s)
  return { hash, size, byteOffset: off === 0 ? null : off - 1 }
}

export const CHECKSUM_ENTRY_SIZE = 8
// the largest block an entry can describe (its length + 1 must fit a u32)
export const MAX_CHECKSUMMED_BLOCK = 0xffffffff - 1

export interface ChecksumEntry {
  crc: number
  length: number
}

export function encodeChecksumEntry (e: ChecksumEntry, out: Buffer, offset: number): void {
  const s = makeState(out, offset, offset + CHECKSUM_ENTRY_SIZE)
  uint32.encode(s, e.crc)
  uint32.encode(s, e.length + 1)
}

// null for an absent entry (length field 0); the CRC of an absent entry is not read
export function decodeChecksumEntry (buf: Buffer, offset: number): ChecksumEntry | null {
  const s = makeState(buf, offset, offset + CHECKSUM_ENTRY_SIZE)
  const crc = uint32.decode(s)
  const length = uint32.decode(s)
  return length === 0 ? null : { crc, length: length - 1 }
}
