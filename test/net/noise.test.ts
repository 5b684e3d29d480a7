import { test } from 'node:test'
import assert from 'node:assert/strict'
import { NoiseState } from '../../src/net/noise.js'
import { keyPair } from '../../src/crypto/sign.js'

test('an XX handshake carries payloads and gives both sides matching keys, hash and identities', () => {
  const a = keyPair()
  const b = keyPair()
  const i = new NoiseState('XX', true, a)
  const r = new NoiseState('XX', false, b)
  const m1 = i.send(Buffer.from('one'))
  assert.equal(m1.byteLength, 32 + 3, 'first message is e plus the plaintext payload')
  assert.equal(r.recv(m1).toString(), 'one')
  assert.equal(i.recv(r.send(Buffer.from('two'))).toString(), 'two')
  assert.equal(r.recv(i.send(Buffer.from('three'))).toString(), 'three')
  assert.ok(i.complete && r.complete)
  assert.equal(i.hash!.byteLength, 64)
  assert.deepEqual(i.hash, r.hash)
  assert.deepEqual(i.tx, r.rx)
  assert.deepEqual(i.rx, r.tx)
  assert.notDeepEqual(i.tx, i.rx)
  assert.deepEqual(i.remotePublicKey, b.publicKey)
  assert.deepEqual(r.remotePublicKey, a.publicKey)
})

test('XX messages with empty payloads have the sizes secret-stream sends', () => {
  const i = new NoiseState('XX', true, keyPair())
  const r = new NoiseState('XX', false, keyPair())
  const m1 = i.send()
  r.recv(m1)
  const m2 = r.send()
  i.recv(m2)
  const m3 = i.send()
  r.recv(m3)
  assert.deepEqual([m1.byteLength, m2.byteLength, m3.byteLength], [32, 96, 64])
})

test('an IK handshake with a prologue and payloads completes in two messages', () => {
  const a = keyPair()
  const b = keyPair()
  const prologue = Buffer.from('prologue bytes')
  const i = new NoiseState('IK', true, a, { prologue, remoteStaticKey: b.publicKey })
  const r = new NoiseState('IK', false, b, { prologue })
  assert.equal(r.recv(i.send(Buffer.from('hello'))).toString(), 'hello')
  assert.deepEqual(r.remotePublicKey, a.publicKey)
  assert.equal(i.recv(r.send(Buffer.from('world'))).toString(), 'world')
  assert.ok(i.complete && r.complete)
  assert.deepEqual(i.hash, r.hash)
  assert.deepEqual(i.tx, r.rx)
  assert.deepEqual(i.rx, r.tx)
})

test('an IK initiator with the wrong remote static key fails the handshake at the responder', () => {
  const b = keyPair()
  const i = new NoiseState('IK', true, keyPair(), { remoteStaticKey: keyPair().publicKey })
  const r = new NoiseState('IK', false, b)
  const m1 = i.send()
  assert.throws(() => r.recv(m1), { code: 'HANDSHAKE_FAILED' })
  assert.throws(() => r.send(), { code: 'HANDSHAKE_FAILED' }, 'a failed state stays failed')
})

test('IK sides with different prologues do not agree', () => {
  const b = keyPair()
  const i = new NoiseState('IK', true, keyPair(), { prologue: Buffer.from('a'), remoteStaticKey: b.publicKey })
  const r = new NoiseState('IK', false, b, { prologue: Buffer.from('b') })
  assert.throws(() => r.recv(i.send()), { code: 'HANDSHAKE_FAILED' })
})

test('an IK initiator without the remote static key is refused', () => {
  assert.throws(() => new NoiseState('IK', true, keyPair()), { code: 'BAD_ARGUMENT' })
})

test('a tampered, truncated or out-of-turn handshake message fails with HANDSHAKE_FAILED', () => {
  const i = new NoiseState('XX', true, keyPair())
  const r = new NoiseState('XX', false, keyPair())
  r.recv(i.send())
  const m2 = r.send()
  const bad = Buffer.from(m2)
  bad[50] ^= 1
  assert.throws(() => i.recv(bad), { code: 'HANDSHAKE_FAILED' })

  const i2 = new NoiseState('XX', true, keyPair())
  const r2 = new NoiseState('XX', false, keyPair())
  assert.throws(() => r2.recv(i2.send().subarray(0, 31)), { code: 'HANDSHAKE_FAILED' })

  const i3 = new NoiseState('XX', true, keyPair())
  assert.throws(() => i3.recv(Buffer.alloc(32)), { code: 'HANDSHAKE_FAILED' }, 'the initiator speaks first')
})
