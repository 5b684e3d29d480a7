// hyperdht 6 message values (docs/wire.md §8.2–8.5), carried in the `value` of
// dht-rpc packets or inside Noise/secretbox payloads:
//   peer          = fixed32 publicKey ‖ ipv4[] relayAddresses
//   announce      = uint flags (1 peer, 2 refresh, 4 signature, 8 bump) ‖ fields in bit order
//   lookup reply  = uint count ‖ count × peer (raw, no per-record length) ‖ uint bump
//                   (the real encoder always writes bump; its decoder treats it as optional)
//   handshake     = uint flags (1 peerAddress, 2 relayAddress) ‖ uint mode ‖ buffer noise ‖ [ipv4] ‖ [ipv4]
//   holepunch     = uint flags (1 peerAddress) ‖ uint mode ‖ uint id ‖ buffer payload ‖ [ipv4]
//   noise payload = uint version (1) ‖ uint flags ‖ uint error ‖ uint firewall ‖ optionals in bit order;
//                   a version other than 1 ends decoding (the server answers VERSION_MISMATCH)
//   holepunch payload = uint flags ‖ uint error ‖ uint firewall ‖ uint round ‖ optionals
// Decoders tolerate trailing bytes, as the real ones do.
import { DecodeError } from './decode-error.js'
import { type Codec, need } from './state.js'
import { uint, fixed32, fixed64, buffer, array, ipv4Address, type IPv4Address } from './primitives.js'

// a 1500-byte datagram cannot hold more; bigger claims are garbage
const MAX_ADDRESSES = 256
const ipv4Array = array(ipv4Address, MAX_ADDRESSES)

export interface IPv6Address { host: string, port: number }

// 16 address bytes (8 big-endian groups) ‖ port uint16 LE
export const ipv6Address: Codec<IPv6Address> = {
  preencode (s) { s.end += 18 },
  encode (s, v) {
    const groups = expandIPv6(v.host)
    for (const g of groups) { s.buffer.writeUInt16BE(g, s.start); s.start += 2 }
    s.buffer.writeUInt16LE(v.port, s.start); s.start += 2
  },
  decode (s) {
    need(s, 18)
    const groups: string[] = []
    for (let i = 0; i < 8; i++) groups.push(s.buffer.readUInt16BE(s.start + 2 * i).toString(16))
    const port = s.buffer.readUInt16LE(s.start + 16)
    s.start += 18
    return { host: groups.join(':'), port }
  }
}
const ipv6Array = array(ipv6Address, MAX_ADDRESSES)

function expandIPv6 (host: string): number[] {
  const [head, tail] = host.includes('::') ? host.split('::') : [host, null]
  const a = head === '' ? [] : head.split(':')
  const b = tail === null || tail === '' ? [] : tail.split(':')
  const fill = tail === null ? 0 : 8 - a.length - b.length
  const parts = [...a, ...new Array<string>(Math.max(0, fill)).fill('0'), ...b]
  if (parts.length !== 8) throw new TypeError('not an IPv6 address: ' + host)
  return parts.map((p) => parseInt(p, 16) & 0xffff)
}

// --- records ---

export interface PeerRecord {
  publicKey: Uint8Array
  relayAddresses: IPv4Address[]
}

export const peerRecord: Codec<PeerRecord> = {
  preencode (s, m) { s.end += 32; ipv4Array.preencode(s, m.relayAddresses) },
  encode (s, m) { fixed32.encode(s, m.publicKey); ipv4Array.encode(s, m.relayAddresses) },
  decode (s) { return { publicKey: fixed32.decode(s), relayAddresses: ipv4Array.decode(s) } }
}

export interface AnnounceMessage {
  peer: PeerRecord | null
  refresh: Uint8Array | null
  signature: Uint8Array | null
  bump: number
}

export const announceMessage: Codec<AnnounceMessage> = {
  preencode (s, m) {
    s.end++
    if (m.peer) peerRecord.preencode(s, m.peer)
    if (m.refresh) s.end += 32
    if (m.signature) s.end += 64
    if (m.bump) uint.preencode(s, m.bump)
  },
  encode (s, m) {
    s.buffer[s.start++] = (m.peer ? 1 : 0) | (m.refresh ? 2 : 0) | (m.signature ? 4 : 0) | (m.bump ? 8 : 0)
    if (m.peer) peerRecord.encode(s, m.peer)
    if (m.refresh) fixed32.encode(s, m.refresh)
    if (m.signature) fixed64.encode(s, m.signature)
    if (m.bump) uint.encode(s, m.bump)
  },
  decode (s) {
    const flags = uint.decode(s)
    return {
      peer: flags & 1 ? peerRecord.decode(s) : null,
      refresh: flags & 2 ? fixed32.decode(s) : null,
      signature: flags & 4 ? fixed64.decode(s) : null,
      bump: flags & 8 ? uint.decode(s) : 0
    }
  }
}

// The storer keeps records already encoded; the reply concatenates them.
export interface LookupReplyOut { records: Uint8Array[], bump: number }
export interface LookupReply { peers: PeerRecord[], bump: number }

export const lookupReplyOut: Codec<LookupReplyOut> = {
  preencode (s, m) {
    uint.preencode(s, m.records.length)
    for (const r of m.records) s.end += r.byteLength
    uint.preencode(s, m.bump)
  },
  encode (s, m) {
    uint.encode(s, m.records.length)
    for (const r of m.records) { s.buffer.set(r, s.start); s.start += r.byteLength }
    uint.encode(s, m.bump)
  },
  decode () { throw new DecodeError('encode only: decode lookup replies with lookupReply') }
}

export const lookupReply: Codec<LookupReply> = {
  preencode () { throw new TypeError('encode lookup replies with lookupReplyOut') },
  encode () { throw new TypeError('encode lookup replies with lookupReplyOut') },
  decode (s) {
    const peers = array(peerRecord, 64).decode(s)
    const bump = s.start < s.end ? uint.decode(s) : 0
    return { peers, bump }
  }
}

// --- routing (PEER_HANDSHAKE, PEER_HOLEPUNCH) ---

export const MODE = { FROM_CLIENT: 0, FROM_SERVER: 1, FROM_RELAY: 2, FROM_SECOND_RELAY: 3, REPLY: 4 } as const

export interface HandshakeMessage {
  mode: number
  noise: Uint8Array
  peerAddress: IPv4Address | null
  relayAddress: IPv4Address | null
}

export const handshakeMessage: Codec<HandshakeMessage> = {
  preencode (s, m) {
    s.end += 1
    uint.preencode(s, m.mode)
    buffer.preencode(s, m.noise)
    if (m.peerAddress) s.end += 6
    if (m.relayAddress) s.end += 6
  },
  encode (s, m) {
    s.buffer[s.start++] = (m.peerAddress ? 1 : 0) | (m.relayAddress ? 2 : 0)
    uint.encode(s, m.mode)
    buffer.encode(s, m.noise)
    if (m.peerAddress) ipv4Address.encode(s, m.peerAddress)
    if (m.relayAddress) ipv4Address.encode(s, m.relayAddress)
  },
  decode (s) {
    const flags = uint.decode(s)
    return {
      mode: uint.decode(s),
      noise: buffer.decode(s),
      peerAddress: flags & 1 ? ipv4Address.decode(s) : null,
      relayAddress: flags & 2 ? ipv4Address.decode(s) : null
    }
  }
}

export interface HolepunchMessage {
  mode: number
  id: number
  payload: Uint8Array
  peerAddress: IPv4Address | null
}

export const holepunchMessage: Codec<HolepunchMessage> = {
  preencode (s, m) {
    s.end += 1
    uint.preencode(s, m.mode)
    uint.preencode(s, m.id)
    buffer.preencode(s, m.payload)
    if (m.peerAddress) s.end += 6
  },
  encode (s, m) {
    s.buffer[s.start++] = m.peerAddress ? 1 : 0
    uint.encode(s, m.mode)
    uint.encode(s, m.id)
    buffer.encode(s, m.payload)
    if (m.peerAddress) ipv4Address.encode(s, m.peerAddress)
  },
  decode (s) {
    const flags = uint.decode(s)
    return {
      mode: uint.decode(s),
      id: uint.decode(s),
      payload: buffer.decode(s),
      peerAddress: flags & 1 ? ipv4Address.decode(s) : null
    }
  }
}

// --- Noise IK payload ---

export interface RelayInfo { relayAddress: IPv4Address, peerAddress: IPv4Address }
export interface HolepunchInfo { id: number, relays: RelayInfo[] }
export interface UdxInfo { version: number, reusableSocket: boolean, id: number, seq: number }
export interface RelayThroughInfo { version: number, publicKey: Uint8Array, token: Uint8Array }

export interface NoisePayload {
  version: number
  error: number
  firewall: number
  holepunch: HolepunchInfo | null
  addresses4: IPv4Address[]
  addresses6: IPv6Address[]
  udx: UdxInfo | null
  secretStream: { version: number } | null
  relayThrough: RelayThroughInfo | null
  // null and [] differ on the wire: [] still sets the flag
  relayAddresses: IPv4Address[] | null
  // hyperfs only (flag TCP_FLAG): the sender accepts TCP on this port (0: it
  // can only dial). Written after every real field, under a flag bit the real
  // decoder never tests, so a real peer skips both the bit and the bytes.
  tcp?: TcpInfo | null
}

export interface TcpInfo { port: number }

// Far above hyperdht's flags (1..64) so that a field the real package adds
// later (128, 256, ...) does not collide with ours.
export const TCP_FLAG = 1 << 12

const relayInfo: Codec<RelayInfo> = {
  preencode (s) { s.end += 12 },
  encode (s, m) { ipv4Address.encode(s, m.relayAddress); ipv4Address.encode(s, m.peerAddress) },
  decode (s) { return { relayAddress: ipv4Address.decode(s), peerAddress: ipv4Address.decode(s) } }
}
const relayInfoArray = array(relayInfo, MAX_ADDRESSES)

export const noisePayload: Codec<NoisePayload> = {
  preencode (s, m) {
    uint.preencode(s, m.version)
    if (m.version !== 1) return // the decoder reads nothing past an unknown version
    uint.preencode(s, flagsOf(m))
    uint.preencode(s, m.error)
    uint.preencode(s, m.firewall)
    if (m.holepunch) { uint.preencode(s, m.holepunch.id); relayInfoArray.preencode(s, m.holepunch.relays) }
    if (m.addresses4.length > 0) ipv4Array.preencode(s, m.addresses4)
    if (m.addresses6.length > 0) ipv6Array.preencode(s, m.addresses6)
    if (m.udx) { uint.preencode(s, m.udx.version); s.end += 1; uint.preencode(s, m.udx.id); uint.preencode(s, m.udx.seq) }
    if (m.secretStream) uint.preencode(s, m.secretStream.version)
    if (m.relayThrough) { uint.preencode(s, m.relayThrough.version); s.end += 1 + 64 }
    if (m.relayAddresses) ipv4Array.preencode(s, m.relayAddresses)
    if (m.tcp) uint.preencode(s, m.tcp.port)
  },
  encode (s, m) {
    uint.encode(s, m.version)
    if (m.version !== 1) return
    uint.encode(s, flagsOf(m))
    uint.encode(s, m.error)
    uint.encode(s, m.firewall)
    if (m.holepunch) { uint.encode(s, m.holepunch.id); relayInfoArray.encode(s, m.holepunch.relays) }
    if (m.addresses4.length > 0) ipv4Array.encode(s, m.addresses4)
    if (m.addresses6.length > 0) ipv6Array.encode(s, m.addresses6)
    if (m.udx) {
      uint.encode(s, m.udx.version)
      uint.encode(s, m.udx.reusableSocket ? 1 : 0)
      uint.encode(s, m.udx.id)
      uint.encode(s, m.udx.seq)
    }
    if (m.secretStream) uint.encode(s, m.secretStream.version)
    if (m.relayThrough) {
      uint.encode(s, m.relayThrough.version)
      uint.encode(s, 0)
      fixed32.encode(s, m.relayThrough.publicKey)
      fixed32.encode(s, m.relayThrough.token)
    }
    if (m.relayAddresses) ipv4Array.encode(s, m.relayAddresses)
    if (m.tcp) uint.encode(s, m.tcp.port)
  },
  decode (s) {
    const version = uint.decode(s)
    const out: NoisePayload = {
      version,
      error: 0,
      firewall: 0,
      holepunch: null,
      addresses4: [],
      addresses6: [],
      udx: null,
      secretStream: null,
      relayThrough: null,
      relayAddresses: null,
      tcp: null
    }
    if (version !== 1) return out
    const flags = uint.decode(s)
    out.error = uint.decode(s)
    out.firewall = uint.decode(s)
    if (flags & 1) out.holepunch = { id: uint.decode(s), relays: relayInfoArray.decode(s) }
    if (flags & 2) out.addresses4 = ipv4Array.decode(s)
    if (flags & 4) out.addresses6 = ipv6Array.decode(s)
    if (flags & 8) {
      const v = uint.decode(s)
      const features = uint.decode(s)
      out.udx = { version: v, reusableSocket: (features & 1) !== 0, id: uint.decode(s), seq: uint.decode(s) }
    }
    if (flags & 16) out.secretStream = { version: uint.decode(s) }
    if (flags & 32) {
      const v = uint.decode(s)
      uint.decode(s)
      out.relayThrough = { version: v, publicKey: fixed32.decode(s), token: fixed32.decode(s) }
    }
    if (flags & 64) out.relayAddresses = ipv4Array.decode(s)
    // unknown bits of a newer hyperdht: their fields would sit where ours is, so
    // read ours only when no unknown bit below it is set
    if ((flags & TCP_FLAG) !== 0 && (flags & (TCP_FLAG - 128)) === 0) {
      const port = uint.decode(s)
      if (port > 0xffff) throw new DecodeError('tcp port out of range')
      out.tcp = { port }
    }
    return out
  }
}

function flagsOf (m: NoisePayload): number {
  return (m.holepunch ? 1 : 0) | (m.addresses4.length > 0 ? 2 : 0) | (m.addresses6.length > 0 ? 4 : 0) |
    (m.udx ? 8 : 0) | (m.secretStream ? 16 : 0) | (m.relayThrough ? 32 : 0) | (m.relayAddresses ? 64 : 0) |
    (m.tcp ? TCP_FLAG : 0)
}

// --- holepunch payload (inside a secretbox) ---

export interface HolepunchPayload {
  error: number
  firewall: number
  round: number
  connected: boolean
  punching: boolean
  addresses: IPv4Address[] | null
  remoteAddress: IPv4Address | null
  token: Uint8Array | null
  remoteToken: Uint8Array | null
}

export const holepunchPayload: Codec<HolepunchPayload> = {
  preencode (s, m) {
    s.end += 1
    uint.preencode(s, m.error)
    uint.preencode(s, m.firewall)
    uint.preencode(s, m.round)
    if (m.addresses) ipv4Array.preencode(s, m.addresses)
    if (m.remoteAddress) s.end += 6
    if (m.token) s.end += 32
    if (m.remoteToken) s.end += 32
  },
  encode (s, m) {
    s.buffer[s.start++] = (m.connected ? 1 : 0) | (m.punching ? 2 : 0) | (m.addresses ? 4 : 0) |
      (m.remoteAddress ? 8 : 0) | (m.token ? 16 : 0) | (m.remoteToken ? 32 : 0)
    uint.encode(s, m.error)
    uint.encode(s, m.firewall)
    uint.encode(s, m.round)
    if (m.addresses) ipv4Array.encode(s, m.addresses)
    if (m.remoteAddress) ipv4Address.encode(s, m.remoteAddress)
    if (m.token) fixed32.encode(s, m.token)
    if (m.remoteToken) fixed32.encode(s, m.remoteToken)
  },
  decode (s) {
    const flags = uint.decode(s)
    return {
      error: uint.decode(s),
      firewall: uint.decode(s),
      round: uint.decode(s),
      connected: (flags & 1) !== 0,
      punching: (flags & 2) !== 0,
      addresses: flags & 4 ? ipv4Array.decode(s) : null,
      remoteAddress: flags & 8 ? ipv4Address.decode(s) : null,
      token: flags & 16 ? fixed32.decode(s) : null,
      remoteToken: flags & 32 ? fixed32.decode(s) : null
    }
  }
}

// Decodes or returns null: hostile values are dropped, never thrown past a handler.
export function tryDecode<T> (codec: Codec<T>, value: Uint8Array | null): T | null {
  if (value === null) return null
  const buf = Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  try {
    return codec.decode({ start: 0, end: buf.byteLength, buffer: buf })
  } catch (err) {
    if (err instanceof DecodeError || err instanceof RangeError || err instanceof TypeError) return null
    throw err
  }
}
