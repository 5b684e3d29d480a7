// A copy of bytes in a backing store of their own, for what a cache keeps for
// long. Buffer.from() of a small buffer lands in Node's shared 8 KiB pool:
// one cached 32-byte hash would keep the whole slab, and whatever else was
// carved from it, alive for as long as it stays cached. A cache of 65536
// hashes could so hold half a GiB; with own copies it holds what it counts.
export function ownCopy (bytes: Uint8Array): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength)
  copy.set(bytes)
  return copy
}
