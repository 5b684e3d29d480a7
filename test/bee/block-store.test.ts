import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseBlock } from '../../src/bee/block-store.js'
import { encode } from '../../src/codec/state.js'
import { beeNode, beeNodeHead } from '../../src/codec/bee-node.js'
import { isHyperfsError } from '../../src/errors.js'

test('a decoded bee block keeps its own bytes, not the message or read that brought it', () => {
  const block = encode(beeNode, { index: [{ keys: [1, 2], children: [] }], key: Buffer.from('some/key'), value: Buffer.from('a value') })
  // as a block arrives: a view into a frame that carries other answers too
  const frame = Buffer.alloc(64 * 1024)
  block.copy(frame, 1000)
  const b = parseBlock(3, frame.subarray(1000, 1000 + block.byteLength))
  assert.equal(b.key.toString(), 'some/key')
  assert.equal(b.value!.toString(), 'a value')
  assert.deepEqual(b.levels, [{ keys: [1, 2], children: [] }])
  assert.equal(b.key.buffer.byteLength, block.byteLength, 'the key pins the block only')
  assert.equal(b.value!.buffer.byteLength, block.byteLength, 'the value pins the block only')
})

test('a block is read for its key without its tree levels; damaged levels fail when walked', () => {
  const damaged = encode(beeNodeHead, { index: Buffer.from('0a05ffffffffff', 'hex'), key: Buffer.from('k'), value: Buffer.from('v') })
  const b = parseBlock(2, damaged)
  assert.equal(b.key.toString(), 'k')
  assert.throws(() => b.levels, (err) => isHyperfsError(err, 'DECODE_ERROR'))
  const later = encode(beeNode, { index: [{ keys: [1, 9], children: [] }], key: Buffer.from('k'), value: null })
  assert.throws(() => parseBlock(5, later).levels, (err) => isHyperfsError(err, 'INVALID_BEE'))
})
