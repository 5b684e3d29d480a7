// Every exported decoder with a generator of valid values, for the fuzz test.
import * as c from '../../src/codec/index.js'
import type { Codec } from '../../src/codec/index.js'
import * as g from './generators.js'
import type { Rng } from './generators.js'

export interface CodecCase<T = any> {
  name: string
  codec: Codec<T>
  gen: (r: Rng) => T
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

