import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  manifest, multiSignature, multiSignatureV0, defaultSignerManifest, encode, decode, DecodeError,
  type Manifest
} from '../../src/codec/index.js'
import { NS, keyPair, manifestHash, treeSignable, verify } from '../../src/crypto/index.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

const seedKey = keyPair(Buffer.alloc(32, 1))
const ns = Buffer.alloc(32, 0xaa)
const pk = Buffer.alloc(32, 0xbb)

// docs/wire.md §2.4 says 72 bytes, but its own layout (6 + 32 + 32) is 70, and so is
// hypercore's encoding
test('the default signer manifest encodes to the 70 bytes whose hash is the fact-sheet core key', () => {
  const m = defaultSignerManifest(seedKey.publicKey, NS.DEFAULT_NAMESPACE)
  const bytes = encode(manifest, m)
  assert.equal(bytes.length, 70)
  assert.equal(hex(bytes), '010000010100' + hex(NS.DEFAULT_NAMESPACE) + hex(seedKey.publicKey))
  assert.equal(hex(manifestHash(bytes)), 'd8c3a0597903b28d751c6e0b7107775e388ec5a3cf669bdd1e7ec41b8b8f6e72')
  assert.deepEqual(decode(manifest, bytes), m)
})

test('a one-signer multisig blob is 68 bytes and carries the fact-sheet v1 signature', () => {
  const sig = h('74712abd908a23442ac16b4e9d81d6b110213f0e7c8e067a29e6768038e584151f8bfa9f1c86f3711266c81d3c69f8e6ab439171249e38bf72d8255dad0a1d0f')
  const blob = encode(multiSignature, { proofs: [{ signer: 0, signature: sig, patch: 0 }], patch: [] })
  assert.equal(hex(blob), '0100' + hex(sig) + '0000')

  const key = manifestHash(encode(manifest, defaultSignerManifest(seedKey.publicKey, NS.DEFAULT_NAMESPACE)))
  const tree = h('28ac717e6b6a3fe16b4363f16cf1a308edceccf4a05ec501bd05fdbe5b42215b')
  const { proofs, patch } = decode(multiSignature, blob)
  assert.deepEqual(patch, [])
  assert.ok(verify(treeSignable(key, tree, 2, 0), proofs[0].signature, seedKey.publicKey))
})

test('a multisig blob with patches lists proofs, then the shared nodes', () => {
  const sig = Buffer.alloc(64, 7)
  const node = { index: 300, size: 65536, hash: Buffer.alloc(32, 9) }
  const blob = encode(multiSignature, { proofs: [{ signer: 2, signature: sig, patch: 3 }], patch: [node] })
  assert.equal(hex(blob), '0102' + hex(sig) + '03' + '01' + 'fd2c01' + 'fe00000100' + hex(node.hash))
  assert.deepEqual(decode(multiSignature, blob).patch, [node])
})

test('a version-0 multisig blob flags each proof that carries a patch', () => {
  const sig = Buffer.alloc(64, 3)
  const v = {
    proofs: [
      { signer: 0, signature: sig, patch: null },
      { signer: 1, signature: sig, patch: { start: 4, length: 2, nodes: [0, 1] } }
    ],
    patch: [{ index: 9, size: 1, hash: Buffer.alloc(32, 1) }]
  }
  const blob = encode(multiSignatureV0, v)
  assert.equal(hex(blob), '02' + '0000' + hex(sig) + '0101' + hex(sig) + '0402020001' + '01' + '0901' + '01'.repeat(32))
  assert.deepEqual(decode(multiSignatureV0, blob), v)
})

test('version-0 manifests use the static, single-signer and multi-signer bodies', () => {
  const base = { version: 0, hash: 'blake2b' as const, linked: null, userData: null }
  const staticCore: Manifest = { ...base, allowPatch: false, quorum: 0, signers: [], prologue: { hash: ns, length: 0 } }
  assert.equal(hex(encode(manifest, staticCore)), '000000' + hex(ns))

  const single: Manifest = { ...base, allowPatch: false, quorum: 1, signers: [{ signature: 'ed25519', namespace: ns, publicKey: pk }], prologue: null }
  assert.equal(hex(encode(manifest, single)), '00000100' + hex(ns) + hex(pk))

  const multi: Manifest = { ...single, allowPatch: true, quorum: 2, signers: [single.signers[0], single.signers[0]] }
  assert.equal(hex(encode(manifest, multi)), '0000020102' + '02' + ('00' + hex(ns) + hex(pk)).repeat(2))

  for (const m of [staticCore, single, multi]) assert.deepEqual(decode(manifest, encode(manifest, m)), m)
})

test('a version-0 static manifest drops the prologue length', () => {
  const m: Manifest = { version: 0, hash: 'blake2b', allowPatch: false, quorum: 0, signers: [], prologue: { hash: ns, length: 10 }, linked: null, userData: null }
  assert.equal(decode(manifest, encode(manifest, m)).prologue?.length, 0)
})

test('version-2 fields are written in flag order after the signers', () => {
  const m: Manifest = {
    version: 2,
    hash: 'blake2b',
    allowPatch: true,
    quorum: 0,
    signers: [],
    prologue: { hash: ns, length: 253 },
    linked: [pk],
    userData: Buffer.from('hi')
  }
  const bytes = encode(manifest, m)
  assert.equal(hex(bytes), '02' + '0f' + '00' + '00' + '00' + hex(ns) + 'fdfd00' + '01' + hex(pk) + '026869')
  assert.deepEqual(decode(manifest, bytes), m)
})

test('version 3 decodes and version 4 is rejected', () => {
  const v3 = encode(manifest, { ...defaultSignerManifest(pk, ns), version: 3 })
  assert.equal(decode(manifest, v3).version, 3)
  const v4 = Buffer.from(v3)
  v4[0] = 4
  assert.throws(() => decode(manifest, v4), DecodeError)
  assert.throws(() => encode(manifest, { ...defaultSignerManifest(pk, ns), version: 4 }), TypeError)
})

test('unknown hash, signature and version-0 body types are decode errors', () => {
  const good = encode(manifest, defaultSignerManifest(pk, ns))
  const badHash = Buffer.from(good); badHash[2] = 1
  const badSig = Buffer.from(good); badSig[5] = 1
  assert.throws(() => decode(manifest, badHash), /DECODE_ERROR: unknown manifest hash id 1/)
  assert.throws(() => decode(manifest, badSig), /DECODE_ERROR: unknown signature type id 1/)
  assert.throws(() => decode(manifest, h('000003')), /DECODE_ERROR: unknown version 0 manifest type 3/)
  assert.throws(() => decode(manifest, h('000100')), /DECODE_ERROR: unknown manifest hash id 1/)
})

test('encoding an unknown hash or signature type is a TypeError, not bytes', () => {
  const m = defaultSignerManifest(pk, ns)
  assert.throws(() => encode(manifest, { ...m, hash: 'sha256' as 'blake2b' }), TypeError)
  assert.throws(() => encode(manifest, { ...m, signers: [{ ...m.signers[0], signature: 'rsa' as 'ed25519' }] }), TypeError)
})

test('a manifest cut anywhere short of its end is a decode error', () => {
  const bytes = encode(manifest, defaultSignerManifest(pk, ns))
  for (let n = 0; n < bytes.length; n++) {
    assert.throws(() => decode(manifest, bytes.subarray(0, n)), DecodeError, `length ${n}`)
  }
})
