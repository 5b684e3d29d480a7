// Hypercore's hashes and namespaces (BLAKE2b-256, u64 little-endian):
//   leaf   = H(0x00 ‖ u64 size ‖ data)
//   parent = H(0x01 ‖ u64 (sizeL+sizeR) ‖ left ‖ right), left = lower flat index
//   tree   = H(0x02 ‖ Σ roots (hash ‖ u64 index ‖ u64 size))
//   discoveryKey = H[key]("hypercore")
//   signable = TREE ‖ manifestHash ‖ treeHash ‖ u64 length ‖ u64 fork (compat: no manifestHash)
//   capability = H[handshakeHash](REPLICATE_{INITIATOR|RESPONDER} ‖ key)
//   manifestHash = H(MANIFEST ‖ encoded manifest)
import { hash, keyedHash, namespace } from './hash.js'

const [TREE, REPLICATE_INITIATOR, REPLICATE_RESPONDER, MANIFEST, DEFAULT_NAMESPACE, DEFAULT_ENCRYPTION] =
  namespace('hypercore', 6)

export const NS = { TREE, REPLICATE_INITIATOR, REPLICATE_RESPONDER, MANIFEST, DEFAULT_NAMESPACE, DEFAULT_ENCRYPTION }

export interface TreeNodeLike {
  index: number
  size: number
  hash: Uint8Array
}

const LEAF_TYPE = Buffer.from([0])
const PARENT_TYPE = 1
const ROOT_TYPE = Buffer.from([2])
const HYPERCORE = Buffer.from('hypercore')

function writeU64 (buf: Buffer, offset: number, n: number): void {
  buf.writeUInt32LE(n >>> 0, offset)
  buf.writeUInt32LE(Math.floor(n / 0x100000000), offset + 4)
}

export function leafHash (data: Uint8Array): Buffer {
  const size = Buffer.allocUnsafe(8)
  writeU64(size, 0, data.byteLength)
  return hash([LEAF_TYPE, size, data])
}

export function parentHash (a: TreeNodeLike, b: TreeNodeLike): Buffer {
  const [left, right] = a.index < b.index ? [a, b] : [b, a]
  const buf = Buffer.allocUnsafe(73)
  buf[0] = PARENT_TYPE
  writeU64(buf, 1, left.size + right.size)
  buf.set(left.hash, 9)
  buf.set(right.hash, 41)
  return hash(buf)
}

export function treeHash (roots: TreeNodeLike[]): Buffer {
  const buf = Buffer.allocUnsafe(1 + roots.length * 48)
  buf.set(ROOT_TYPE, 0)
  let o = 1
  for (const r of roots) {
    buf.set(r.hash, o)
    writeU64(buf, o + 32, r.index)
    writeU64(buf, o + 40, r.size)
    o += 48
  }
  return hash(buf)
}

export function discoveryKey (key: Uint8Array): Buffer {
  return keyedHash(key, HYPERCORE)
}

export function treeSignable (manifestHash: Uint8Array | null, tree: Uint8Array, length: number, fork: number): Buffer {
  const ctxLen = manifestHash ? 32 : 0
  const buf = Buffer.allocUnsafe(32 + ctxLen + 32 + 16)
  buf.set(TREE, 0)
  if (manifestHash) buf.set(manifestHash, 32)
  buf.set(tree, 32 + ctxLen)
  writeU64(buf, 64 + ctxLen, length)
  writeU64(buf, 72 + ctxLen, fork)
  return buf
}

export function manifestHash (encodedManifest: Uint8Array): Buffer {
  return hash([MANIFEST, encodedManifest])
}

export function replicationCapability (isInitiator: boolean, key: Uint8Array, handshakeHash: Uint8Array): Buffer {
  return keyedHash(handshakeHash, [isInitiator ? REPLICATE_INITIATOR : REPLICATE_RESPONDER, key])
}
