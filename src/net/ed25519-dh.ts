// Noise DH on Ed25519 as noise-curve-ed does it (docs/wire.md §5.2): no X25519
// conversion. DH(pub, sk) = crypto_scalarmult_ed25519_noclamp(scalar, pub), where
// scalar = SHA-512(seed)[0..32] clamped (b0 &= 248, b31 &= 127, b31 |= 64).
import sodium from 'sodium-native'
import type { KeyPair } from '../crypto/sign.js'

export const DHLEN = 32
export const PKLEN = 32

export function ed25519Scalar (secretKey: Uint8Array): Buffer {
  if (secretKey.byteLength !== 64) throw new RangeError('Ed25519 secret key must be 64 bytes')
  const digest = Buffer.allocUnsafe(64)
  sodium.crypto_hash_sha512(digest, secretKey.subarray(0, 32))
  digest[0] &= 248
  digest[31] &= 127
  digest[31] |= 64
  const scalar = Buffer.from(digest.subarray(0, 32))
  sodium.sodium_memzero(digest)
  return scalar
}

// libsodium refuses small-order and non-canonical points by throwing; callers
// treat that as a failed handshake.
export function dh (remotePublicKey: Uint8Array, local: KeyPair): Buffer {
  if (remotePublicKey.byteLength !== PKLEN) throw new RangeError('public key must be 32 bytes')
  const scalar = ed25519Scalar(local.secretKey)
  const out = Buffer.allocUnsafe(DHLEN)
  try {
    sodium.crypto_scalarmult_ed25519_noclamp(out, scalar, remotePublicKey)
  } finally {
    sodium.sodium_memzero(scalar)
  }
  return out
}
