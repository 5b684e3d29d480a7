// Opening a drive by key while no peer is connected yet (a swarm still
// looking it up): the format must come from the drive's first block, not
// from the empty core seen before any peer spoke.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'

// how long the peers stay apart after the reader starts opening
const APART_MS = 300

test('a hyperdrive13 drive opened by key before any peer is connected opens in its own format once one is', async (t) => {
  const writers = DriveStore.memory()
  const readers = DriveStore.memory({ timeout: 10_000 })
  t.after(() => Promise.all([writers.close(), readers.close()]))
  const d = await writers.create({ format: 'hyperdrive13' })
  await d.writeFile('/f', Buffer.from('found'))

  const opening = readers.open(d.key)
  await new Promise((resolve) => setTimeout(resolve, APART_MS))
  const a = writers.replicate(true)
  const b = readers.replicate(false)
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
  const r = await opening
  assert.equal(r.format, 'hyperdrive13')
  assert.equal((await r.read('/f')).toString(), 'found')
})

test('a drive opened by key that no peer ever has opens empty once the store\'s timeout has passed, and a close ends a wait', { timeout: 30_000 }, async (t) => {
  const readers = DriveStore.memory({ timeout: 500 })
  const r = await readers.open(Buffer.alloc(32, 7))
  assert.equal(r.metadata.length, 0)
  const stores = DriveStore.memory({ timeout: 60_000 })
  const pending = stores.open(Buffer.alloc(32, 8)).then(() => 'opened', (err) => err.code)
  await stores.close()
  assert.match(await pending, /opened|SESSION_CLOSED/)
  await readers.close()
})
