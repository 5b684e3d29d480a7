// hypercore/alpha replication messages (docs/wire.md §6.1–6.2), byte-compatible with
// hypercore 11 lib/messages.js.
//
// The channel handshake is `uint flags (1 seeks) ‖ fixed32 capability`. Message
// types, in protomux registration order: 0 sync, 1 request, 2 cancel, 3 data,
// 4 noData, 5 want, 6 unwant, 7 bitfield, 8 range, 9 extension. Optional parts
// are announced by a leading flags uint and take zero bytes when absent, except
// the trailing optionals (noData flags+reason, want/unwant flags), which are read
// only when bytes remain. `request.block.index` is a block number; `hash.index`
// and every tree node index are flat-tree indexes.
//
// Decoders read from a State and do not check for trailing bytes, like protomux:
// decode one message per frame with `codec.decode(state(frame))` or
// `decode(codec, frame, true)`.
import { type Codec, type State } from './state.js'
import { uint, buffer, optionalBuffer, raw, fixed32, string, uint32array } from './primitives.js'
import { type TreeNode, treeNodeArray } from './tree-node.js'
import { type Manifest, manifest } from './manifest.js'

export type { TreeNode } from './tree-node.js'

function hasMore (s: State): boolean {
  return s.start < s.end
}

function bit (flags: number, b: number): boolean {
  return (flags & b) !== 0
}

// ---- channel open handshake

export interface Handshake {
  seeks: boolean
  capability: Buffer
}

export const handshake: Codec<Handshake> = {
  preencode (s, m) { uint.preencode(s, m.seeks ? 1 : 0); fixed32.preencode(s, m.capability) },
  encode (s, m) { uint.encode(s, m.seeks ? 1 : 0); fixed32.encode(s, m.capability) },
  decode (s) {
    const flags = uint.decode(s)
    // the channel keeps the capability; copy it out of the (possibly large) frame
    const capability = Buffer.from(fixed32.decode(s))
    return { seeks: bit(flags, 1), capability }
  }
}

// ---- 0 sync

export interface Sync {
  fork: number
  length: number
  remoteLength: number
  canUpgrade: boolean
  uploading: boolean
  downloading: boolean
  hasManifest: boolean
  allowPush: boolean
}

function syncFlags (m: Sync): number {
  return (m.canUpgrade ? 1 : 0) | (m.uploading ? 2 : 0) | (m.downloading ? 4 : 0) |
    (m.hasManifest ? 8 : 0) | (m.allowPush ? 16 : 0)
}

export const syncMessage: Codec<Sync> = {
  preencode (s, m) {
    uint.preencode(s, syncFlags(m))
    uint.preencode(s, m.fork)
    uint.preencode(s, m.length)
    uint.preencode(s, m.remoteLength)
  },
  encode (s, m) {
    uint.encode(s, syncFlags(m))
    uint.encode(s, m.fork)
    uint.encode(s, m.length)
    uint.encode(s, m.remoteLength)
  },
  decode (s) {
    const flags = uint.decode(s)
    const fork = uint.decode(s)
    const length = uint.decode(s)
    const remoteLength = uint.decode(s)
    return {
      fork,
      length,
      remoteLength,
      canUpgrade: bit(flags, 1),
      uploading: bit(flags, 2),
      downloading: bit(flags, 4),
      hasManifest: bit(flags, 8),
      allowPush: bit(flags, 16)
    }
  }
}

// ---- 1 request

export interface RequestBlock {
  index: number // block number for `block`, flat-tree index for `hash`
  nodes: number
}

export interface RequestSeek {
  bytes: number
  padding: number
}

export interface RequestUpgrade {
  start: number
  length: number
}

export interface Request {
  id: number
  fork: number
  block: RequestBlock | null
  hash: RequestBlock | null
  seek: RequestSeek | null
  upgrade: RequestUpgrade | null
  manifest: boolean
  priority: number // 0 normal, 1 high, 2 very high; written only when non-zero
}

function uintPair<T> (a: keyof T & string, b: keyof T & string): Codec<T> {
  return {
    preencode (s, v) { uint.preencode(s, v[a] as number); uint.preencode(s, v[b] as number) },
    encode (s, v) { uint.encode(s, v[a] as number); uint.encode(s, v[b] as number) },
    decode (s) {
      const x = uint.decode(s)
      const y = uint.decode(s)
      return { [a]: x, [b]: y } as T
    }
  }
}

export const requestBlock: Codec<RequestBlock> = uintPair<RequestBlock>('index', 'nodes')
export const requestSeek: Codec<RequestSeek> = uintPair<RequestSeek>('bytes', 'padding')
export const requestUpgrade: Codec<RequestUpgrade> = uintPair<RequestUpgrade>('start', 'length')

function requestFlags (m: Request): number {
  return (m.block ? 1 : 0) | (m.hash ? 2 : 0) | (m.seek ? 4 : 0) | (m.upgrade ? 8 : 0) |
    (m.manifest ? 16 : 0) | (m.priority ? 32 : 0)
}

export const requestMessage: Codec<Request> = {
  preencode (s, m) {
    uint.preencode(s, requestFlags(m))
    uint.preencode(s, m.id)
    uint.preencode(s, m.fork)
    if (m.block) requestBlock.preencode(s, m.block)
    if (m.hash) requestBlock.preencode(s, m.hash)
    if (m.seek) requestSeek.preencode(s, m.seek)
    if (m.upgrade) requestUpgrade.preencode(s, m.upgrade)
    if (m.priority) uint.preencode(s, m.priority)
  },
  encode (s, m) {
    uint.encode(s, requestFlags(m))
    uint.encode(s, m.id)
    uint.encode(s, m.fork)
    if (m.block) requestBlock.encode(s, m.block)
    if (m.hash) requestBlock.encode(s, m.hash)
    if (m.seek) requestSeek.encode(s, m.seek)
    if (m.upgrade) requestUpgrade.encode(s, m.upgrade)
    if (m.priority) uint.encode(s, m.priority)
  },
  decode (s) {
    const flags = uint.decode(s)
    const id = uint.decode(s)
    const fork = uint.decode(s)
    const block = bit(flags, 1) ? requestBlock.decode(s) : null
    const hash = bit(flags, 2) ? requestBlock.decode(s) : null
    const seek = bit(flags, 4) ? requestSeek.decode(s) : null
    const upgrade = bit(flags, 8) ? requestUpgrade.decode(s) : null
    const priority = bit(flags, 32) ? uint.decode(s) : 0
    return { id, fork, block, hash, seek, upgrade, manifest: bit(flags, 16), priority }
  }
}

// ---- 2 cancel

export interface Cancel {
  request: number
}

export const cancelMessage: Codec<Cancel> = {
  preencode (s, m) { uint.preencode(s, m.request) },
  encode (s, m) { uint.encode(s, m.request) },
  decode (s) { return { request: uint.decode(s) } }
}

// ---- 3 data

export interface DataBlock {
  index: number // block number
  value: Buffer
  nodes: TreeNode[]
}

export interface DataHash {
  index: number // flat-tree index
  nodes: TreeNode[]
}

export interface DataSeek {
  bytes: number
  nodes: TreeNode[]
}

export interface DataUpgrade {
  start: number
  length: number
  nodes: TreeNode[]
  additionalNodes: TreeNode[]
  // optionalBuffer: an empty buffer is written as `00` and so decodes as null
  signature: Buffer | null
}

export interface Data {
  request: number
  fork: number
  block: DataBlock | null
  hash: DataHash | null
  seek: DataSeek | null
  upgrade: DataUpgrade | null
  manifest: Manifest | null
}

export const dataBlock: Codec<DataBlock> = {
  preencode (s, b) { uint.preencode(s, b.index); buffer.preencode(s, b.value); treeNodeArray.preencode(s, b.nodes) },
  encode (s, b) { uint.encode(s, b.index); buffer.encode(s, b.value); treeNodeArray.encode(s, b.nodes) },
  decode (s) {
    const index = uint.decode(s)
    const value = buffer.decode(s) as Buffer
    const nodes = treeNodeArray.decode(s)
    return { index, value, nodes }
  }
}

export const dataHash: Codec<DataHash> = {
  preencode (s, h) { uint.preencode(s, h.index); treeNodeArray.preencode(s, h.nodes) },
  encode (s, h) { uint.encode(s, h.index); treeNodeArray.encode(s, h.nodes) },
  decode (s) {
    const index = uint.decode(s)
    const nodes = treeNodeArray.decode(s)
    return { index, nodes }
  }
}

export const dataSeek: Codec<DataSeek> = {
  preencode (s, k) { uint.preencode(s, k.bytes); treeNodeArray.preencode(s, k.nodes) },
  encode (s, k) { uint.encode(s, k.bytes); treeNodeArray.encode(s, k.nodes) },
  decode (s) {
    const bytes = uint.decode(s)
    const nodes = treeNodeArray.decode(s)
    return { bytes, nodes }
  }
}

export const dataUpgrade: Codec<DataUpgrade> = {
  preencode (s, u) {
    uint.preencode(s, u.start)
    uint.preencode(s, u.length)
    treeNodeArray.preencode(s, u.nodes)
    treeNodeArray.preencode(s, u.additionalNodes)
    optionalBuffer.preencode(s, u.signature)
  },
  encode (s, u) {
    uint.encode(s, u.start)
    uint.encode(s, u.length)
    treeNodeArray.encode(s, u.nodes)
    treeNodeArray.encode(s, u.additionalNodes)
    optionalBuffer.encode(s, u.signature)
  },
  decode (s) {
    const start = uint.decode(s)
    const length = uint.decode(s)
    const nodes = treeNodeArray.decode(s)
    const additionalNodes = treeNodeArray.decode(s)
    const signature = optionalBuffer.decode(s) as Buffer | null
    return { start, length, nodes, additionalNodes, signature }
  }
}

function dataFlags (m: Data): number {
  return (m.block ? 1 : 0) | (m.hash ? 2 : 0) | (m.seek ? 4 : 0) | (m.upgrade ? 8 : 0) | (m.manifest ? 16 : 0)
}

export const dataMessage: Codec<Data> = {
  preencode (s, m) {
    uint.preencode(s, dataFlags(m))
    uint.preencode(s, m.request)
    uint.preencode(s, m.fork)
    if (m.block) dataBlock.preencode(s, m.block)
    if (m.hash) dataHash.preencode(s, m.hash)
    if (m.seek) dataSeek.preencode(s, m.seek)
    if (m.upgrade) dataUpgrade.preencode(s, m.upgrade)
    if (m.manifest) manifest.preencode(s, m.manifest)
  },
  encode (s, m) {
    uint.encode(s, dataFlags(m))
    uint.encode(s, m.request)
    uint.encode(s, m.fork)
    if (m.block) dataBlock.encode(s, m.block)
    if (m.hash) dataHash.encode(s, m.hash)
    if (m.seek) dataSeek.encode(s, m.seek)
    if (m.upgrade) dataUpgrade.encode(s, m.upgrade)
    if (m.manifest) manifest.encode(s, m.manifest)
  },
  decode (s) {
    const flags = uint.decode(s)
    const request = uint.decode(s)
    const fork = uint.decode(s)
    const block = bit(flags, 1) ? dataBlock.decode(s) : null
    const hash = bit(flags, 2) ? dataHash.decode(s) : null
    const seek = bit(flags, 4) ? dataSeek.decode(s) : null
    const upgrade = bit(flags, 8) ? dataUpgrade.decode(s) : null
    const m = bit(flags, 16) ? manifest.decode(s) : null
    return { request, fork, block, hash, seek, upgrade, manifest: m }
  }
}

// ---- 4 noData

export const NO_DATA_REASON = { NONE: 0, NOT_AVAILABLE: 1, INVALID_REQUEST: 2 } as const

export interface NoData {
  request: number
  reason: number // 0 = no reason given
}

// Always written as `request ‖ flags ‖ [reason]`; a frame holding only `request`
// (older peers) decodes with reason 0.
export const noDataMessage: Codec<NoData> = {
  preencode (s, m) {
    uint.preencode(s, m.request)
    uint.preencode(s, m.reason ? 1 : 0)
    if (m.reason) uint.preencode(s, m.reason)
  },
  encode (s, m) {
    uint.encode(s, m.request)
    uint.encode(s, m.reason ? 1 : 0)
    if (m.reason) uint.encode(s, m.reason)
  },
  decode (s) {
    const request = uint.decode(s)
    const flags = hasMore(s) ? uint.decode(s) : 0
    const reason = bit(flags, 1) ? uint.decode(s) : 0
    return { request, reason }
  }
}

// ---- 5 want, 6 unwant

export interface Want {
  start: number
  length: number
  any: boolean
}

// The flags uint is written only when non-zero, and read only if bytes remain.
export const wantMessage: Codec<Want> = {
  preencode (s, m) {
    uint.preencode(s, m.start)
    uint.preencode(s, m.length)
    if (m.any) uint.preencode(s, 1)
  },
  encode (s, m) {
    uint.encode(s, m.start)
    uint.encode(s, m.length)
    if (m.any) uint.encode(s, 1)
  },
  decode (s) {
    const start = uint.decode(s)
    const length = uint.decode(s)
    const flags = hasMore(s) ? uint.decode(s) : 0
    return { start, length, any: bit(flags, 1) }
  }
}

export type Unwant = Want
export const unwantMessage: Codec<Unwant> = wantMessage

// ---- 7 bitfield

export interface Bitfield {
  start: number // a multiple of 32
  bitfield: Uint32Array // bit j of word w: block start + 32w + j
}

export const bitfieldMessage: Codec<Bitfield> = {
  preencode (s, m) { uint.preencode(s, m.start); uint32array.preencode(s, m.bitfield) },
  encode (s, m) { uint.encode(s, m.start); uint32array.encode(s, m.bitfield) },
  decode (s) {
    const start = uint.decode(s)
    const bitfield = uint32array.decode(s)
    return { start, bitfield }
  }
}

// ---- 8 range

export interface Range {
  drop: boolean
  start: number
  length: number
}

// flags: 1 drop, 2 "length is 1" (then the length is not written)
export const rangeMessage: Codec<Range> = {
  preencode (s, m) {
    uint.preencode(s, (m.drop ? 1 : 0) | (m.length === 1 ? 2 : 0))
    uint.preencode(s, m.start)
    if (m.length !== 1) uint.preencode(s, m.length)
  },
  encode (s, m) {
    uint.encode(s, (m.drop ? 1 : 0) | (m.length === 1 ? 2 : 0))
    uint.encode(s, m.start)
    if (m.length !== 1) uint.encode(s, m.length)
  },
  decode (s) {
    const flags = uint.decode(s)
    const start = uint.decode(s)
    const length = bit(flags, 2) ? 1 : uint.decode(s)
    return { drop: bit(flags, 1), start, length }
  }
}

// ---- 9 extension

export interface Extension {
  name: string // '' means the name of the last extension message sent
  message: Buffer // runs to the end of the frame
}

export const extensionMessage: Codec<Extension> = {
  preencode (s, m) { string.preencode(s, m.name); raw.preencode(s, m.message) },
  encode (s, m) { string.encode(s, m.name); raw.encode(s, m.message) },
  decode (s) {
    const name = string.decode(s)
    const message = raw.decode(s) as Buffer
    return { name, message }
  }
}

// ---- registration table

export const MESSAGE_TYPE = {
  SYNC: 0,
  REQUEST: 1,
  CANCEL: 2,
  DATA: 3,
  NO_DATA: 4,
  WANT: 5,
  UNWANT: 6,
  BITFIELD: 7,
  RANGE: 8,
  EXTENSION: 9
} as const

export interface HypercoreMessageMap {
  0: Sync
  1: Request
  2: Cancel
  3: Data
  4: NoData
  5: Want
  6: Unwant
  7: Bitfield
  8: Range
  9: Extension
}

export type HypercoreMessageType = keyof HypercoreMessageMap

// In message-type order, for registering `{ encoding, onmessage }` with the mux.
export const hypercoreMessages: readonly [
  Codec<Sync>, Codec<Request>, Codec<Cancel>, Codec<Data>, Codec<NoData>,
  Codec<Want>, Codec<Unwant>, Codec<Bitfield>, Codec<Range>, Codec<Extension>
] = [
  syncMessage,
  requestMessage,
  cancelMessage,
  dataMessage,
  noDataMessage,
  wantMessage,
  unwantMessage,
  bitfieldMessage,
  rangeMessage,
  extensionMessage
]

export const HYPERCORE_PROTOCOL = 'hypercore/alpha'
