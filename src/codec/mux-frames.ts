// protomux 3 frames (docs/wire.md §4.1). Every frame is one message of the underlying
// message-preserving stream:
//   channel message  uint channelId ‖ uint type ‖ payload
//   control          00 ‖ uint controlType ‖ body
//     0 batch   uint firstChannelId, then entries to the end of the frame:
//               uint len ‖ (uint type ‖ payload); len 0 = separator ‖ uint newChannelId
//     1 open    uint localId ‖ string protocol ‖ optionalBuffer id ‖ handshake (to the end)
//     2 reject  uint openerId
//     3 close   uint localId
// Control messages inside a batch sit under channel 0 as controlType ‖ body.
import { type Codec, type State, state as newState } from './state.js'
import { uint, string, optionalBuffer } from './primitives.js'

export const CONTROL_BATCH = 0
export const CONTROL_OPEN = 1
export const CONTROL_REJECT = 2
export const CONTROL_CLOSE = 3

export interface MuxOpenHead {
  localId: number
  protocol: string
  id: Uint8Array | null
}

// The open frame without its handshake, which the channel's own codec follows.
export const muxOpenHead: Codec<MuxOpenHead> = {
  preencode (s, v) {
    uint.preencode(s, v.localId)
    string.preencode(s, v.protocol)
    optionalBuffer.preencode(s, v.id)
  },
  encode (s, v) {
    uint.encode(s, v.localId)
    string.encode(s, v.protocol)
    optionalBuffer.encode(s, v.id)
  },
  decode (s) {
    const localId = uint.decode(s)
    const protocol = string.decode(s)
    const id = optionalBuffer.decode(s)
    return { localId, protocol, id: id === null ? null : Buffer.from(id) }
  }
}

// `channelId ‖ type ‖ value` (channelId 0 with a control type gives a control frame).
export function encodeFrame<T> (channelId: number, type: number, codec: Codec<T> | null, value: T): Buffer {
  const s = newState()
  uint.preencode(s, channelId)
  uint.preencode(s, type)
  if (codec !== null) codec.preencode(s, value)
  s.buffer = Buffer.allocUnsafe(s.end)
  uint.encode(s, channelId)
  uint.encode(s, type)
  if (codec !== null) codec.encode(s, value)
  return s.buffer
}

// `type ‖ value`: one batch entry body, or a control message inside a batch.
export function encodeEntry<T> (type: number, codec: Codec<T> | null, value: T): Buffer {
  const s = newState()
  uint.preencode(s, type)
  if (codec !== null) codec.preencode(s, value)
  s.buffer = Buffer.allocUnsafe(s.end)
  uint.encode(s, type)
  if (codec !== null) codec.encode(s, value)
  return s.buffer
}

export interface BatchEntry {
  channelId: number
  body: Buffer
}

export function batchLength (entries: BatchEntry[]): number {
  const s = newState()
  s.end = 2
  let prev = -1
  for (const e of entries) {
    if (e.channelId !== prev) {
      if (prev !== -1) s.end++
      uint.preencode(s, e.channelId)
      prev = e.channelId
    }
    uint.preencode(s, e.body.byteLength)
    s.end += e.body.byteLength
  }
  return s.end
}

export function encodeBatch (entries: BatchEntry[]): Buffer {
  const s: State = newState(Buffer.allocUnsafe(batchLength(entries)))
  s.buffer[s.start++] = 0
  s.buffer[s.start++] = CONTROL_BATCH
  let prev = -1
  for (const e of entries) {
    if (e.channelId !== prev) {
      if (prev !== -1) s.buffer[s.start++] = 0
      uint.encode(s, e.channelId)
      prev = e.channelId
    }
    uint.encode(s, e.body.byteLength)
    s.buffer.set(e.body, s.start)
    s.start += e.body.byteLength
  }
  return s.buffer
}
