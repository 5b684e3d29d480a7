// Ed25519 (libsodium crypto_sign_*): 32-byte public keys, 64-byte secret keys
// (seed ‖ pk), 64-byte detached signatures.
import sodium from 'sodium-native'

export interface KeyPair {
  publicKey: Buffer
  secretKey: Buffer
}

export function keyPair (seed?: Uint8Array): KeyPair {
  const publicKey = Buffer.allocUnsafe(32)
  const secretKey = Buffer.allocUnsafe(64)
  if (seed) sodium.crypto_sign_seed_keypair(publicKey, secretKey, seed)
  else sodium.crypto_sign_keypair(publicKey, secretKey)
  return { publicKey, secretKey }
}

export function sign (message: Uint8Array, secretKey: Uint8Array): Buffer {
  const sig = Buffer.allocUnsafe(64)
  sodium.crypto_sign_detached(sig, message, secretKey)
  return sig
}

export function verify (message: Uint8Array, signature: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.byteLength !== 64 || publicKey.byteLength !== 32) return false
  return sodium.crypto_sign_verify_detached(signature, message, publicKey)
}

export function validateKeyPair (kp: KeyPair): boolean {
  const pk = Buffer.allocUnsafe(32)
  sodium.crypto_sign_ed25519_sk_to_pk(pk, kp.secretKey)
  return pk.equals(kp.publicKey)
}
