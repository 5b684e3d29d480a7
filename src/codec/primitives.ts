// Primitive codecs, byte-compatible with compact-encoding 3.x.
import { DecodeError } from './decode-error.js'
import { type Codec, type State, need } from './state.js'

const MAX_ARRAY = 0x100000

export const uint8: Codec<number> = {
  preencode (s) { s.end += 1 },
  encode (s, v) { s.buffer[s.start++] = v },
  decode (s) { need(s, 1); return s.buffer[s.start++] }
}

export const uint16: Codec<number> = {
  preencode (s) { s.end += 2 },
  encode (s, v) { s.buffer.writeUInt16LE(v, s.start); s.start += 2 },
  decode (s) { need(s, 2); const v = s.buffer.readUInt16LE(s.start); s.start += 2; return v }
}

export const uint24: Codec<number> = {
  preencode (s) { s.end += 3 },
  encode (s, v) { s.buffer.writeUIntLE(v, s.start, 3); s.start += 3 },
  decode (s) { need(s, 3); const v = s.buffer.readUIntLE(s.start, 3); s.start += 3; return v }
}

export const uint32: Codec<number> = {
  preencode (s) { s.end += 4 },
  encode (s, v) { s.buffer.writeUInt32LE(v >>> 0, s.start); s.start += 4 },
  decode (s) { need(s, 4); const v = s.buffer.readUInt32LE(s.start); s.start += 4; return v }
}

export const uint64: Codec<number> = {
  preencode (s) { s.end += 8 },
  encode (s, v) {
    s.buffer.writeUInt32LE(v >>> 0, s.start)
    s.buffer.writeUInt32LE(Math.floor(v / 0x100000000), s.start + 4)
    s.start += 8
  },
  decode (s) {
    need(s, 8)
    const lo = s.buffer.readUInt32LE(s.start)
    const hi = s.buffer.readUInt32LE(s.start + 4)
    s.start += 8
    if (hi > 0x1fffff) throw new DecodeError('uint64 above 2^53-1')
    return hi * 0x100000000 + lo
  }
}

export const uint: Codec<number> = {
  preencode (s, v) {
    s.end += v <= 0xfc ? 1 : v <= 0xffff ? 3 : v <= 0xffffffff ? 5 : 9
  },
  encode (s, v) {
    const b = s.buffer
    if (v <= 0xfc) {
      b[s.start++] = v
    } else if (v <= 0xffff) {
      b[s.start++] = 0xfd
      b.writeUInt16LE(v, s.start); s.start += 2
    } else if (v <= 0xffffffff) {
      b[s.start++] = 0xfe
      b.writeUInt32LE(v, s.start); s.start += 4
    } else {
      b[s.start++] = 0xff
      uint64.encode(s, v)
    }
  },
  decode (s) {
    need(s, 1)
    const a = s.buffer[s.start++]
    if (a <= 0xfc) return a
    if (a === 0xfd) return uint16.decode(s)
    if (a === 0xfe) return uint32.decode(s)
    return uint64.decode(s)
  }
}

// zig-zag signed varint
export const int: Codec<number> = {
  preencode (s, v) { uint.preencode(s, v < 0 ? -2 * v - 1 : 2 * v) },
  encode (s, v) { uint.encode(s, v < 0 ? -2 * v - 1 : 2 * v) },
  decode (s) { const n = uint.decode(s); return n % 2 === 0 ? n / 2 : -(n + 1) / 2 }
}

export const bool: Codec<boolean> = {
  preencode (s) { s.end += 1 },
  encode (s, v) { s.buffer[s.start++] = v ? 1 : 0 },
  decode (s) { need(s, 1); return s.buffer[s.start++] === 1 }
}

function takeBytes (s: State, n: number): Buffer {
  need(s, n)
  const b = s.buffer.subarray(s.start, s.start + n)
  s.start += n
  return b
}

export const buffer: Codec<Uint8Array> = {
  preencode (s, v) { uint.preencode(s, v.byteLength); s.end += v.byteLength },
  encode (s, v) { uint.encode(s, v.byteLength); s.buffer.set(v, s.start); s.start += v.byteLength },
  decode (s) { return takeBytes(s, uint.decode(s)) }
}

export const optionalBuffer: Codec<Uint8Array | null> = {
  preencode (s, v) { if (v) buffer.preencode(s, v); else s.end += 1 },
  encode (s, v) { if (v) buffer.encode(s, v); else s.buffer[s.start++] = 0 },
  decode (s) { const n = uint.decode(s); return n === 0 ? null : takeBytes(s, n) }
}

// raw bytes to the end of the enclosing frame: valid only as a last field
export const raw: Codec<Uint8Array> = {
  preencode (s, v) { s.end += v.byteLength },
  encode (s, v) { s.buffer.set(v, s.start); s.start += v.byteLength },
  decode (s) { return takeBytes(s, s.end - s.start) }
}

export function fixed (n: number): Codec<Uint8Array> {
  return {
    preencode (s) { s.end += n },
    encode (s, v) {
      if (v.byteLength !== n) throw new TypeError(`expected ${n} bytes, got ${v.byteLength}`)
      s.buffer.set(v, s.start); s.start += n
    },
    decode (s) { return takeBytes(s, n) }
  }
}

export const fixed32 = fixed(32)
export const fixed64 = fixed(64)

export const string: Codec<string> = {
  preencode (s, v) { const n = Buffer.byteLength(v); uint.preencode(s, n); s.end += n },
  encode (s, v) {
    const n = Buffer.byteLength(v)
    uint.encode(s, n)
    s.buffer.write(v, s.start, n, 'utf8'); s.start += n
  },
  decode (s) { return takeBytes(s, uint.decode(s)).toString('utf8') }
}

export function array<T> (item: Codec<T>, max = MAX_ARRAY): Codec<T[]> {
  return {
    preencode (s, v) { uint.preencode(s, v.length); for (const x of v) item.preencode(s, x) },
    encode (s, v) { uint.encode(s, v.length); for (const x of v) item.encode(s, x) },
    decode (s) {
      const n = uint.decode(s)
      if (n > max) throw new DecodeError(`array of ${n} items is over the limit of ${max}`)
      // each item takes at least one byte: a cheap guard against huge counts in tiny frames
      if (n > s.end - s.start) throw new DecodeError('out of bounds')
      const out = new Array<T>(n)
      for (let i = 0; i < n; i++) out[i] = item.decode(s)
      return out
    }
  }
}

export const uint32array: Codec<Uint32Array> = {
  preencode (s, v) { uint.preencode(s, v.length); s.end += v.byteLength },
  encode (s, v) {
    uint.encode(s, v.length)
    for (let i = 0; i < v.length; i++) { s.buffer.writeUInt32LE(v[i], s.start); s.start += 4 }
  },
  decode (s) {
    const n = uint.decode(s)
    need(s, n * 4)
    const out = new Uint32Array(n)
    for (let i = 0; i < n; i++) { out[i] = s.buffer.readUInt32LE(s.start); s.start += 4 }
    return out
  }
}

// uint byteLength ‖ T
export function frame<T> (c: Codec<T>): Codec<T> {
  return {
    preencode (s, v) {
      const sub = { start: 0, end: 0, buffer: s.buffer }
      c.preencode(sub, v)
      uint.preencode(s, sub.end); s.end += sub.end
    },
    encode (s, v) {
      const sub = { start: 0, end: 0, buffer: s.buffer }
      c.preencode(sub, v)
      uint.encode(s, sub.end)
      c.encode(s, v)
    },
    decode (s) {
      const n = uint.decode(s)
      need(s, n)
      const sub = { start: s.start, end: s.start + n, buffer: s.buffer }
      const v = c.decode(sub)
      s.start += n
      return v
    }
  }
}

export interface IPv4Address { host: string, port: number }

// 4 address bytes in dotted order ‖ port uint16 LE
export const ipv4Address: Codec<IPv4Address> = {
  preencode (s) { s.end += 6 },
  encode (s, v) {
    const parts = v.host.split('.')
    if (parts.length !== 4) throw new TypeError('not an IPv4 address: ' + v.host)
    for (const p of parts) s.buffer[s.start++] = Number(p) & 0xff
    s.buffer.writeUInt16LE(v.port, s.start); s.start += 2
  },
  decode (s) {
    need(s, 6)
    const b = s.buffer
    const i = s.start
    const host = `${b[i]}.${b[i + 1]}.${b[i + 2]}.${b[i + 3]}`
    const port = b.readUInt16LE(i + 4)
    s.start += 6
    return { host, port }
  }
}
