import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Bitfield, PAGE_BITS } from '../../src/core/bitfield.js'
import { prng } from '../helpers/tmp.js'

test('set ranges are reflected by get, firstSet, firstUnset and count', () => {
  const b = new Bitfield()
  b.setRange(10, 100, true)
  b.setRange(PAGE_BITS - 5, PAGE_BITS + 7, true)
  assert.equal(b.get(9), false)
  assert.equal(b.get(10), true)
  assert.equal(b.get(99), true)
  assert.equal(b.get(100), false)
  assert.equal(b.firstSet(0), 10)
  assert.equal(b.firstUnset(10), 100)
  assert.equal(b.firstSet(100), PAGE_BITS - 5)
  assert.equal(b.firstUnset(PAGE_BITS - 5), PAGE_BITS + 7)
  assert.equal(b.count(0, 3 * PAGE_BITS), 90 + 12)
  assert.deepEqual([...b.runs()], [[10, 100], [PAGE_BITS - 5, PAGE_BITS + 7]])
  b.setRange(20, 30, false)
  assert.equal(b.firstUnset(10), 20)
  assert.equal(b.firstSet(20), 30)
  assert.equal(b.firstSet(PAGE_BITS + 7), -1)
})

test('a bitfield survives persistence of its dirty pages', () => {
  const rand = prng(7)
  const b = new Bitfield()
  const set = new Set<number>()
  for (let i = 0; i < 2000; i++) {
    const x = Math.floor(rand() * 3 * PAGE_BITS)
    b.set(x, true); set.add(x)
  }
  const pages = b.takeDirty()
  const size = Math.max(...pages.map((p) => p.offset + p.data.byteLength))
  const file = Buffer.alloc(size)
  for (const p of pages) p.data.copy(file, p.offset)
  const c = Bitfield.fromBuffer(file)
  for (let i = 0; i < 3 * PAGE_BITS; i++) assert.equal(c.get(i), set.has(i), 'bit ' + i)
})

test('words give the wire bitfield layout, LSB first', () => {
  const b = new Bitfield()
  b.set(0, true); b.set(33, true); b.set(63, true)
  const w = b.words(0, 2)
  assert.equal(w[0], 1)
  assert.equal(w[1], (2 | 0x80000000) >>> 0)
})

test('setWords replaces words and a page cap bounds what a bitfield holds', () => {
  const b = new Bitfield({ maxPages: 2 })
  b.setWords(32, Uint32Array.from([0b101, 0xffffffff]))
  assert.equal(b.get(32), true)
  assert.equal(b.get(33), false)
  assert.equal(b.get(34), true)
  assert.equal(b.count(64, 96), 32)
  b.setWords(32, Uint32Array.from([0]))
  assert.equal(b.get(32), false)
  b.setRange(PAGE_BITS, PAGE_BITS + 10, true) // second page
  b.setRange(10 * PAGE_BITS, 1000 * PAGE_BITS, true) // over the cap: dropped
  assert.equal(b.get(10 * PAGE_BITS), false)
  assert.equal(b.get(PAGE_BITS + 5), true)
})

test('lastSet finds the last set bit before an index, across words and pages, as a scan would', () => {
  const rand = prng(11)
  const b = new Bitfield()
  const set: number[] = []
  for (let i = 0; i < 300; i++) {
    const x = Math.floor(rand() * 3 * PAGE_BITS)
    b.set(x, true); set.push(x)
  }
  b.setRange(PAGE_BITS - 40, PAGE_BITS + 40, true)
  for (let x = PAGE_BITS - 40; x < PAGE_BITS + 40; x++) set.push(x)
  set.sort((x, y) => x - y)
  const probes = [0, 1, 31, 32, 33, PAGE_BITS - 40, PAGE_BITS, PAGE_BITS + 40, 3 * PAGE_BITS, 10 * PAGE_BITS]
  for (let i = 0; i < 500; i++) probes.push(Math.floor(rand() * 4 * PAGE_BITS))
  for (const p of probes) {
    const before = set.filter((x) => x < p)
    assert.equal(b.lastSet(p), before.length ? before[before.length - 1] : -1, `before ${p}`)
  }
  assert.equal(new Bitfield().lastSet(100), -1)
})
