import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LineReader } from '../../src/daemon/json-lines.js'
import { isHyperfsError } from '../../src/errors.js'

test('lines come out whole however the bytes are split, multi-byte characters included', () => {
  const text = '{"a":"héllo wörld ✓"}\n{"b":2}\n\n{"c":"' + 'x'.repeat(5000) + '"}\n'
  const bytes = Buffer.from(text)
  for (const size of [1, 2, 3, 7, 64, 4096, bytes.byteLength]) {
    const reader = new LineReader({ maxLine: 1 << 20 })
    const lines: string[] = []
    for (let i = 0; i < bytes.byteLength; i += size) lines.push(...reader.push(bytes.subarray(i, i + size)))
    assert.deepEqual(lines, text.split('\n').slice(0, -1), `chunks of ${size}`)
  }
})

test('a line past the bound is refused with MESSAGE_TOO_LARGE, even when it arrives in small pieces', () => {
  const reader = new LineReader({ maxLine: 1000 })
  assert.deepEqual(reader.push(Buffer.from('{"ok":1}\n')), ['{"ok":1}'])
  for (let i = 0; i < 9; i++) reader.push(Buffer.alloc(100, 0x61))
  assert.throws(() => reader.push(Buffer.alloc(200, 0x61)), (err) => isHyperfsError(err, 'MESSAGE_TOO_LARGE'))
  const whole = new LineReader({ maxLine: 1000 })
  assert.throws(() => whole.push(Buffer.alloc(1001, 0x61)), (err) => isHyperfsError(err, 'MESSAGE_TOO_LARGE'))
  // a line of exactly the bound is fine
  assert.equal(new LineReader({ maxLine: 1000 }).push(Buffer.concat([Buffer.alloc(1000, 0x61), Buffer.from('\n')]))[0].length, 1000)
})
