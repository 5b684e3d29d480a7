// The extent list algebra (src/drive/extent-map.ts), on its own.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cutExtents, joinExtents, patchExtents, planMerges, hole } from '../../src/drive/extent-map.js'
import type { Extent } from '../../src/drive/types.js'

const BS = 10

const run = (offset: number, length: number, skip = 0): Extent => ({ offset, blocks: Math.ceil((skip + length) / BS), skip, length })

test('a cut starts inside the right block and spans only the blocks it needs', () => {
  assert.deepEqual(cutExtents([run(100, 35)], 12, 27, BS), [{ offset: 101, blocks: 2, skip: 2, length: 15 }])
  assert.deepEqual(cutExtents([run(100, 35), hole(5), run(7, 3)], 30, 39, BS), [{ offset: 103, blocks: 1, skip: 0, length: 5 }, hole(4)])
})

test('the pieces of one run that a change split join again where they meet', () => {
  const whole = run(100, 35)
  const pieces = [...cutExtents([whole], 0, 13, BS), ...cutExtents([whole], 13, 35, BS)]
  assert.equal(pieces.length, 2)
  assert.deepEqual(joinExtents(pieces, BS), [whole])
  assert.deepEqual(joinExtents([hole(3), hole(4), run(5, 1), run(9, 1)], BS), [hole(7), run(5, 1), run(9, 1)])
})

test('a patch keeps, zero-fills, then overlays its writes in order', () => {
  // 20 bytes in blocks 0-1; keep 15, grow to 30, write 3 bytes at 13 and 2 at 28
  const out = patchExtents([run(0, 20)], 20, 15, 30, [{ at: 13, extent: run(50, 3) }, { at: 28, extent: run(60, 2) }], BS)
  assert.deepEqual(out, [run(0, 13), run(50, 3), hole(12), run(60, 2)])
  assert.equal(out.reduce((n, e) => n + e.length, 0), 30)
})

test('merges join the cheapest neighbours first and never past their cost bound', () => {
  const small = [run(0, 100), run(20, 1), run(21, 1), run(22, 1), run(23, 1)]
  assert.deepEqual(planMerges(small, 3, 64), [[1, 3], [3, 5]])
  // a one-byte write between two big runs: no merge is cheap, so none is made
  const spread = [run(0, 1000), run(200, 1), run(101, 1000), run(300, 1), run(203, 1000)]
  assert.deepEqual(planMerges(spread, 2, 64), [])
  assert.deepEqual(planMerges(spread, 4, Infinity), [[0, 2]])
})
