// The drive factory (issue 9 part 1): a drive's first block picks its format.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import { formatOf } from '../../src/drive/drive-formats.js'
import { RoutedDrive } from '../../src/drive/routed-drive.js'
import { encode } from '../../src/codec/state.js'
import { beeHeader } from '../../src/codec/bee-node.js'

test('the first block of a drive names its format: a Hypertrie header, a Hyperbee header, or neither (DECODE_ERROR)', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d = await store.create()
  assert.equal(formatOf((await d.metadata.get(0))!), 'hypertrie')
  // hyperdrive@13's header: protocol "hyperbee", empty metadata (0a0868797065726265651200)
  assert.equal(formatOf(Buffer.from('0a0868797065726265651200', 'hex')), 'hyperdrive13')
  assert.equal(formatOf(encode(beeHeader, { protocol: 'hyperbee', metadata: null })), 'hyperdrive13')
  assert.throws(() => formatOf(Buffer.from('not a header')), { code: 'DECODE_ERROR' })
  assert.throws(() => formatOf(encode(beeHeader, { protocol: 'otherbee', metadata: null })), { code: 'DECODE_ERROR' })
  assert.throws(() => formatOf(Buffer.alloc(0)), { code: 'DECODE_ERROR' })
})

test('a drive opened by key is a RoutedDrive of the format its first block names; a core that is no drive fails to open with DECODE_ERROR', async (t) => {
  const writers = DriveStore.memory()
  const readers = DriveStore.memory({ timeout: 5000 })
  t.after(() => Promise.all([writers.close(), readers.close()]))
  const a = writers.replicate(true)
  const b = readers.replicate(false)
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
  const d = await writers.create()
  await d.writeFile('/f', Buffer.from('x'))
  const raw = await writers.createCore()
  await raw.append(['no drive header here'])

  const r = await readers.open(d.key)
  assert.ok(r instanceof RoutedDrive)
  assert.equal(r.format, 'hypertrie')
  assert.equal((await r.read('/f')).toString(), 'x')
  await assert.rejects(readers.open(raw.key!), { code: 'DECODE_ERROR' })
})
