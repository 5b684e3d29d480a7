// Every exported decoder with a generator of valid values, for the fuzz test.
import * as c from '../../src/codec/index.js'
import type { Codec } from '../../src/codec/index.js'
import * as g from './generators.js'
import type { Rng } from './generators.js'

export interface CodecCase<T = any> {
  name: string
  codec: Codec<T>
  gen: (r: Rng) => T
  covers?: unknown[] // codecs this case exercises besides `codec` (halves of a split codec)
}

function kase<T> (name: string, codec: Codec<T>, gen: (r: Rng) => T): CodecCase {
  return { name, codec, gen }
}

function str (r: Rng): string {
  const chars = ['a', 'Z', '~', 'é', '中', '😀']
  let s = ''
  const n = r.int(12)
  for (let i = 0; i < n; i++) s += r.pick(chars)
  return s
}

export const primitiveCases: CodecCase[] = [
  kase('uint8', c.uint8, (r) => r.int(256)),
  kase('uint16', c.uint16, (r) => r.int(0x10000)),
  kase('uint24', c.uint24, (r) => r.int(0x1000000)),
  kase('uint32', c.uint32, (r) => r.int(2 ** 32)),
  kase('uint64', c.uint64, (r) => r.uint()),
  kase('uint', c.uint, (r) => r.uint()),
  kase('int', c.int, (r) => { const n = Math.floor(r.uint() / 2); return r.bool() ? n : -n - 1 }),
  kase('bool', c.bool, (r) => r.bool()),
  kase('buffer', c.buffer, (r) => r.bytes(r.int(40))),
  kase('optionalBuffer', c.optionalBuffer, (r) => r.chance(0.2) ? null : r.bytes(1 + r.int(40))),
  kase('raw', c.raw, (r) => r.bytes(r.int(40))),
  kase('fixed32', c.fixed32, (r) => r.bytes(32)),
  kase('fixed64', c.fixed64, (r) => r.bytes(64)),
  kase('string', c.string, str),
  kase('array(uint)', c.array(c.uint), (r) => Array.from({ length: r.int(6) }, () => r.uint())),
  kase('array(string, max 3)', c.array(c.string, 3), (r) => Array.from({ length: r.int(4) }, () => str(r))),
  kase('uint32array', c.uint32array, (r) => Uint32Array.from({ length: r.int(6) }, () => r.int(2 ** 32))),
  kase('frame(string)', c.frame(c.string), str),
  kase('ipv4Address', c.ipv4Address, (r) => ({ host: [r.int(256), r.int(256), r.int(256), r.int(256)].join('.'), port: r.int(0x10000) }))
]

export const hypercoreCases: CodecCase[] = [
  kase('treeNode', c.treeNode, g.genTreeNode),
  kase('treeNodeArray', c.treeNodeArray, g.genTreeNodes),
  kase('manifestSigner', c.manifestSigner, g.genSigner),
  kase('manifest', c.manifest, (r) => g.genManifest(r)),
  kase('multiSignature', c.multiSignature, g.genMultiSignature),
  kase('multiSignatureV0', c.multiSignatureV0, g.genMultiSignatureV0),
  kase('handshake', c.handshake, g.genHandshake),
  kase('syncMessage', c.syncMessage, g.genSync),
  kase('requestBlock', c.requestBlock, g.genRequestBlock),
  kase('requestSeek', c.requestSeek, g.genRequestSeek),
  kase('requestUpgrade', c.requestUpgrade, g.genRequestUpgrade),
  kase('requestMessage', c.requestMessage, g.genRequest),
  kase('cancelMessage', c.cancelMessage, g.genCancel),
  kase('dataBlock', c.dataBlock, g.genDataBlock),
  kase('dataHash', c.dataHash, g.genDataHash),
  kase('dataSeek', c.dataSeek, g.genDataSeek),
  kase('dataUpgrade', c.dataUpgrade, g.genDataUpgrade),
  kase('dataMessage', c.dataMessage, g.genData),
  kase('noDataMessage', c.noDataMessage, g.genNoData),
  kase('wantMessage', c.wantMessage, g.genWant),
  kase('unwantMessage', c.unwantMessage, g.genWant),
  kase('bitfieldMessage', c.bitfieldMessage, g.genBitfield),
  kase('rangeMessage', c.rangeMessage, g.genRange),
  kase('extensionMessage', c.extensionMessage, g.genExtension)
]

// our on-disk formats (src/codec/core-storage.ts)
export const storageCases: CodecCase[] = [
  kase('coreHeader', c.coreHeader, (r) => ({
    key: r.bytes(32),
    publicKey: r.bytes(32),
    secretKey: r.bool() ? r.bytes(64) : null,
    manifest: r.bool() ? r.bytes(1 + r.int(80)) : null,
    compat: r.bool()
  })),
  kase('coreState', c.coreState, (r) => ({
    seq: r.uint(), fork: r.uint(), length: r.uint(), byteLength: r.uint(), signature: r.bytes(r.int(100))
  }))
]


// the drive and trie formats, the mux open frame, the DHT packets and the
// HyperDHT values: every other decoder in src/codec
import { trieHeader } from '../../src/codec/trie-header.js'
import { trieNode } from '../../src/codec/trie-node.js'
import { driveHeader } from '../../src/codec/drive-header.js'
import { driveStat } from '../../src/codec/drive-stat.js'
import { driveMount } from '../../src/codec/drive-mount.js'
import { muxOpenHead } from '../../src/codec/mux-frames.js'
import * as dht from '../../src/codec/dht-messages.js'
import * as hdht from '../../src/codec/hyperdht-messages.js'
import { encode } from '../../src/codec/state.js'
import { beeHeader, beeNode, beeIndex, beeNodeHead, type BeeLevel } from '../../src/codec/bee-node.js'
import { beeExtension } from '../../src/codec/bee-extension.js'

const ipv4 = (r: Rng) => ({ host: [r.int(256), r.int(256), r.int(256), r.int(256)].join('.'), port: r.int(0x10000) })
const maybe = <T>(r: Rng, f: () => T): T | null => r.bool() ? f() : null
const addrs = (r: Rng, max = 4) => Array.from({ length: r.int(max + 1) }, () => ipv4(r))
const mount = (r: Rng) => ({ key: r.bytes(32), version: r.bool() ? null : r.small(), kind: r.pick(['drive', 'core'] as const) })

function trieLevels (r: Rng) {
  const levels = []
  let depth = -1
  for (let n = r.int(5); n > 0; n--) {
    depth += 1 + r.int(10)
    const bitmap = 1 + r.int(0x1ffff)
    const seqs = []
    for (let b = bitmap; b; b &= b - 1) seqs.push(r.small())
    levels.push({ depth, bitmap, seqs })
  }
  return levels
}

function beeLevels (r: Rng): BeeLevel[] {
  return Array.from({ length: r.int(4) }, () => {
    const keys = Array.from({ length: r.int(9) }, () => r.small())
    const children = r.bool() ? [] : Array.from({ length: keys.length + 1 }, () => ({ seq: r.small(), offset: r.int(5) }))
    return { keys, children }
  })
}

const orNull = (r: Rng, n = 20) => r.bool() ? null : r.bytes(r.int(n))

export const otherCases: CodecCase[] = [
  kase('trieHeader', trieHeader, (r) => ({ protocol: str(r), metadata: r.bool() ? null : r.bytes(1 + r.int(40)) })),
  kase('trieNode', trieNode, (r) => ({ key: str(r), hidden: r.bool(), value: r.bool() ? null : r.bytes(r.int(40)), levels: trieLevels(r) })),
  kase('driveHeader', driveHeader, (r) => ({ contentKey: r.bytes(32), blockSize: 1 + r.int(1 << 20) })),
  kase('driveMount', driveMount, mount),
  kase('driveStat', driveStat, (r) => {
    const metadata: Record<string, Buffer> = {}
    for (let n = r.int(3); n > 0; n--) metadata['k' + r.int(100)] = r.bytes(r.int(10))
    return {
      mode: r.int(0o200000), uid: r.small(), gid: r.small(), size: r.uint(), blocks: r.small(), offset: r.uint(), byteOffset: r.uint(),
      mtime: r.int(2 ** 41), ctime: r.int(2 ** 41), linkname: r.bool() ? null : str(r), metadata, mount: r.bool() ? null : mount(r),
      // version 1 entries: extents, holes (blocks 0) among runs anywhere in the core
      ...(r.bool() ? {} : { extents: Array.from({ length: r.int(5) }, () => r.bool() ? { offset: 0, blocks: 0, skip: 0, length: r.uint() } : { offset: r.uint(), blocks: 1 + r.small(), skip: r.small(), length: r.uint() }) })
    }
  }),
  kase('muxOpenHead', muxOpenHead, (r) => ({ localId: r.small(), protocol: str(r), id: r.bool() ? null : r.bytes(1 + r.int(33)) })),
  kase('dht.requestMessage', dht.requestMessage, (r) => ({
    tid: r.int(0x10000), to: ipv4(r), id: maybe(r, () => r.bytes(32)), token: maybe(r, () => r.bytes(32)), internal: r.bool(),
    command: r.small(), target: maybe(r, () => r.bytes(32)), value: maybe(r, () => r.bytes(1 + r.int(40)))
  })),
  kase('dht.responseMessage', dht.responseMessage, (r) => ({
    tid: r.int(0x10000), to: ipv4(r), id: maybe(r, () => r.bytes(32)), token: maybe(r, () => r.bytes(32)),
    closerNodes: r.bool() ? null : Array.from({ length: 1 + r.int(4) }, () => ipv4(r)), error: r.small(), value: maybe(r, () => r.bytes(1 + r.int(40)))
  })),
  kase('hdht.ipv6Address', hdht.ipv6Address, (r) => ({ host: Array.from({ length: 8 }, () => r.int(0x10000).toString(16)).join(':'), port: r.int(0x10000) })),
  kase('hdht.peerRecord', hdht.peerRecord, (r) => ({ publicKey: r.bytes(32), relayAddresses: addrs(r, 3) })),
  kase('hdht.announceMessage', hdht.announceMessage, (r) => ({
    peer: maybe(r, () => ({ publicKey: r.bytes(32), relayAddresses: addrs(r, 3) })), refresh: maybe(r, () => r.bytes(32)),
    signature: maybe(r, () => r.bytes(64)), bump: r.bool() ? 0 : r.uint()
  })),
  // a LOOKUP reply is written from raw records and read as peers: one case for both halves
  {
    name: 'hdht.lookupReply',
    covers: [hdht.lookupReplyOut, hdht.lookupReply],
    codec: {
      preencode: (s, m: hdht.LookupReply) => hdht.lookupReplyOut.preencode(s, { records: m.peers.map((p) => encode(hdht.peerRecord, p)), bump: m.bump }),
      encode: (s, m: hdht.LookupReply) => hdht.lookupReplyOut.encode(s, { records: m.peers.map((p) => encode(hdht.peerRecord, p)), bump: m.bump }),
      decode: (s) => hdht.lookupReply.decode(s)
    },
    gen: (r) => ({ peers: Array.from({ length: r.int(4) }, () => ({ publicKey: r.bytes(32), relayAddresses: addrs(r, 3) })), bump: r.bool() ? 0 : r.uint() })
  },
  kase('hdht.handshakeMessage', hdht.handshakeMessage, (r) => ({ mode: r.int(5), noise: r.bytes(1 + r.int(100)), peerAddress: maybe(r, () => ipv4(r)), relayAddress: maybe(r, () => ipv4(r)) })),
  kase('hdht.holepunchMessage', hdht.holepunchMessage, (r) => ({ mode: r.int(5), id: r.small(), payload: r.bytes(1 + r.int(100)), peerAddress: maybe(r, () => ipv4(r)) })),
  kase('hdht.noisePayload', hdht.noisePayload, (r) => ({
    version: 1, error: r.int(4), firewall: r.int(4),
    holepunch: maybe(r, () => ({ id: r.small(), relays: Array.from({ length: r.int(3) }, () => ({ relayAddress: ipv4(r), peerAddress: ipv4(r) })) })),
    addresses4: addrs(r, 3),
    addresses6: [],
    udx: maybe(r, () => ({ version: 1, reusableSocket: r.bool(), id: r.small(), seq: 0 })),
    secretStream: maybe(r, () => ({ version: 1 })),
    relayThrough: null,
    relayAddresses: r.bool() ? null : addrs(r, 3),
    tcp: maybe(r, () => ({ port: r.int(0x10000) }))
  })),
  kase('hdht.holepunchPayload', hdht.holepunchPayload, (r) => ({
    error: r.int(4), firewall: r.int(4), round: r.small(), connected: r.bool(), punching: r.bool(),
    addresses: r.bool() ? null : addrs(r, 3), remoteAddress: maybe(r, () => ipv4(r)), token: maybe(r, () => r.bytes(32)), remoteToken: maybe(r, () => r.bytes(32))
  })),
  // appended last so that the seeds of the cases above stay as they were
  kase('beeHeader', beeHeader, (r) => ({
    protocol: r.bool() ? 'hyperbee' : str(r),
    metadata: r.bool() ? null : { contentFeed: r.bool() ? null : r.bytes(32), userData: orNull(r) }
  })),
  kase('beeNode', beeNode, (r) => ({ index: beeLevels(r), key: r.bytes(r.int(20)), value: orNull(r, 40) })),
  kase('beeExtension', beeExtension, (r) => {
    const k = r.int(4)
    return {
      cache: k === 0 ? { start: r.small(), end: r.small(), blocks: Array.from({ length: r.int(6) }, () => r.small()) } : null,
      get: k === 1 ? { version: r.small(), key: orNull(r) } : null,
      iterator: k === 2 ? {
        version: r.small(), gte: orNull(r), gt: orNull(r), lte: orNull(r), lt: orNull(r), limit: r.small(), reverse: r.bool(),
        checkpoint: Array.from({ length: 3 * r.int(4) }, () => r.small())
      } : null
    }
  }),
  kase('beeIndex', beeIndex, beeLevels),
  kase('beeNodeHead', beeNodeHead, (r) => ({ index: encode(beeIndex, beeLevels(r)), key: r.bytes(r.int(20)), value: orNull(r, 40) }))
]

// every module in src/codec whose exports the fuzz test must cover
import * as trieHeaderModule from '../../src/codec/trie-header.js'
import * as trieNodeModule from '../../src/codec/trie-node.js'
import * as driveHeaderModule from '../../src/codec/drive-header.js'
import * as driveStatModule from '../../src/codec/drive-stat.js'
import * as driveMountModule from '../../src/codec/drive-mount.js'
import * as muxFramesModule from '../../src/codec/mux-frames.js'
import * as beeNodeModule from '../../src/codec/bee-node.js'
import * as beeExtensionModule from '../../src/codec/bee-extension.js'
import * as protobufModule from '../../src/codec/protobuf.js'
export const codecModules: Record<string, Record<string, unknown>> = {
  'trie-header': trieHeaderModule,
  'trie-node': trieNodeModule,
  'drive-header': driveHeaderModule,
  'drive-stat': driveStatModule,
  'drive-mount': driveMountModule,
  'mux-frames': muxFramesModule,
  'bee-node': beeNodeModule,
  'bee-extension': beeExtensionModule,
  protobuf: protobufModule,
  'dht-messages': dht,
  'hyperdht-messages': hdht
}
