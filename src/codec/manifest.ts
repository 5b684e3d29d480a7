// Hypercore 11 manifest and signature blobs (docs/wire.md §2.4, §2.5).
//
// The core key of a non-compat core is H(MANIFEST ‖ encode(manifest)), so this
// encoding must be byte-exact: version ≥ 1 is `uint version ‖ uint flags
// (1 allowPatch, 2 prologue, 4 linked, 8 userData) ‖ uint hash ‖ uint quorum ‖
// signer[] ‖ [prologue] ‖ [fixed32[] linked] ‖ [buffer userData]`; version 0 is
// `uint 0 ‖ uint hash ‖ uint type ‖ body` with three body types. A signer is
// `uint signatureType ‖ fixed32 namespace ‖ fixed32 publicKey`.
//
// A core with manifest version ≥ 1 signs with a multisig blob:
// `{uint signer, fixed64 signature, uint patch}[] ‖ treeNode[] patch`, 68 bytes
// for one signer. Version 0 used per-proof flags and index-compressed patches.
import { DecodeError } from './decode-error.js'
import { type Codec, type State } from './state.js'
import { uint, buffer, fixed32, fixed64, array } from './primitives.js'
import { type TreeNode, treeNodeArray } from './tree-node.js'

export type ManifestHashType = 'blake2b'
export type ManifestSignatureType = 'ed25519'

export interface ManifestSigner {
  signature: ManifestSignatureType
  namespace: Buffer
  publicKey: Buffer
}

export interface ManifestPrologue {
  hash: Buffer
  length: number
}

export interface Manifest {
  version: number
  hash: ManifestHashType
  allowPatch: boolean
  quorum: number
  signers: ManifestSigner[]
  prologue: ManifestPrologue | null
  linked: Buffer[] | null
  userData: Buffer | null
}

export const MANIFEST_MAX_VERSION = 3

const FLAG_PATCH = 1
const FLAG_PROLOGUE = 2
const FLAG_LINKED = 4
const FLAG_USER_DATA = 8

// v0 body types
const V0_STATIC = 0
const V0_SINGLE = 1
const V0_MULTI = 2

const hashType: Codec<ManifestHashType> = {
  preencode (s) { s.end += 1 },
  encode (s, v) {
    if (v !== 'blake2b') throw new TypeError('unknown manifest hash: ' + String(v))
    uint.encode(s, 0)
  },
  decode (s) {
    const n = uint.decode(s)
    if (n !== 0) throw new DecodeError('unknown manifest hash id ' + n)
    return 'blake2b'
  }
}

const signatureType: Codec<ManifestSignatureType> = {
  preencode (s) { s.end += 1 },
  encode (s, v) {
    if (v !== 'ed25519') throw new TypeError('unknown signature type: ' + String(v))
    uint.encode(s, 0)
  },
  decode (s) {
    const n = uint.decode(s)
    if (n !== 0) throw new DecodeError('unknown signature type id ' + n)
    return 'ed25519'
  }
}

export const manifestSigner: Codec<ManifestSigner> = {
  preencode (s, m) {
    signatureType.preencode(s, m.signature)
    fixed32.preencode(s, m.namespace)
    fixed32.preencode(s, m.publicKey)
  },
  encode (s, m) {
    signatureType.encode(s, m.signature)
    fixed32.encode(s, m.namespace)
    fixed32.encode(s, m.publicKey)
  },
  decode (s) {
    const signature = signatureType.decode(s)
    const namespace = fixed32.decode(s) as Buffer
    const publicKey = fixed32.decode(s) as Buffer
    return { signature, namespace, publicKey }
  }
}

const signerArray = array(manifestSigner)
const keyArray = array(fixed32) as unknown as Codec<Buffer[]>

const prologueCodec: Codec<ManifestPrologue> = {
  preencode (s, p) { fixed32.preencode(s, p.hash); uint.preencode(s, p.length) },
  encode (s, p) { fixed32.encode(s, p.hash); uint.encode(s, p.length) },
  decode (s) {
    const hash = fixed32.decode(s) as Buffer
    const length = uint.decode(s)
    return { hash, length }
  }
}

// Which version-0 body a manifest takes. A static core (prologue, no signers)
// keeps only the prologue hash; its length is not encoded and decodes as 0.
function v0Type (m: Manifest): number {
  if (m.prologue && m.signers.length === 0) return V0_STATIC
  if (m.quorum === 1 && m.signers.length === 1 && !m.allowPatch) return V0_SINGLE
  return V0_MULTI
}

const manifestV0Body: Codec<Manifest> = {
  preencode (s, m) {
    hashType.preencode(s, m.hash)
    const type = v0Type(m)
    uint.preencode(s, type)
    if (type === V0_STATIC) {
      fixed32.preencode(s, m.prologue!.hash)
    } else if (type === V0_SINGLE) {
      manifestSigner.preencode(s, m.signers[0])
    } else {
      uint.preencode(s, m.allowPatch ? 1 : 0)
      uint.preencode(s, m.quorum)
      signerArray.preencode(s, m.signers)
    }
  },
  encode (s, m) {
    hashType.encode(s, m.hash)
    const type = v0Type(m)
    uint.encode(s, type)
    if (type === V0_STATIC) {
      fixed32.encode(s, m.prologue!.hash)
    } else if (type === V0_SINGLE) {
      manifestSigner.encode(s, m.signers[0])
    } else {
      uint.encode(s, m.allowPatch ? 1 : 0)
      uint.encode(s, m.quorum)
      signerArray.encode(s, m.signers)
    }
  },
  decode (s) {
    const hash = hashType.decode(s)
    const type = uint.decode(s)
    const base = { version: 0, hash, linked: null, userData: null }

    if (type === V0_STATIC) {
      const prologue = { hash: fixed32.decode(s) as Buffer, length: 0 }
      return { ...base, allowPatch: false, quorum: 0, signers: [], prologue }
    }
    if (type === V0_SINGLE) {
      const signers = [manifestSigner.decode(s)]
      return { ...base, allowPatch: false, quorum: 1, signers, prologue: null }
    }
    if (type === V0_MULTI) {
      const flags = uint.decode(s)
      const quorum = uint.decode(s)
      const signers = signerArray.decode(s)
      return { ...base, allowPatch: (flags & FLAG_PATCH) !== 0, quorum, signers, prologue: null }
    }
    throw new DecodeError('unknown version 0 manifest type ' + type)
  }
}

function manifestFlags (m: Manifest): number {
  return (m.allowPatch ? FLAG_PATCH : 0) |
    (m.prologue ? FLAG_PROLOGUE : 0) |
    (m.linked ? FLAG_LINKED : 0) |
    (m.userData ? FLAG_USER_DATA : 0)
}

function checkVersion (v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > MANIFEST_MAX_VERSION) {
    throw new TypeError('unsupported manifest version: ' + v)
  }
}

export const manifest: Codec<Manifest> = {
  preencode (s, m) {
    checkVersion(m.version)
    uint.preencode(s, m.version)
    if (m.version === 0) return manifestV0Body.preencode(s, m)
    uint.preencode(s, manifestFlags(m))
    hashType.preencode(s, m.hash)
    uint.preencode(s, m.quorum)
    signerArray.preencode(s, m.signers)
    if (m.prologue) prologueCodec.preencode(s, m.prologue)
    if (m.linked) keyArray.preencode(s, m.linked)
    if (m.userData) buffer.preencode(s, m.userData)
  },
  encode (s, m) {
    checkVersion(m.version)
    uint.encode(s, m.version)
    if (m.version === 0) return manifestV0Body.encode(s, m)
    uint.encode(s, manifestFlags(m))
    hashType.encode(s, m.hash)
    uint.encode(s, m.quorum)
    signerArray.encode(s, m.signers)
    if (m.prologue) prologueCodec.encode(s, m.prologue)
    if (m.linked) keyArray.encode(s, m.linked)
    if (m.userData) buffer.encode(s, m.userData)
  },
  decode (s: State) {
    const version = uint.decode(s)
    if (version === 0) return manifestV0Body.decode(s)
    if (version > MANIFEST_MAX_VERSION) throw new DecodeError('unknown manifest version ' + version)

    const flags = uint.decode(s)
    const hash = hashType.decode(s)
    const quorum = uint.decode(s)
    const signers = signerArray.decode(s)
    // Like hypercore's decoder, linked/userData are accepted at any version ≥ 1;
    // the "needs version 2" rule is only enforced when a manifest is created.
    const prologue = (flags & FLAG_PROLOGUE) !== 0 ? prologueCodec.decode(s) : null
    const linked = (flags & FLAG_LINKED) !== 0 ? keyArray.decode(s) : null
    const userData = (flags & FLAG_USER_DATA) !== 0 ? buffer.decode(s) as Buffer : null
    return { version, hash, allowPatch: (flags & FLAG_PATCH) !== 0, quorum, signers, prologue, linked, userData }
  }
}

// What `new Hypercore(storage, { keyPair })` builds; its hash is the core key.
// `namespace` is the hypercore DEFAULT_NAMESPACE (src/crypto NS.DEFAULT_NAMESPACE),
// passed in because codec/ may not import crypto/.
export function defaultSignerManifest (publicKey: Buffer, namespace: Buffer): Manifest {
  return {
    version: 1,
    hash: 'blake2b',
    allowPatch: false,
    quorum: 1,
    signers: [{ signature: 'ed25519', namespace, publicKey }],
    prologue: null,
    linked: null,
    userData: null
  }
}

// Signature blob for manifest version ≥ 1.

export interface MultiSignatureProof {
  signer: number // index into manifest.signers
  signature: Buffer // 64-byte Ed25519 signature
  patch: number // how many blocks the signer's own length trails the signed length
}

export interface MultiSignature {
  proofs: MultiSignatureProof[]
  patch: TreeNode[] // upgrade nodes shared by the patched proofs, deduplicated
}

const multisigProof: Codec<MultiSignatureProof> = {
  preencode (s, p) {
    uint.preencode(s, p.signer)
    fixed64.preencode(s, p.signature)
    uint.preencode(s, p.patch)
  },
  encode (s, p) {
    uint.encode(s, p.signer)
    fixed64.encode(s, p.signature)
    uint.encode(s, p.patch)
  },
  decode (s) {
    const signer = uint.decode(s)
    const signature = fixed64.decode(s) as Buffer
    const patch = uint.decode(s)
    return { signer, signature, patch }
  }
}

const multisigProofArray = array(multisigProof)

export const multiSignature: Codec<MultiSignature> = {
  preencode (s, m) { multisigProofArray.preencode(s, m.proofs); treeNodeArray.preencode(s, m.patch) },
  encode (s, m) { multisigProofArray.encode(s, m.proofs); treeNodeArray.encode(s, m.patch) },
  decode (s) {
    const proofs = multisigProofArray.decode(s)
    const patch = treeNodeArray.decode(s)
    return { proofs, patch }
  }
}

// Signature blob for manifest version 0 (non-compat). Each proof carries a
// flags uint (bit 1: has patch); a patch names shared nodes by their position in
// the blob's `patch` array.

export interface MultiSignatureV0Patch {
  start: number
  length: number
  nodes: number[] // indexes into MultiSignatureV0.patch
}

export interface MultiSignatureV0Proof {
  signer: number
  signature: Buffer
  patch: MultiSignatureV0Patch | null
}

export interface MultiSignatureV0 {
  proofs: MultiSignatureV0Proof[]
  patch: TreeNode[]
}

const uintArray = array(uint)

const v0Patch: Codec<MultiSignatureV0Patch> = {
  preencode (s, p) { uint.preencode(s, p.start); uint.preencode(s, p.length); uintArray.preencode(s, p.nodes) },
  encode (s, p) { uint.encode(s, p.start); uint.encode(s, p.length); uintArray.encode(s, p.nodes) },
  decode (s) {
    const start = uint.decode(s)
    const length = uint.decode(s)
    const nodes = uintArray.decode(s)
    return { start, length, nodes }
  }
}

const multisigProofV0: Codec<MultiSignatureV0Proof> = {
  preencode (s, p) {
    uint.preencode(s, p.patch ? 1 : 0)
    uint.preencode(s, p.signer)
    fixed64.preencode(s, p.signature)
    if (p.patch) v0Patch.preencode(s, p.patch)
  },
  encode (s, p) {
    uint.encode(s, p.patch ? 1 : 0)
    uint.encode(s, p.signer)
    fixed64.encode(s, p.signature)
    if (p.patch) v0Patch.encode(s, p.patch)
  },
  decode (s) {
    const flags = uint.decode(s)
    const signer = uint.decode(s)
    const signature = fixed64.decode(s) as Buffer
    const patch = (flags & 1) !== 0 ? v0Patch.decode(s) : null
    return { signer, signature, patch }
  }
}

const multisigProofV0Array = array(multisigProofV0)

export const multiSignatureV0: Codec<MultiSignatureV0> = {
  preencode (s, m) { multisigProofV0Array.preencode(s, m.proofs); treeNodeArray.preencode(s, m.patch) },
  encode (s, m) { multisigProofV0Array.encode(s, m.proofs); treeNodeArray.encode(s, m.patch) },
  decode (s) {
    const proofs = multisigProofV0Array.decode(s)
    const patch = treeNodeArray.decode(s)
    return { proofs, patch }
  }
}
