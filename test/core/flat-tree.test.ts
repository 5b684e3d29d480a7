import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as flat from '../../src/core/flat-tree.js'

test('full roots split the length into descending powers of two', () => {
  assert.deepEqual(flat.fullRoots(20), [7, 17])
  assert.deepEqual(flat.fullRoots(22), [7, 17, 20])
  assert.deepEqual(flat.fullRoots(0), [])
  assert.deepEqual(flat.fullRoots(2), [0])
  assert.deepEqual(flat.fullRoots(16), [7])
})

test('parent, sibling, children and spans agree with each other', () => {
  for (let n = 0; n < 2000; n++) {
    const p = flat.parent(n)
    const s = flat.sibling(n)
    assert.equal(flat.parent(s), p)
    assert.deepEqual(flat.children(p)!.slice().sort((a, b) => a - b), [n, s].sort((a, b) => a - b))
    assert.ok(flat.leftSpan(p) <= flat.leftSpan(n) && flat.rightSpan(p) >= flat.rightSpan(n))
    assert.equal(flat.rightSpan(n) - flat.leftSpan(n), 2 * (flat.countLeaves(n) - 1))
    assert.ok(flat.contains(p, n))
    const d = flat.depth(n)
    assert.equal(flat.siblingAt(d, flat.offset(n, d)), s)
    assert.equal(flat.parentAt(d, flat.offset(n, d)), p)
  }
  assert.equal(flat.children(4), null)
})

test('indices past 2^32 do not overflow', () => {
  const big = 2 ** 40
  assert.equal(flat.parent(big), big + 1)
  assert.equal(flat.sibling(big), big + 2)
  assert.equal(flat.leftSpan(flat.parent(big)), big)
  assert.equal(flat.siblingAt(0, big / 2), big + 2)
  assert.equal(flat.parentAt(0, big / 2), big + 1)
})
