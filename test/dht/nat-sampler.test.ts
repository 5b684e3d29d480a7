import { test } from 'node:test'
import assert from 'node:assert/strict'
import { NatSampler } from '../../src/dht/nat-sampler.js'

test('consistent samples give host and port', () => {
  const s = new NatSampler()
  for (let i = 0; i < 5; i++) s.add('1.2.3.4', 5000)
  assert.equal(s.host, '1.2.3.4')
  assert.equal(s.port, 5000)
})

test('a port that changes per peer is reported as randomised (port 0)', () => {
  const s = new NatSampler()
  for (let i = 0; i < 6; i++) s.add('1.2.3.4', 5000 + i)
  assert.equal(s.host, '1.2.3.4')
  assert.equal(s.port, 0)
})

test('one stray sample among many does not move the result, disagreement clears it', () => {
  const s = new NatSampler()
  for (let i = 0; i < 8; i++) s.add('1.2.3.4', 5000)
  s.add('9.9.9.9', 1)
  assert.equal(s.host, '1.2.3.4')
  assert.equal(s.port, 5000)
  const t = new NatSampler()
  t.add('1.1.1.1', 1)
  t.add('2.2.2.2', 2)
  assert.equal(t.host, null)
})
