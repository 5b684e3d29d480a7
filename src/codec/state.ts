// compact-encoding style codecs: preencode measures, encode writes, decode reads,
// all over one cursor. A decoder never reads past `end`; on bad bytes it throws
// DecodeError. Integers are little-endian; `uint` is the 1/3/5/9-byte varint
// (<= 0xfc, fd+u16, fe+u32, ff+u64), encoded shortest, decoded leniently.
import { DecodeError } from './decode-error.js'

export interface State {
  start: number
  end: number
  buffer: Buffer
}

export interface Codec<T> {
  preencode (state: State, value: T): void
  encode (state: State, value: T): void
  decode (state: State): T
}

const EMPTY = Buffer.alloc(0)

export function state (buffer: Buffer = EMPTY, start = 0, end = buffer.byteLength): State {
  return { start, end, buffer }
}

export function encode<T> (codec: Codec<T>, value: T): Buffer {
  const s = state()
  codec.preencode(s, value)
  s.buffer = Buffer.allocUnsafe(s.end)
  codec.encode(s, value)
  if (s.start !== s.end) throw new Error('codec preencode/encode mismatch')
  return s.buffer
}

export function encodingLength<T> (codec: Codec<T>, value: T): number {
  const s = state()
  codec.preencode(s, value)
  return s.end
}

// Decodes a whole buffer. Trailing bytes are an error unless `allowTrailing`.
export function decode<T> (codec: Codec<T>, buffer: Uint8Array, allowTrailing = false): T {
  const buf = Buffer.isBuffer(buffer) ? buffer : Buffer.from(buffer.buffer, buffer.byteOffset, buffer.byteLength)
  const s = state(buf)
  let v: T
  try {
    v = codec.decode(s)
  } catch (err) {
    if (err instanceof DecodeError) throw err
    throw new DecodeError((err as Error).message)
  }
  if (!allowTrailing && s.start !== s.end) throw new DecodeError(`${s.end - s.start} trailing bytes`)
  return v
}

export function need (s: State, n: number): void {
  if (s.end - s.start < n) throw new DecodeError('out of bounds')
}
