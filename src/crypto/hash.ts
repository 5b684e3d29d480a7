// BLAKE2b on sodium-native. H(x) is BLAKE2b-256 with no key; H[k](x) puts k in
// libsodium's key slot (not in the message). namespace(name, n) gives
// ns_i = H(H(name) ‖ byte i), the scheme every Holepunch namespace uses.
import sodium from 'sodium-native'

export function hash (data: Uint8Array | Uint8Array[], out: Buffer = Buffer.allocUnsafe(32)): Buffer {
  if (Array.isArray(data)) sodium.crypto_generichash_batch(out, data)
  else sodium.crypto_generichash(out, data)
  return out
}

export function keyedHash (key: Uint8Array, data: Uint8Array | Uint8Array[], out: Buffer = Buffer.allocUnsafe(32)): Buffer {
  if (Array.isArray(data)) sodium.crypto_generichash_batch(out, data, key)
  else sodium.crypto_generichash(out, data, key)
  return out
}

export function hash64 (data: Uint8Array | Uint8Array[]): Buffer {
  return hash(data, Buffer.allocUnsafe(64))
}

export function namespace (name: string, ids: number | number[]): Buffer[] {
  const list = typeof ids === 'number' ? Array.from({ length: ids }, (_, i) => i) : ids
  const base = hash(Buffer.from(name))
  return list.map((id) => hash(Buffer.concat([base, Buffer.from([id])])))
}

export function randomBytes (n: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  sodium.randombytes_buf(b)
  return b
}
