// Signing and verifying a core's tree, by manifest kind:
//   compat (key = public key): raw Ed25519 over TREE ‖ treeHash ‖ u64 length ‖ u64 fork
//   manifest version ≥ 1: a multisig blob over TREE ‖ key ‖ treeHash ‖ u64 length ‖ u64 fork,
//   valid when `quorum` distinct signers of the manifest verify.
import { type KeyPair, sign, verify, treeSignable, manifestHash, NS } from '../crypto/index.js'
import { encode, decode, type Manifest, manifest as manifestCodec, defaultSignerManifest, multiSignature } from '../codec/index.js'
import { HyperfsError } from '../errors.js'

export interface CoreIdentity {
  key: Buffer
  manifest: Manifest | null // null: compat, verified against key as public key
}

export function defaultManifest (publicKey: Buffer): Manifest {
  return defaultSignerManifest(publicKey, NS.DEFAULT_NAMESPACE)
}

export function keyFromManifest (m: Manifest): Buffer {
  return manifestHash(encode(manifestCodec, m))
}

export function signTree (id: CoreIdentity, keyPair: KeyPair, treeHash: Buffer, length: number, fork: number): Buffer {
  if (!id.manifest) return sign(treeSignable(null, treeHash, length, fork), keyPair.secretKey)
  if (id.manifest.version < 1) throw HyperfsError.INVALID_MANIFEST('signing with a version 0 manifest is not supported')
  const signer = id.manifest.signers.findIndex((s) => s.publicKey.equals(keyPair.publicKey))
  if (signer === -1) throw HyperfsError.INVALID_MANIFEST('the key pair is not a signer of this core')
  const signature = sign(treeSignable(id.key, treeHash, length, fork), keyPair.secretKey)
  return encode(multiSignature, { proofs: [{ signer, signature, patch: 0 }], patch: [] })
}

export function verifyTree (id: CoreIdentity, signature: Buffer | null, treeHash: Buffer, length: number, fork: number): boolean {
  if (!signature) return false
  if (!id.manifest) return verify(treeSignable(null, treeHash, length, fork), signature, id.key)
  const m = id.manifest
  if (m.version < 1) return false
  let blob
  try {
    blob = decode(multiSignature, signature)
  } catch {
    return false
  }
  const signable = treeSignable(id.key, treeHash, length, fork)
  const seen = new Set<number>()
  for (const p of blob.proofs) {
    if (p.patch !== 0 || seen.has(p.signer)) continue // patched proofs are not supported
    const s = m.signers[p.signer]
    if (!s || !verify(signable, p.signature, s.publicKey)) return false
    seen.add(p.signer)
  }
  return seen.size >= Math.max(1, m.quorum)
}
