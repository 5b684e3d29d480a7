import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z32 } from '../../src/fuse/z32.js'

test('z32 encodes keys as hyper:// links do', () => {
  assert.equal(z32(Buffer.alloc(32)), 'y'.repeat(52))
  // outputs of the z32 npm package, which hypercore-id-encoding uses
  assert.equal(z32(Buffer.from([0xf0])), '6y')
  assert.equal(z32(Buffer.from('hello world')), 'pb1sa5dxrb5s6hucco')
  assert.equal(z32(Buffer.from([0xd4, 0x7a, 0x04])), '4t7ye')
})
