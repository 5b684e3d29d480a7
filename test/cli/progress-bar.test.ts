import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ProgressBar, bytes } from '../../src/cli/progress-bar.js'

function fakeTty (): NodeJS.WriteStream & { text: string } {
  const s = { isTTY: true, text: '', write (d: string) { s.text += d; return true } }
  return s as unknown as NodeJS.WriteStream & { text: string }
}

test('the progress bar shows bytes, percentage, rate, peers and an ETA from the measured rate', () => {
  let now = 0
  const out = fakeTty()
  const bar = new ProgressBar(out, () => now)
  bar.update({ bytes: 0, total: 10 * 1024 * 1024, peers: 2 })
  assert.match(out.text, /ETA --:--/)
  now = 1000
  bar.update({ bytes: 1024 * 1024, total: 10 * 1024 * 1024, peers: 2 })
  const line = bar.line({ bytes: 1024 * 1024, total: 10 * 1024 * 1024, peers: 2 })
  assert.match(line, /10\.0%/)
  assert.match(line, /1\.0 MiB \/ 10\.0 MiB/)
  assert.match(line, /1\.0 MiB\/s/)
  assert.match(line, /2 peers/)
  assert.match(line, /ETA 0:09/)
  assert.match(bar.line({ bytes: 10 * 1024 * 1024, total: 10 * 1024 * 1024, peers: 1 }), /100\.0%.*1 peer .*done/)
  bar.done()
  assert.ok(out.text.endsWith('\n'))
})

test('the progress bar draws nothing when stderr is not a terminal', () => {
  const out = { isTTY: false, text: '', write (d: string) { out.text += d; return true } }
  const bar = new ProgressBar(out as unknown as NodeJS.WriteStream)
  bar.update({ bytes: 5, total: 10, peers: 0 })
  bar.done()
  assert.equal(out.text, '')
})

test('byte counts print in binary units', () => {
  assert.equal(bytes(0), '0 B')
  assert.equal(bytes(1536), '1.5 KiB')
  assert.equal(bytes(3 * 1024 ** 3), '3.0 GiB')
})
