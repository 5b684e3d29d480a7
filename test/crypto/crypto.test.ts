import { test } from 'node:test'
import assert from 'node:assert/strict'
import { NS, keyPair, leafHash, parentHash, treeHash, discoveryKey, namespace, sign, verify } from '../../src/crypto/index.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

test('hypercore namespaces match the fact sheet vectors', () => {
  assert.equal(hex(NS.TREE), '9fac70b50ca14efc4e91c833b204e75b8b5aad8b5881bfc0adb5ef38a3275b9c')
  assert.equal(hex(NS.REPLICATE_INITIATOR), '51812a2a359b50369536775df89e18e47740f3db72ac0ae70b29594c194dc316')
  assert.equal(hex(NS.REPLICATE_RESPONDER), '0438492d02970cc13528ac0262bca0074e0926260256865accc0bf15bd79127d')
  assert.equal(hex(NS.MANIFEST), 'e64b7108eacce47cfc61ac850568f55f8b15b82ec5ed78c4ec597b036e2a1498')
  assert.equal(hex(NS.DEFAULT_NAMESPACE), '4144eea531e483d54e0c14f4ca68e0644f355343ff6fcb0f005200e12cd747cb')
  const [init] = namespace('hyperswarm/secret-stream', 3)
  assert.equal(hex(init), 'a931a0155b5c09e6d28628236af83c4b8a6af9af60986edeede9dc5d63192bf7')
})

test('leaf, parent and tree hashes match the fact sheet vectors', () => {
  const a = { index: 0, size: 5, hash: leafHash(Buffer.from('hello')) }
  const b = { index: 2, size: 5, hash: leafHash(Buffer.from('world')) }
  assert.equal(hex(a.hash), 'f2391083cfaa8043205fed76cdff843902146ca92aebcd7a196814ec45d8c8f8')
  const p = { index: 1, size: 10, hash: parentHash(b, a) }
  assert.equal(hex(p.hash), '56826d33f98cbe1757d804b3ad818a97b61d7ae83d505ba5ca4fb619646355f9')
  assert.equal(hex(treeHash([p])), '28ac717e6b6a3fe16b4363f16cf1a308edceccf4a05ec501bd05fdbe5b42215b')
})

test('seeded key pair and discovery key match the fact sheet vectors', () => {
  const kp = keyPair(Buffer.alloc(32, 1))
  assert.equal(hex(kp.publicKey), '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c')
  assert.equal(hex(discoveryKey(kp.publicKey)), 'c1feb82a2b3ba065ffed9f6addcf19ac250793bcab748986a1b4272c62da20e6')
})

test('a signature verifies only for its own message and key', () => {
  const kp = keyPair()
  const msg = Buffer.from('hello')
  const sig = sign(msg, kp.secretKey)
  assert.ok(verify(msg, sig, kp.publicKey))
  assert.ok(!verify(Buffer.from('hellp'), sig, kp.publicKey))
  assert.ok(!verify(msg, sig, keyPair().publicKey))
  assert.ok(!verify(msg, sig.subarray(0, 63), kp.publicKey))
})
