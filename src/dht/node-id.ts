// A DHT node's id is H(ipv4 (4 bytes) ‖ u16le port) of its public address
// (docs/wire.md §7.2), the same 6 bytes the ipv4Address codec writes. A receiver trusts
// a claimed id only when it equals this hash of the packet's source.
import { encode, ipv4Address } from '../codec/index.js'
import { hash } from '../crypto/index.js'

export function nodeId (host: string, port: number): Buffer {
  return hash(encode(ipv4Address, { host, port }))
}
