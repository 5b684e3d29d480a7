import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import { randomBytes } from 'node:crypto'

test('openReader copies local file bytes into a caller buffer at any offset', async (t) => {
  const store = DriveStore.memory()
  t.after(() => store.close())
  const drive = await store.create()
  const data = randomBytes(300 * 1024 + 17)
  await drive.writeFile('/a.bin', Buffer.from('something before'))
  await drive.writeFile('/f.bin', data)
  const r = (await drive.openReader('/f.bin'))!
  assert.equal(r.size, data.length)
  const target = Buffer.alloc(100_000)
  for (const pos of [0, 1, 65535, 65536, 200_000, data.length - 10]) {
    const n = r.readInto(target, pos, target.length)!
    assert.equal(n, Math.min(target.length, data.length - pos))
    assert.ok(target.subarray(0, n).equals(data.subarray(pos, pos + n)), 'at ' + pos)
  }
  assert.equal(r.readInto(target, data.length, 10), 0)
  assert.equal(await drive.openReader('/'), null)
})

test('on a replica openReader answers null until the blocks are local', async (t) => {
  const a = DriveStore.memory()
  const b = DriveStore.memory({ timeout: 5000 })
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  t.after(async () => { s1.destroy(); s2.destroy(); await b.close(); await a.close() })
  const drive = await a.create()
  const data = randomBytes(200 * 1024)
  await drive.writeFile('/f.bin', data)
  const remote = await b.open(drive.key)
  await remote.metadata.update()
  await remote.read('/f.bin', { start: 0, length: 10 }) // block 0 and its tree nodes arrive
  const r = (await remote.openReader('/f.bin'))!
  const target = Buffer.alloc(4096)
  assert.equal(r.readInto(target, 150 * 1024, 4096), null, 'block 2 is not here yet')
  assert.equal(r.readInto(target, 0, 4096), 4096)
  assert.ok(target.equals(data.subarray(0, 4096)))
  await remote.read('/f.bin', { start: 150 * 1024, length: 10 })
  assert.equal(r.readInto(target, 150 * 1024, 4096), 4096)
  assert.ok(target.equals(data.subarray(150 * 1024, 150 * 1024 + 4096)))
})
