// Our hypercore/alpha, manifest and multisig codecs against hypercore@11's own
// lib/messages.js: same bytes out, same values in, same verdict on bad bytes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import * as ours from '../../src/codec/index.js'
import { DecodeError, type Codec } from '../../src/codec/index.js'
import * as g from '../codec/generators.js'
import { Rng, mutate } from '../codec/generators.js'

const require = createRequire(import.meta.url)
const cenc = require('compact-encoding')
const theirs = require('hypercore/lib/messages.js')
const multisig = require('hypercore/lib/multisig.js')

interface Pair {
  name: string
  ours: Codec<any>
  theirs: any
  gen: (r: Rng) => any
}

const pairs: Pair[] = [
  { name: 'handshake', ours: ours.handshake, theirs: theirs.wire.handshake, gen: g.genHandshake },
  { name: 'sync', ours: ours.syncMessage, theirs: theirs.wire.sync, gen: g.genSync },
  { name: 'request', ours: ours.requestMessage, theirs: theirs.wire.request, gen: g.genRequest },
  { name: 'cancel', ours: ours.cancelMessage, theirs: theirs.wire.cancel, gen: g.genCancel },
  { name: 'data', ours: ours.dataMessage, theirs: theirs.wire.data, gen: g.genData },
  { name: 'noData', ours: ours.noDataMessage, theirs: theirs.wire.noData, gen: g.genNoData },
  { name: 'want', ours: ours.wantMessage, theirs: theirs.wire.want, gen: g.genWant },
  { name: 'unwant', ours: ours.unwantMessage, theirs: theirs.wire.unwant, gen: g.genWant },
  { name: 'bitfield', ours: ours.bitfieldMessage, theirs: theirs.wire.bitfield, gen: g.genBitfield },
  { name: 'range', ours: ours.rangeMessage, theirs: theirs.wire.range, gen: g.genRange },
  { name: 'extension', ours: ours.extensionMessage, theirs: theirs.wire.extension, gen: g.genExtension },
  { name: 'manifest v0', ours: ours.manifest, theirs: theirs.manifest, gen: (r) => g.genManifest(r, 0) },
  { name: 'manifest v1', ours: ours.manifest, theirs: theirs.manifest, gen: (r) => g.genManifest(r, 1) },
  { name: 'manifest v2', ours: ours.manifest, theirs: theirs.manifest, gen: (r) => g.genManifest(r, 2) },
  { name: 'manifest v3', ours: ours.manifest, theirs: theirs.manifest, gen: (r) => g.genManifest(r, 3) },
  { name: 'multiSignature', ours: ours.multiSignature, theirs: theirs.multiSignature, gen: g.genMultiSignature },
  { name: 'multiSignatureV0', ours: ours.multiSignatureV0, theirs: theirs.multiSignaturev0, gen: g.genMultiSignatureV0 }
]

const VALUES = 400
const MUTATIONS = 1500

type Verdict = { ok: true, value: unknown, end: number } | { ok: false }

function oursDecode (codec: Codec<unknown>, bytes: Buffer): Verdict {
  const s = ours.state(bytes)
  try {
    return { ok: true, value: codec.decode(s), end: s.start }
  } catch (err) {
    if (err instanceof DecodeError) return { ok: false }
    throw err
  }
}

function theirsDecode (enc: any, bytes: Buffer): Verdict {
  const s = cenc.state(0, bytes.length, bytes)
  try {
    return { ok: true, value: enc.decode(s), end: s.start }
  } catch {
    return { ok: false }
  }
}

for (const [i, p] of pairs.entries()) {
  test(`${p.name}: ${VALUES} random values encode to hypercore's bytes and decode from them`, () => {
    const r = new Rng(0x1e7e0000 + i)
    for (let n = 0; n < VALUES; n++) {
      const v = p.gen(r)
      const expected: Buffer = cenc.encode(p.theirs, v)
      const got = ours.encode(p.ours, v)
      assert.equal(got.toString('hex'), expected.toString('hex'), `${p.name} value ${n}`)
      const decoded = ours.decode(p.ours, expected)
      assert.deepEqual(decoded, cenc.decode(p.theirs, expected), `${p.name} value ${n}`)
      assert.deepEqual(decoded, v, `${p.name} value ${n}`)
    }
  })

  test(`${p.name}: on ${MUTATIONS} mutated inputs we accept and reject exactly what hypercore does`, () => {
    const r = new Rng(0xbad00000 + i)
    let prev = ours.encode(p.ours, p.gen(r))
    let rejected = 0
    for (let n = 0; n < MUTATIONS; n++) {
      const valid = ours.encode(p.ours, p.gen(r))
      const input = mutate(r, valid, prev)
      prev = valid
      const a = oursDecode(p.ours, input)
      const b = theirsDecode(p.theirs, input)
      assert.deepEqual(a, b, `${p.name} input ${input.toString('hex')}`)
      if (!a.ok) rejected++
    }
    assert.ok(rejected > 0)
  })
}

test('the default signer manifest matches hypercore byte for byte', () => {
  const caps = require('hypercore/lib/caps.js')
  const pk = Buffer.alloc(32, 0x42)
  const m = ours.defaultSignerManifest(pk, caps.DEFAULT_NAMESPACE)
  assert.equal(ours.encode(ours.manifest, m).toString('hex'), cenc.encode(theirs.manifest, m).toString('hex'))
})

test('hypercore assembles multisig blobs that we decode, and 68 bytes for one signer', () => {
  const r = new Rng(7)
  const sig = r.bytes(64)
  const one: Buffer = multisig.assemble([{ signer: 0, signature: sig, patch: 0, nodes: null }])
  assert.equal(one.length, 68)
  assert.deepEqual(ours.decode(ours.multiSignature, one), { proofs: [{ signer: 0, signature: sig, patch: 0 }], patch: [] })

  const node = (index: number) => ({ index, size: index * 3, hash: r.bytes(32) })
  const shared = node(5)
  const inputs = [
    { signer: 0, signature: r.bytes(64), patch: 2, nodes: [shared, node(9)] },
    { signer: 2, signature: r.bytes(64), patch: 1, nodes: [shared] }
  ]
  const blob: Buffer = multisig.assemble(inputs)
  const decoded = ours.decode(ours.multiSignature, blob)
  assert.deepEqual(decoded, multisig.inflate(blob))
  assert.deepEqual(decoded.patch.map((n) => n.index), [5, 9]) // deduplicated by index
})

test('an extension name with a lone surrogate is written as hypercore writes it', () => {
  const v = { name: 'a\ud800b', message: Buffer.from([1]) }
  assert.equal(ours.encode(ours.extensionMessage, v).toString('hex'), cenc.encode(theirs.wire.extension, v).toString('hex'))
})
