import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Tokens } from '../../src/dht/tokens.js'
import { keyedHash } from '../../src/crypto/index.js'

test('a token verifies for its host through one rotation and fails after two', () => {
  const t = new Tokens()
  const token = t.create('1.2.3.4')
  assert.ok(t.verify('1.2.3.4', token))
  assert.ok(!t.verify('1.2.3.5', token))
  t.rotate()
  assert.ok(t.verify('1.2.3.4', token), 'still valid from the older slot')
  assert.ok(!t.create('1.2.3.4').equals(token), 'new tokens come from the new secret')
  t.rotate()
  assert.ok(!t.verify('1.2.3.4', token))
})

test('a token is the host string hashed with the secret in the key slot', () => {
  const t = new Tokens()
  // after one rotation the old current secret sits in slot 0
  const before = t.create('9.8.7.6', 1)
  t.rotate()
  assert.ok(t.create('9.8.7.6', 0).equals(before))
  assert.equal(before.byteLength, 32)
  assert.ok(!before.equals(keyedHash(Buffer.alloc(32), Buffer.from('9.8.7.6'))))
})

test('tokens of the wrong length never verify', () => {
  const t = new Tokens()
  assert.ok(!t.verify('1.2.3.4', t.create('1.2.3.4').subarray(0, 31)))
})
