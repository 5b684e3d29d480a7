// The protobuf wire format that Hyperbee's messages use (docs/hyperbee.md §1):
// a field is pbvar(fieldNumber << 3 | wireType) ‖ payload, where pbvar is the
// protobuf varint (LEB128: 7 bits a byte, low group first, high bit = more;
// 300 = ac 02), not compact-encoding's uint. Wire types: 0 varint, 1 eight
// bytes, 2 pbvar length ‖ bytes, 5 four bytes (3 and 4, groups, are refused as
// the library refuses them). Unknown fields are skipped; a known field with the
// wrong wire type is refused. Packed repeated varints are one wire-type-2 field.
// These are helpers for the bee codecs, not codecs themselves.
import { DecodeError } from './decode-error.js'
import { type State, need } from './state.js'

export const WIRE_VARINT = 0
export const WIRE_LEN = 2

// 2^53 - 1 takes 8 groups of 7 bits; a longer varint cannot be a safe integer
const MAX_VARINT_BYTES = 8

export function varintSize (n: number): number {
  let size = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); size++ }
  return size
}

export function writeVarint (s: State, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`not a varint: ${n}`)
  while (n >= 0x80) {
    s.buffer[s.start++] = (n % 0x80) | 0x80
    n = Math.floor(n / 0x80)
  }
  s.buffer[s.start++] = n
}

export function readVarint (s: State): number {
  let v = 0
  let mul = 1
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    need(s, 1)
    const b = s.buffer[s.start++]
    v += (b & 0x7f) * mul
    if (b < 0x80) {
      if (v > Number.MAX_SAFE_INTEGER) throw new DecodeError('varint above 2^53-1')
      return v
    }
    mul *= 0x80
  }
  throw new DecodeError('varint too long')
}

export interface Tag { field: number, wire: number }

export function readTag (s: State): Tag {
  const t = readVarint(s)
  const field = Math.floor(t / 8)
  if (field === 0) throw new DecodeError('protobuf field number 0')
  return { field, wire: t % 8 }
}

export function tagSize (field: number): number {
  return varintSize(field * 8)
}

export function writeTag (s: State, field: number, wire: number): void {
  writeVarint(s, field * 8 + wire)
}

export function expectWire (tag: Tag, wire: number): void {
  if (tag.wire !== wire) throw new DecodeError(`field ${tag.field} has wire type ${tag.wire}, expected ${wire}`)
}

export function skipField (s: State, wire: number): void {
  switch (wire) {
    case 0: readVarint(s); return
    case 1: need(s, 8); s.start += 8; return
    case 2: { const n = readVarint(s); need(s, n); s.start += n; return }
    case 5: need(s, 4); s.start += 4; return
  }
  throw new DecodeError(`unsupported protobuf wire type ${wire}`)
}

// The payload of a wire-type-2 field as a state of its own; `s` moves past it.
export function readSub (s: State): State {
  const n = readVarint(s)
  need(s, n)
  const sub = { start: s.start, end: s.start + n, buffer: s.buffer }
  s.start += n
  return sub
}

export function bytesFieldSize (field: number, b: Uint8Array): number {
  return tagSize(field) + varintSize(b.byteLength) + b.byteLength
}

export function writeBytesField (s: State, field: number, b: Uint8Array): void {
  writeTag(s, field, WIRE_LEN)
  writeVarint(s, b.byteLength)
  s.buffer.set(b, s.start)
  s.start += b.byteLength
}

export function readBytes (s: State): Buffer {
  const sub = readSub(s)
  return sub.buffer.subarray(sub.start, sub.end)
}

export function varintFieldSize (field: number, n: number): number {
  return tagSize(field) + varintSize(n)
}

export function writeVarintField (s: State, field: number, n: number): void {
  writeTag(s, field, WIRE_VARINT)
  writeVarint(s, n)
}

function packedBytes (list: readonly number[]): number {
  let n = 0
  for (const x of list) n += varintSize(x)
  return n
}

// An empty list writes nothing, as the library's encoder does.
export function packedFieldSize (field: number, list: readonly number[]): number {
  const n = packedBytes(list)
  return n === 0 ? 0 : tagSize(field) + varintSize(n) + n
}

export function writePackedField (s: State, field: number, list: readonly number[]): void {
  const n = packedBytes(list)
  if (n === 0) return
  writeTag(s, field, WIRE_LEN)
  writeVarint(s, n)
  for (const x of list) writeVarint(s, x)
}

// Appends to `out`: a repeated packed field may occur more than once.
export function readPacked (s: State, out: number[]): void {
  const sub = readSub(s)
  while (sub.start < sub.end) out.push(readVarint(sub))
}

// The length-delimited framing of an embedded message whose body is `size` bytes.
export function messageFieldSize (field: number, size: number): number {
  return tagSize(field) + varintSize(size) + size
}

export function writeMessageHead (s: State, field: number, size: number): void {
  writeTag(s, field, WIRE_LEN)
  writeVarint(s, size)
}
