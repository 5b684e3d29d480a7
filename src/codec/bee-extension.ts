// The `hyperbee` hypercore extension's message (docs/hyperbee.md §5), protobuf
// (codec/protobuf.ts). One of:
//   1 cache    Cache:    1 start (varint, required) ‖ 2 end (varint, required) ‖ 3 blocks (packed)
//   2 get      Get:      1 version (varint) ‖ 2 key (bytes)
//   3 iterator Iterator: 1 version ‖ 2 gte ‖ 3 gt ‖ 4 lte ‖ 5 lt (bytes) ‖ 6 limit (varint) ‖
//                        7 reverse (bool) ‖ 8 checkpoint (packed: seq, offset, i triples)
// Keys are the encoded bee keys. An iterator limit of 0 means no limit. This
// is the bytes inside hypercore's extension message, after its own framing.
import { DecodeError } from './decode-error.js'
import { type Codec, type State } from './state.js'
import {
  WIRE_LEN, WIRE_VARINT, readTag, expectWire, skipField, readSub, readBytes, readPacked, readVarint,
  bytesFieldSize, writeBytesField, packedFieldSize, writePackedField, messageFieldSize, writeMessageHead,
  varintFieldSize, writeVarintField
} from './protobuf.js'

export interface BeeCache { start: number, end: number, blocks: number[] }
export interface BeeGet { version: number, key: Buffer | null }
export interface BeeIterator {
  version: number
  gte: Buffer | null
  gt: Buffer | null
  lte: Buffer | null
  lt: Buffer | null
  limit: number
  reverse: boolean
  checkpoint: number[]
}

export interface BeeExtensionMessage {
  cache: BeeCache | null
  get: BeeGet | null
  iterator: BeeIterator | null
}

function cacheSize (c: BeeCache): number {
  return varintFieldSize(1, c.start) + varintFieldSize(2, c.end) + packedFieldSize(3, c.blocks)
}

function getSize (g: BeeGet): number {
  return varintFieldSize(1, g.version) + (g.key ? bytesFieldSize(2, g.key) : 0)
}

const RANGE_FIELDS = [['gte', 2], ['gt', 3], ['lte', 4], ['lt', 5]] as const

function iteratorSize (it: BeeIterator): number {
  let n = varintFieldSize(1, it.version)
  for (const [name, f] of RANGE_FIELDS) { const b = it[name]; if (b) n += bytesFieldSize(f, b) }
  return n + varintFieldSize(6, it.limit) + varintFieldSize(7, 1) + packedFieldSize(8, it.checkpoint)
}

function decodeCache (s: State): BeeCache {
  let start: number | null = null
  let end: number | null = null
  const blocks: number[] = []
  while (s.start < s.end) {
    const t = readTag(s)
    if (t.field === 1) { expectWire(t, WIRE_VARINT); start = readVarint(s) } else if (t.field === 2) { expectWire(t, WIRE_VARINT); end = readVarint(s) } else if (t.field === 3) { expectWire(t, WIRE_LEN); readPacked(s, blocks) } else skipField(s, t.wire)
  }
  if (start === null || end === null) throw new DecodeError('bee cache message without start or end')
  return { start, end, blocks }
}

function decodeGet (s: State): BeeGet {
  const g: BeeGet = { version: 0, key: null }
  while (s.start < s.end) {
    const t = readTag(s)
    if (t.field === 1) { expectWire(t, WIRE_VARINT); g.version = readVarint(s) } else if (t.field === 2) { expectWire(t, WIRE_LEN); g.key = readBytes(s) } else skipField(s, t.wire)
  }
  return g
}

function decodeIterator (s: State): BeeIterator {
  const it: BeeIterator = { version: 0, gte: null, gt: null, lte: null, lt: null, limit: 0, reverse: false, checkpoint: [] }
  while (s.start < s.end) {
    const t = readTag(s)
    switch (t.field) {
      case 1: expectWire(t, WIRE_VARINT); it.version = readVarint(s); break
      case 2: expectWire(t, WIRE_LEN); it.gte = readBytes(s); break
      case 3: expectWire(t, WIRE_LEN); it.gt = readBytes(s); break
      case 4: expectWire(t, WIRE_LEN); it.lte = readBytes(s); break
      case 5: expectWire(t, WIRE_LEN); it.lt = readBytes(s); break
      case 6: expectWire(t, WIRE_VARINT); it.limit = readVarint(s); break
      case 7: expectWire(t, WIRE_VARINT); it.reverse = readVarint(s) !== 0; break
      case 8: expectWire(t, WIRE_LEN); readPacked(s, it.checkpoint); break
      default: skipField(s, t.wire)
    }
  }
  return it
}

function messageSize (m: BeeExtensionMessage): number {
  return (m.cache ? messageFieldSize(1, cacheSize(m.cache)) : 0) +
    (m.get ? messageFieldSize(2, getSize(m.get)) : 0) +
    (m.iterator ? messageFieldSize(3, iteratorSize(m.iterator)) : 0)
}

// Decodes to the end of the state. Field order and presence follow the
// library's encoder, so a request we send is byte-identical to a real client's.
export const beeExtension: Codec<BeeExtensionMessage> = {
  preencode (s, m) { s.end += messageSize(m) },
  encode (s, m) {
    if (m.cache) {
      const c = m.cache
      writeMessageHead(s, 1, cacheSize(c))
      writeVarintField(s, 1, c.start)
      writeVarintField(s, 2, c.end)
      writePackedField(s, 3, c.blocks)
    }
    if (m.get) {
      writeMessageHead(s, 2, getSize(m.get))
      writeVarintField(s, 1, m.get.version)
      if (m.get.key) writeBytesField(s, 2, m.get.key)
    }
    if (m.iterator) {
      const it = m.iterator
      writeMessageHead(s, 3, iteratorSize(it))
      writeVarintField(s, 1, it.version)
      for (const [name, f] of RANGE_FIELDS) { const b = it[name]; if (b) writeBytesField(s, f, b) }
      writeVarintField(s, 6, it.limit)
      writeVarintField(s, 7, it.reverse ? 1 : 0)
      writePackedField(s, 8, it.checkpoint)
    }
  },
  decode (s) {
    const m: BeeExtensionMessage = { cache: null, get: null, iterator: null }
    while (s.start < s.end) {
      const t = readTag(s)
      if (t.field === 1) { expectWire(t, WIRE_LEN); m.cache = decodeCache(readSub(s)) } else if (t.field === 2) { expectWire(t, WIRE_LEN); m.get = decodeGet(readSub(s)) } else if (t.field === 3) { expectWire(t, WIRE_LEN); m.iterator = decodeIterator(readSub(s)) } else skipField(s, t.wire)
    }
    return m
  }
}
