// dht-rpc UDP packets (docs/wire.md §7.1). The first byte is type << 4 | version 3:
// request 0x03, response 0x13. Then:
//   request  = uint flags (1 id, 2 token, 4 internal, 8 target, 16 value) ‖ u16le tid ‖
//              ipv4 to ‖ [fixed32 id] ‖ [fixed32 token] ‖ uint command ‖ [fixed32 target] ‖ [buffer value]
//   response = uint flags (1 id, 2 token, 4 closerNodes, 8 error, 16 value) ‖ u16le tid ‖
//              ipv4 to ‖ [fixed32 id] ‖ [fixed32 token] ‖ [ipv4[] closerNodes] ‖ [uint error] ‖ [buffer value]
// Absent fields take zero bytes. The real decoder ignores unknown flag bits and
// trailing bytes, so ours does too: a newer peer may append fields.
import { DecodeError } from './decode-error.js'
import { type Codec, type State, need, state as makeState } from './state.js'
import { uint, uint16, fixed32, buffer, array, ipv4Address, type IPv4Address } from './primitives.js'

export const DHT_VERSION = 0b11
export const REQUEST_HEADER = (0b0000 << 4) | DHT_VERSION
export const RESPONSE_HEADER = (0b0001 << 4) | DHT_VERSION

const REQ_ID = 1
const REQ_TOKEN = 2
const REQ_INTERNAL = 4
const REQ_TARGET = 8
const REQ_VALUE = 16

const RES_ID = 1
const RES_TOKEN = 2
const RES_CLOSER = 4
const RES_ERROR = 8
const RES_VALUE = 16

export interface RequestMessage {
  tid: number
  // the receiver's address as the sender addresses it
  to: IPv4Address
  id: Uint8Array | null
  token: Uint8Array | null
  internal: boolean
  command: number
  target: Uint8Array | null
  value: Uint8Array | null
}

export interface ResponseMessage {
  tid: number
  // the requester's address as the responder saw it
  to: IPv4Address
  id: Uint8Array | null
  token: Uint8Array | null
  closerNodes: IPv4Address[] | null
  error: number
  value: Uint8Array | null
}

// a datagram can hold at most ~10900 addresses; anything claiming more is garbage
const closerNodesCodec = array(ipv4Address, 11000)

function header (s: State, expected: number): void {
  need(s, 1)
  const h = s.buffer[s.start++]
  if (h !== expected) throw new DecodeError(`unexpected dht packet header 0x${h.toString(16)}`)
}

export const requestMessage: Codec<RequestMessage> = {
  preencode (s, m) {
    s.end += 1 + 1 + 2 + 6 // header, flags (always one byte: all bits < 0x80), tid, to
    if (m.id) s.end += 32
    if (m.token) s.end += 32
    uint.preencode(s, m.command)
    if (m.target) s.end += 32
    if (m.value) buffer.preencode(s, m.value)
  },
  encode (s, m) {
    s.buffer[s.start++] = REQUEST_HEADER
    s.buffer[s.start++] = (m.id ? REQ_ID : 0) | (m.token ? REQ_TOKEN : 0) | (m.internal ? REQ_INTERNAL : 0) |
      (m.target ? REQ_TARGET : 0) | (m.value ? REQ_VALUE : 0)
    uint16.encode(s, m.tid)
    ipv4Address.encode(s, m.to)
    if (m.id) fixed32.encode(s, m.id)
    if (m.token) fixed32.encode(s, m.token)
    uint.encode(s, m.command)
    if (m.target) fixed32.encode(s, m.target)
    if (m.value) buffer.encode(s, m.value)
  },
  decode (s) {
    header(s, REQUEST_HEADER)
    const flags = uint.decode(s)
    const tid = uint16.decode(s)
    const to = ipv4Address.decode(s)
    const id = flags & REQ_ID ? fixed32.decode(s) : null
    const token = flags & REQ_TOKEN ? fixed32.decode(s) : null
    const command = uint.decode(s)
    const target = flags & REQ_TARGET ? fixed32.decode(s) : null
    const value = flags & REQ_VALUE ? buffer.decode(s) : null
    return { tid, to, id, token, internal: (flags & REQ_INTERNAL) !== 0, command, target, value }
  }
}

export const responseMessage: Codec<ResponseMessage> = {
  preencode (s, m) {
    s.end += 1 + 1 + 2 + 6
    if (m.id) s.end += 32
    if (m.token) s.end += 32
    if (m.closerNodes && m.closerNodes.length > 0) closerNodesCodec.preencode(s, m.closerNodes)
    if (m.error > 0) uint.preencode(s, m.error)
    if (m.value) buffer.preencode(s, m.value)
  },
  encode (s, m) {
    const hasCloser = m.closerNodes !== null && m.closerNodes.length > 0
    s.buffer[s.start++] = RESPONSE_HEADER
    s.buffer[s.start++] = (m.id ? RES_ID : 0) | (m.token ? RES_TOKEN : 0) | (hasCloser ? RES_CLOSER : 0) |
      (m.error > 0 ? RES_ERROR : 0) | (m.value ? RES_VALUE : 0)
    uint16.encode(s, m.tid)
    ipv4Address.encode(s, m.to)
    if (m.id) fixed32.encode(s, m.id)
    if (m.token) fixed32.encode(s, m.token)
    if (hasCloser) closerNodesCodec.encode(s, m.closerNodes as IPv4Address[])
    if (m.error > 0) uint.encode(s, m.error)
    if (m.value) buffer.encode(s, m.value)
  },
  decode (s) {
    header(s, RESPONSE_HEADER)
    const flags = uint.decode(s)
    const tid = uint16.decode(s)
    const to = ipv4Address.decode(s)
    const id = flags & RES_ID ? fixed32.decode(s) : null
    const token = flags & RES_TOKEN ? fixed32.decode(s) : null
    // an empty list reads as none, as the encoder writes it: a decoded message re-encodes to the same value
    const closer = flags & RES_CLOSER ? closerNodesCodec.decode(s) : null
    const closerNodes = closer !== null && closer.length > 0 ? closer : null
    const error = flags & RES_ERROR ? uint.decode(s) : 0
    const value = flags & RES_VALUE ? buffer.decode(s) : null
    return { tid, to, id, token, closerNodes, error, value }
  }
}

export type DhtPacket =
  | { type: 'request', message: RequestMessage }
  | { type: 'response', message: ResponseMessage }

// Decodes one datagram. Anything that is not a well-formed request or response
// throws DecodeError; trailing bytes are tolerated, as the real decoder does.
export function decodeDhtPacket (datagram: Uint8Array): DhtPacket {
  const buf = Buffer.isBuffer(datagram) ? datagram : Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength)
  if (buf.byteLength < 2) throw new DecodeError('dht packet shorter than 2 bytes')
  const s = makeState(buf)
  try {
    if (buf[0] === REQUEST_HEADER) return { type: 'request', message: requestMessage.decode(s) }
    if (buf[0] === RESPONSE_HEADER) return { type: 'response', message: responseMessage.decode(s) }
  } catch (err) {
    if (err instanceof DecodeError) throw err
    throw new DecodeError((err as Error).message)
  }
  throw new DecodeError(`unexpected dht packet header 0x${buf[0].toString(16)}`)
}
