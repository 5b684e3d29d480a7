// Noise SymmetricState for Noise_*_Ed25519_ChaChaPoly_BLAKE2b, as noise-handshake 4
// runs it (docs/wire.md §5.1):
//   h0 = protocol name zero-padded to 64 bytes (hashed if longer), ck = h0
//   mixHash(x):  h = BLAKE2b-512(h ‖ x)
//   HKDF:        prk = HMAC(ck, ikm); out1 = HMAC(prk, 01); out2 = HMAC(prk, out1 ‖ 02)
//                with HMAC-BLAKE2b-512 (block 128) and an empty info
//   mixKey(dh):  ck = out1, k = out2[0..32], n = 0
//   AEAD:        ChaCha20-Poly1305 IETF, nonce = 4 zero bytes ‖ u64le(n), AD = h;
//                before the first mixKey plaintext passes through (but is still hashed)
//   split():     hkdf(ck, empty) → k1, k2, each cut to 32 bytes
import sodium from 'sodium-native'

export const HASHLEN = 64
const BLOCKLEN = 128
const KEYLEN = 32
const MACLEN = 16
// noise-handshake refuses any handshake ciphertext above this size
export const MAX_NOISE_MESSAGE = 65535

function hmac (out: Buffer, key: Uint8Array, parts: Uint8Array[]): Buffer {
  const padded = Buffer.alloc(BLOCKLEN)
  if (key.byteLength > BLOCKLEN) sodium.crypto_generichash(padded.subarray(0, HASHLEN), key)
  else padded.set(key)
  const inner = Buffer.allocUnsafe(BLOCKLEN)
  const outer = Buffer.allocUnsafe(BLOCKLEN)
  for (let i = 0; i < BLOCKLEN; i++) {
    inner[i] = padded[i] ^ 0x36
    outer[i] = padded[i] ^ 0x5c
  }
  sodium.crypto_generichash_batch(out, [inner, ...parts])
  sodium.crypto_generichash_batch(out, [outer, out])
  sodium.sodium_memzero(padded)
  sodium.sodium_memzero(inner)
  sodium.sodium_memzero(outer)
  return out
}

// Two 64-byte outputs: the only length Noise asks for.
export function hkdf (salt: Uint8Array, ikm: Uint8Array): [Buffer, Buffer] {
  const prk = hmac(Buffer.allocUnsafe(HASHLEN), salt, [ikm])
  const out1 = hmac(Buffer.allocUnsafe(HASHLEN), prk, [Buffer.from([1])])
  const out2 = hmac(Buffer.allocUnsafe(HASHLEN), prk, [out1, Buffer.from([2])])
  sodium.sodium_memzero(prk)
  return [out1, out2]
}

export class SymmetricState {
  protected digest: Buffer = Buffer.alloc(HASHLEN)
  protected chainingKey: Buffer = Buffer.alloc(HASHLEN)
  private key: Buffer | null = null
  private nonce = 0

  protected initialiseSymmetric (protocolName: Buffer): void {
    if (protocolName.byteLength <= HASHLEN) this.digest.set(protocolName)
    else this.mixHash(protocolName)
    this.chainingKey = Buffer.from(this.digest)
  }

  get hasKey (): boolean {
    return this.key !== null
  }

  mixHash (data: Uint8Array): void {
    sodium.crypto_generichash_batch(this.digest, [this.digest, data])
  }

  protected mixKeyMaterial (ikm: Uint8Array): void {
    const [ck, k] = hkdf(this.chainingKey, ikm)
    this.chainingKey = ck
    this.key = k.subarray(0, KEYLEN)
    this.nonce = 0
  }

  encryptAndHash (plaintext: Uint8Array): Buffer {
    let out: Buffer
    if (this.key === null) {
      out = Buffer.from(plaintext)
    } else {
      out = Buffer.allocUnsafe(plaintext.byteLength + MACLEN)
      sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plaintext, this.digest, null, this.nextNonce(), this.key)
    }
    if (out.byteLength > MAX_NOISE_MESSAGE) throw new RangeError('noise message over 65535 bytes')
    this.mixHash(out)
    return out
  }

  // Throws (from sodium) when the MAC does not verify.
  decryptAndHash (ciphertext: Uint8Array): Buffer {
    let out: Buffer
    if (this.key === null) {
      out = Buffer.from(ciphertext)
    } else {
      if (ciphertext.byteLength < MACLEN) throw new RangeError('ciphertext shorter than its MAC')
      out = Buffer.allocUnsafe(ciphertext.byteLength - MACLEN)
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, ciphertext, this.digest, this.nextNonce(), this.key)
    }
    this.mixHash(ciphertext)
    return out
  }

  protected split (): [Buffer, Buffer] {
    const [k1, k2] = hkdf(this.chainingKey, Buffer.alloc(0))
    // copies, so the 32-byte keys do not keep the 64-byte outputs alive
    return [Buffer.from(k1.subarray(0, KEYLEN)), Buffer.from(k2.subarray(0, KEYLEN))]
  }

  protected clearSymmetric (): void {
    sodium.sodium_memzero(this.chainingKey)
    if (this.key) sodium.sodium_memzero(this.key)
    this.key = null
  }

  private nextNonce (): Buffer {
    const n = Buffer.alloc(12)
    n.writeUInt32LE(this.nonce >>> 0, 4)
    n.writeUInt32LE(Math.floor(this.nonce / 0x100000000), 8)
    this.nonce++
    return n
  }
}
