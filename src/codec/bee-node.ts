// Hyperbee blocks (docs/hyperbee.md §1), protobuf messages (codec/protobuf.ts).
// Block 0 is a Header:
//   1 protocol (string, required: "hyperbee") ‖ 2 metadata (Metadata, optional)
//   Metadata: 1 contentFeed (bytes) ‖ 2 userData (bytes)
// Every later block is a Node, fields in this order:
//   1 index (bytes, required: an encoded YoloIndex) ‖ 2 key (bytes, required) ‖
//   3 value (bytes, absent for a deletion; an empty value is 1a 00)
//   YoloIndex: 1 levels (repeated Level, one field each)
//   Level: 1 keys (packed varints: block seqs) ‖ 2 children (packed varints:
//   flat seq, offset pairs); empty lists are left out, so an empty leaf is 0a 00
// A level is one B-tree node; a key seq names the block that holds that key,
// and a child (seq, offset) is levels[offset] of block seq.
import { DecodeError } from './decode-error.js'
import { type Codec, type State } from './state.js'
import {
  WIRE_LEN, readTag, expectWire, skipField, readSub, readBytes, readPacked,
  bytesFieldSize, writeBytesField, packedFieldSize, writePackedField, messageFieldSize, writeMessageHead
} from './protobuf.js'

export const BEE_PROTOCOL = 'hyperbee'

export interface BeeMetadata {
  contentFeed: Buffer | null
  userData: Buffer | null
}

export interface BeeHeader {
  protocol: string
  metadata: BeeMetadata | null
}

export interface BeeChild { seq: number, offset: number }

export interface BeeLevel {
  keys: number[]
  children: BeeChild[]
}

export interface BeeNodeRecord {
  index: BeeLevel[]
  key: Buffer
  value: Buffer | null
}

function metadataSize (m: BeeMetadata): number {
  return (m.contentFeed ? bytesFieldSize(1, m.contentFeed) : 0) + (m.userData ? bytesFieldSize(2, m.userData) : 0)
}

function headerSize (h: BeeHeader): number {
  let n = bytesFieldSize(1, Buffer.from(h.protocol))
  if (h.metadata) n += messageFieldSize(2, metadataSize(h.metadata))
  return n
}

function decodeMetadata (s: State): BeeMetadata {
  const m: BeeMetadata = { contentFeed: null, userData: null }
  while (s.start < s.end) {
    const t = readTag(s)
    if (t.field === 1) { expectWire(t, WIRE_LEN); m.contentFeed = readBytes(s) } else if (t.field === 2) { expectWire(t, WIRE_LEN); m.userData = readBytes(s) } else skipField(s, t.wire)
  }
  return m
}

// Decodes to the end of the state: a protobuf message carries no length of its own.
export const beeHeader: Codec<BeeHeader> = {
  preencode (s, h) { s.end += headerSize(h) },
  encode (s, h) {
    writeBytesField(s, 1, Buffer.from(h.protocol))
    if (h.metadata) {
      writeMessageHead(s, 2, metadataSize(h.metadata))
      if (h.metadata.contentFeed) writeBytesField(s, 1, h.metadata.contentFeed)
      if (h.metadata.userData) writeBytesField(s, 2, h.metadata.userData)
    }
  },
  decode (s) {
    let protocol: string | null = null
    let metadata: BeeMetadata | null = null
    while (s.start < s.end) {
      const t = readTag(s)
      if (t.field === 1) { expectWire(t, WIRE_LEN); protocol = readBytes(s).toString('utf8') } else if (t.field === 2) { expectWire(t, WIRE_LEN); metadata = decodeMetadata(readSub(s)) } else skipField(s, t.wire)
    }
    if (protocol === null) throw new DecodeError('bee header without a protocol')
    return { protocol, metadata }
  }
}

function flatChildren (l: BeeLevel): number[] {
  const out: number[] = []
  for (const c of l.children) out.push(c.seq, c.offset)
  return out
}

function levelSize (l: BeeLevel): number {
  return packedFieldSize(1, l.keys) + packedFieldSize(2, flatChildren(l))
}

export function beeIndexSize (index: readonly BeeLevel[]): number {
  let n = 0
  for (const l of index) n += messageFieldSize(1, levelSize(l))
  return n
}

function writeIndex (s: State, index: readonly BeeLevel[]): void {
  for (const l of index) {
    writeMessageHead(s, 1, levelSize(l))
    writePackedField(s, 1, l.keys)
    writePackedField(s, 2, flatChildren(l))
  }
}

function decodeLevel (s: State): BeeLevel {
  const keys: number[] = []
  const flat: number[] = []
  while (s.start < s.end) {
    const t = readTag(s)
    if (t.field === 1) { expectWire(t, WIRE_LEN); readPacked(s, keys) } else if (t.field === 2) { expectWire(t, WIRE_LEN); readPacked(s, flat) } else skipField(s, t.wire)
  }
  if (flat.length % 2 !== 0) throw new DecodeError('bee level with an odd number of child numbers')
  const children: BeeChild[] = []
  for (let i = 0; i < flat.length; i += 2) children.push({ seq: flat[i], offset: flat[i + 1] })
  return { keys, children }
}

function decodeIndex (s: State): BeeLevel[] {
  const levels: BeeLevel[] = []
  while (s.start < s.end) {
    const t = readTag(s)
    if (t.field === 1) { expectWire(t, WIRE_LEN); levels.push(decodeLevel(readSub(s))) } else skipField(s, t.wire)
  }
  return levels
}

// A YoloIndex on its own: what a node's field 1 holds.
export const beeIndex: Codec<BeeLevel[]> = {
  preencode (s, index) { s.end += beeIndexSize(index) },
  encode (s, index) { writeIndex(s, index) },
  decode (s) { return decodeIndex(s) }
}

// A node whose index stays encoded until it is walked (hyperbee too inflates
// it only then): a block read for its key costs no index decoding and keeps
// only its own bytes.
export interface BeeNodeHead {
  index: Buffer
  key: Buffer
  value: Buffer | null
}

export const beeNodeHead: Codec<BeeNodeHead> = {
  preencode (s, n) { s.end += bytesFieldSize(1, n.index) + bytesFieldSize(2, n.key) + (n.value ? bytesFieldSize(3, n.value) : 0) },
  encode (s, n) {
    writeBytesField(s, 1, n.index)
    writeBytesField(s, 2, n.key)
    if (n.value) writeBytesField(s, 3, n.value)
  },
  decode (s) {
    let index: Buffer | null = null
    let key: Buffer | null = null
    let value: Buffer | null = null
    while (s.start < s.end) {
      const t = readTag(s)
      if (t.field === 1) { expectWire(t, WIRE_LEN); index = readBytes(s) } else if (t.field === 2) { expectWire(t, WIRE_LEN); key = readBytes(s) } else if (t.field === 3) { expectWire(t, WIRE_LEN); value = readBytes(s) } else skipField(s, t.wire)
    }
    if (index === null || key === null) throw new DecodeError('bee node without ' + (index === null ? 'an index' : 'a key'))
    return { index, key, value }
  }
}

function nodeSize (n: BeeNodeRecord): number {
  const index = beeIndexSize(n.index)
  return messageFieldSize(1, index) + bytesFieldSize(2, n.key) + (n.value ? bytesFieldSize(3, n.value) : 0)
}

export const beeNode: Codec<BeeNodeRecord> = {
  preencode (s, n) { s.end += nodeSize(n) },
  encode (s, n) {
    writeMessageHead(s, 1, beeIndexSize(n.index))
    writeIndex(s, n.index)
    writeBytesField(s, 2, n.key)
    if (n.value) writeBytesField(s, 3, n.value)
  },
  decode (s) {
    let index: BeeLevel[] | null = null
    let key: Buffer | null = null
    let value: Buffer | null = null
    while (s.start < s.end) {
      const t = readTag(s)
      if (t.field === 1) { expectWire(t, WIRE_LEN); index = decodeIndex(readSub(s)) } else if (t.field === 2) { expectWire(t, WIRE_LEN); key = readBytes(s) } else if (t.field === 3) { expectWire(t, WIRE_LEN); value = readBytes(s) } else skipField(s, t.wire)
    }
    if (index === null || key === null) throw new DecodeError('bee node without ' + (index === null ? 'an index' : 'a key'))
    return { index, key, value }
  }
}
