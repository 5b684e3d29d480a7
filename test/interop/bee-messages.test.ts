// Our bee codecs against hyperbee@2's lib/messages.js: random headers, nodes
// and extension messages encode to the same bytes, and decode back the same.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode, decode } from '../../src/codec/state.js'
import { beeHeader, beeNode, beeIndexSize, type BeeLevel } from '../../src/codec/bee-node.js'
import { beeExtension, type BeeExtensionMessage } from '../../src/codec/bee-extension.js'
import { Rng } from '../codec/generators.js'
import { oracle } from '../helpers/oracle.js'

const real = oracle('hyperbee/lib/messages.js')

const ROUNDS = 500

function levels (r: Rng): BeeLevel[] {
  return Array.from({ length: r.int(5) }, () => {
    const keys = Array.from({ length: r.int(9) }, () => r.small())
    const children = keys.length === 0 || r.bool() ? [] : Array.from({ length: keys.length + 1 }, () => ({ seq: r.small(), offset: r.int(40) }))
    return { keys, children }
  })
}

const flat = (l: BeeLevel) => ({ keys: l.keys, children: l.children.flatMap((c) => [c.seq, c.offset]) })
const maybe = (r: Rng, n = 30) => r.bool() ? null : r.bytes(r.int(n))

test('nodes and their indexes encode as hyperbee@2 encodes them', () => {
  const r = new Rng(11)
  for (let i = 0; i < ROUNDS; i++) {
    const index = levels(r)
    const node = { index, key: r.bytes(r.int(30)), value: maybe(r, 200) }
    const realIndex = real.YoloIndex.encode({ levels: index.map(flat) })
    assert.equal(beeIndexSize(index), realIndex.byteLength)
    const realNode = real.Node.encode({ index: realIndex, key: node.key, value: node.value })
    const ours = encode(beeNode, node)
    assert.equal(ours.toString('hex'), realNode.toString('hex'), 'round ' + i)
    assert.deepEqual(decode(beeNode, realNode), node)
  }
})

test('headers encode as hyperbee@2 encodes them', () => {
  const r = new Rng(12)
  for (let i = 0; i < ROUNDS; i++) {
    const h = { protocol: r.bool() ? 'hyperbee' : r.bytes(r.int(10)).toString('hex'), metadata: r.bool() ? null : { contentFeed: maybe(r), userData: maybe(r) } }
    const theirs = real.Header.encode(h)
    assert.equal(encode(beeHeader, h).toString('hex'), theirs.toString('hex'))
    assert.deepEqual(decode(beeHeader, theirs), h)
  }
})

test('extension messages encode as hyperbee@2 encodes them', () => {
  const r = new Rng(13)
  for (let i = 0; i < ROUNDS; i++) {
    const k = i % 3
    const m: BeeExtensionMessage = {
      cache: k === 0 ? { start: r.small(), end: r.small(), blocks: Array.from({ length: r.int(10) }, () => r.small()) } : null,
      get: k === 1 ? { version: r.small(), key: r.bytes(r.int(20)) } : null,
      iterator: k === 2
        ? { version: r.small(), gte: maybe(r), gt: maybe(r), lte: maybe(r), lt: maybe(r), limit: r.small(), reverse: r.bool(), checkpoint: Array.from({ length: 3 * r.int(5) }, () => r.small()) }
        : null
    }
    const theirs = real.Extension.encode(m)
    assert.equal(encode(beeExtension, m).toString('hex'), theirs.toString('hex'), 'round ' + i)
    assert.deepEqual(decode(beeExtension, theirs), m)
  }
})
