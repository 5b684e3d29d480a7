import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RoutingTable, compareDistance } from '../../src/dht/routing-table.js'
import { randomBytes } from '../../src/crypto/index.js'

interface N { id: Buffer, n: number }

function idWithPrefixBits (base: Buffer, shared: number): Buffer {
  // same first `shared` bits as base, then a differing bit, then random
  const id = randomBytes(32)
  for (let i = 0; i < shared; i++) {
    const byte = i >> 3
    const mask = 0x80 >> (i & 7)
    id[byte] = (id[byte] & ~mask) | (base[byte] & mask)
  }
  const byte = shared >> 3
  const mask = 0x80 >> (shared & 7)
  id[byte] = (id[byte] & ~mask) | (~base[byte] & mask)
  return id
}

test('closest returns exactly the k nearest nodes by XOR distance, nearest first', () => {
  const self = randomBytes(32)
  const table = new RoutingTable<N>(self)
  const all: N[] = []
  for (let i = 0; i < 400; i++) {
    const n = { id: randomBytes(32), n: i }
    if (table.add(n)) all.push(n)
  }
  for (let t = 0; t < 50; t++) {
    const target = t % 5 === 0 ? self : randomBytes(32)
    const expected = all.slice().sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, 20)
    assert.deepEqual(table.closest(target).map((x) => x.n), expected.map((x) => x.n))
  }
})

test('a row holds at most k nodes and reports the rejected candidate', () => {
  const self = randomBytes(32)
  const rejected: N[] = []
  const table = new RoutingTable<N>(self, { onfull: (c) => rejected.push(c) })
  for (let i = 0; i < 25; i++) table.add({ id: idWithPrefixBits(self, 3), n: i })
  assert.equal(table.size, 20)
  assert.deepEqual(rejected.map((r) => r.n), [20, 21, 22, 23, 24])
  // other rows still accept
  assert.ok(table.add({ id: idWithPrefixBits(self, 4), n: 99 }))
  assert.equal(table.size, 21)
})

test('the table never grows past 256 rows of k nodes however many ids are offered', () => {
  const self = randomBytes(32)
  const table = new RoutingTable<N>(self, { k: 2 })
  for (let i = 0; i < 5000; i++) table.add({ id: randomBytes(32), n: i })
  assert.ok(table.size <= 256 * 2)
  assert.equal(table.toArray().length, table.size)
})

test('add replaces a node with the same id in place; get and remove find it; own id is refused', () => {
  const self = randomBytes(32)
  const table = new RoutingTable<N>(self)
  const id = randomBytes(32)
  assert.ok(table.add({ id, n: 1 }))
  assert.ok(table.add({ id: Buffer.from(id), n: 2 }))
  assert.equal(table.size, 1)
  assert.equal(table.get(id)?.n, 2)
  assert.equal(table.remove(id)?.n, 2)
  assert.equal(table.get(id), null)
  assert.equal(table.size, 0)
  assert.equal(table.add({ id: Buffer.from(self), n: 3 }), false)
  assert.equal(table.random(), null)
})
