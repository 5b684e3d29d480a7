// Seeded random values for every codec, shared by the codec fuzz tests and the
// interop tests. Values are canonical: decode(encode(v)) deep-equals v.
import type {
  TreeNode, Manifest, ManifestSigner, MultiSignature, MultiSignatureV0,
  Handshake, Sync, Request, RequestBlock, RequestSeek, RequestUpgrade, Cancel,
  Data, DataBlock, DataHash, DataSeek, DataUpgrade, NoData, Want, Bitfield, Range, Extension
} from '../../src/codec/index.js'

// mulberry32: small, fast and reproducible from a 32-bit seed
export class Rng {
  private s: number
  constructor (seed: number) { this.s = seed >>> 0 }

  next (): number {
    let t = (this.s = (this.s + 0x6d2b79f5) >>> 0)
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }

  int (n: number): number { return Math.floor(this.next() * n) }
  bool (): boolean { return this.next() < 0.5 }
  chance (p: number): boolean { return this.next() < p }
  pick<T> (xs: readonly T[]): T { return xs[this.int(xs.length)] }

  bytes (n: number): Buffer {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }

  // biased towards the varint boundaries
  uint (): number {
    if (this.chance(0.3)) return this.pick(UINT_EDGES)
    const bits = this.int(54)
    const hi = Math.floor(this.next() * 2 ** Math.max(0, bits - 32))
    const lo = this.int(2 ** Math.min(32, bits))
    return Math.min(hi * 2 ** 32 + lo, Number.MAX_SAFE_INTEGER)
  }

  small (): number { return this.chance(0.8) ? this.int(253) : this.uint() }
}

export const UINT_EDGES = [0, 1, 252, 253, 254, 255, 256, 0xffff, 0x10000, 0xffffffff, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1]

function count (r: Rng, max: number): number {
  return r.chance(0.3) ? 0 : r.int(max + 1)
}

function list<T> (r: Rng, max: number, f: () => T): T[] {
  const n = count(r, max)
  const out: T[] = []
  for (let i = 0; i < n; i++) out.push(f())
  return out
}

export function genTreeNode (r: Rng): TreeNode {
  return { index: r.uint(), size: r.uint(), hash: r.bytes(32) }
}

export const genTreeNodes = (r: Rng): TreeNode[] => list(r, 4, () => genTreeNode(r))

export function genSigner (r: Rng): ManifestSigner {
  return { signature: 'ed25519', namespace: r.bytes(32), publicKey: r.bytes(32) }
}

export function genManifest (r: Rng, version = r.int(4)): Manifest {
  const base = { version, hash: 'blake2b' as const, linked: null, userData: null }
  if (version === 0) {
    const type = r.int(3)
    if (type === 0) {
      return { ...base, allowPatch: false, quorum: 0, signers: [], prologue: { hash: r.bytes(32), length: 0 } }
    }
    if (type === 1) return { ...base, allowPatch: false, quorum: 1, signers: [genSigner(r)], prologue: null }
    // type 2 is only chosen when type 1 does not fit
    let m: Manifest
    do {
      m = { ...base, allowPatch: r.bool(), quorum: r.small(), signers: list(r, 3, () => genSigner(r)), prologue: null }
    } while (m.quorum === 1 && m.signers.length === 1 && !m.allowPatch)
    return m
  }
  return {
    version,
    hash: 'blake2b',
    allowPatch: r.bool(),
    quorum: r.small(),
    signers: list(r, 3, () => genSigner(r)),
    prologue: r.bool() ? { hash: r.bytes(32), length: r.uint() } : null,
    linked: r.bool() ? list(r, 3, () => r.bytes(32)) : null,
    userData: r.bool() ? r.bytes(count(r, 40)) : null
  }
}

export function genMultiSignature (r: Rng): MultiSignature {
  return {
    proofs: list(r, 3, () => ({ signer: r.small(), signature: r.bytes(64), patch: r.small() })),
    patch: genTreeNodes(r)
  }
}

export function genMultiSignatureV0 (r: Rng): MultiSignatureV0 {
  return {
    proofs: list(r, 3, () => ({
      signer: r.small(),
      signature: r.bytes(64),
      patch: r.bool() ? { start: r.uint(), length: r.uint(), nodes: list(r, 4, () => r.small()) } : null
    })),
    patch: genTreeNodes(r)
  }
}

export function genHandshake (r: Rng): Handshake {
  return { seeks: r.bool(), capability: r.bytes(32) }
}

export function genSync (r: Rng): Sync {
  return {
    fork: r.uint(),
    length: r.uint(),
    remoteLength: r.uint(),
    canUpgrade: r.bool(),
    uploading: r.bool(),
    downloading: r.bool(),
    hasManifest: r.bool(),
    allowPush: r.bool()
  }
}

export const genRequestBlock = (r: Rng): RequestBlock => ({ index: r.uint(), nodes: r.small() })
export const genRequestSeek = (r: Rng): RequestSeek => ({ bytes: r.uint(), padding: r.small() })
export const genRequestUpgrade = (r: Rng): RequestUpgrade => ({ start: r.uint(), length: r.uint() })

export function genRequest (r: Rng): Request {
  return {
    id: r.uint(),
    fork: r.uint(),
    block: r.bool() ? genRequestBlock(r) : null,
    hash: r.bool() ? genRequestBlock(r) : null,
    seek: r.bool() ? genRequestSeek(r) : null,
    upgrade: r.bool() ? genRequestUpgrade(r) : null,
    manifest: r.bool(),
    priority: r.bool() ? 0 : r.small()
  }
}

export const genCancel = (r: Rng): Cancel => ({ request: r.uint() })

export const genDataBlock = (r: Rng): DataBlock => ({ index: r.uint(), value: r.bytes(count(r, 64)), nodes: genTreeNodes(r) })
export const genDataHash = (r: Rng): DataHash => ({ index: r.uint(), nodes: genTreeNodes(r) })
export const genDataSeek = (r: Rng): DataSeek => ({ bytes: r.uint(), nodes: genTreeNodes(r) })

export function genDataUpgrade (r: Rng): DataUpgrade {
  return {
    start: r.uint(),
    length: r.uint(),
    nodes: genTreeNodes(r),
    additionalNodes: genTreeNodes(r),
    signature: r.bool() ? null : r.bytes(r.pick([64, 68, 1 + r.int(140)]))
  }
}

export function genData (r: Rng): Data {
  return {
    request: r.uint(),
    fork: r.uint(),
    block: r.bool() ? genDataBlock(r) : null,
    hash: r.bool() ? genDataHash(r) : null,
    seek: r.bool() ? genDataSeek(r) : null,
    upgrade: r.bool() ? genDataUpgrade(r) : null,
    manifest: r.bool() ? genManifest(r) : null
  }
}

export const genNoData = (r: Rng): NoData => ({ request: r.uint(), reason: r.bool() ? 0 : r.small() })
export const genWant = (r: Rng): Want => ({ start: r.uint(), length: r.uint(), any: r.bool() })

export function genBitfield (r: Rng): Bitfield {
  const words = new Uint32Array(count(r, 16))
  for (let i = 0; i < words.length; i++) words[i] = r.int(2 ** 32)
  return { start: r.uint(), bitfield: words }
}

export const genRange = (r: Rng): Range => ({ drop: r.bool(), start: r.uint(), length: r.chance(0.3) ? 1 : r.uint() })

const NAME_CHARS = ['a', 'z', '0', '/', '-', '_', 'é', 'ß', '中', '😀', ' ']

export function genExtension (r: Rng): Extension {
  let name = ''
  const n = count(r, 20)
  for (let i = 0; i < n; i++) name += r.pick(NAME_CHARS)
  return { name, message: r.bytes(count(r, 64)) }
}

// A mutation of a valid encoding: truncated, bit-flipped, with varint prefixes
// dropped in, bytes added or removed, spliced with `other`, or plain noise.
export function mutate (r: Rng, valid: Buffer, other: Buffer): Buffer {
  const b = Buffer.from(valid)
  switch (r.int(8)) {
    case 0: return b.subarray(0, r.int(b.length + 1)) // truncate
    case 1: { // flip a few bits
      if (b.length === 0) return r.bytes(1 + r.int(8))
      for (let n = 1 + r.int(3); n > 0; n--) b[r.int(b.length)] ^= 1 << r.int(8)
      return b
    }
    case 2: { // a varint prefix or extreme byte in a random place
      if (b.length === 0) return Buffer.from([r.pick([0xfd, 0xfe, 0xff])])
      b[r.int(b.length)] = r.pick([0x00, 0x01, 0xfc, 0xfd, 0xfe, 0xff])
      return b
    }
    case 3: return Buffer.concat([b, r.bytes(1 + r.int(8))]) // trailing junk
    case 4: { // drop one byte
      if (b.length === 0) return b
      const i = r.int(b.length)
      return Buffer.concat([b.subarray(0, i), b.subarray(i + 1)])
    }
    case 5: { // insert one byte
      const i = r.int(b.length + 1)
      return Buffer.concat([b.subarray(0, i), Buffer.from([r.int(256)]), b.subarray(i)])
    }
    case 6: { // splice two encodings
      const i = r.int(b.length + 1)
      return Buffer.concat([b.subarray(0, i), other.subarray(r.int(other.length + 1))])
    }
    default: return r.bytes(r.int(48)) // noise
  }
}
