import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'

test('a drive opened by key on another store reads files over store replication', async (t) => {
  const a = DriveStore.memory()
  const b = DriveStore.memory({ timeout: 5000 })
  t.after(() => Promise.all([a.close(), b.close()]))
  const drive = await a.create()
  const big = Buffer.alloc(300 * 1024, 7)
  await drive.writeFile('/docs/readme.txt', Buffer.from('hello from a'))
  await drive.writeFile('/big.bin', big)
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  t.after(() => { s1.destroy(); s2.destroy() })

  const remote = await b.open(drive.key)
  await remote.metadata.update()
  assert.equal((await remote.read('/docs/readme.txt')).toString(), 'hello from a')
  const names = []
  for await (const e of remote.readdir('/')) names.push(e.name)
  assert.deepEqual(names.sort(), ['big.bin', 'docs'])
  const slice = await remote.read('/big.bin', { start: 200 * 1024, length: 1000 })
  assert.ok(slice.equals(big.subarray(200 * 1024, 200 * 1024 + 1000)))
  assert.equal(remote.writable, false)
  await assert.rejects(remote.writeFile('/x', Buffer.from('no')), { code: 'EROFS' })
})

test('info() counts the peers the drive is replicating with', async (t) => {
  const a = DriveStore.memory()
  const b = DriveStore.memory({ timeout: 5000 })
  t.after(() => Promise.all([a.close(), b.close()]))
  const drive = await a.create()
  await drive.writeFile('/x', Buffer.from('x'))
  assert.equal((await drive.info()).peers, 0)
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  t.after(() => { s1.destroy(); s2.destroy() })
  const remote = await b.open(drive.key)
  await remote.read('/x')
  assert.equal((await remote.info()).peers, 1)
  assert.equal((await drive.info()).peers, 1)
})

test('a raw core mounted in a remote drive reads at an offset with one seek, not a scan from its start', async (t) => {
  const a = DriveStore.memory()
  const b = DriveStore.memory({ timeout: 5000 })
  t.after(() => Promise.all([a.close(), b.close()]))
  const drive = await a.create()
  const core = await a.createCore()
  await core.append(Array.from({ length: 200 }, (_, i) => Buffer.alloc(100, i)))
  await drive.mount('/raw', core.key!, { kind: 'core' })
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  t.after(() => { s1.destroy(); s2.destroy() })
  const remote = await b.open(drive.key)
  const bytes = await remote.read('/raw', { start: 150 * 100 + 5, length: 10 })
  assert.ok(bytes.equals(Buffer.alloc(10, 150)))
  const replica = await b.openCore(core.key!)
  let held = 0
  for (let i = 0; i < 200; i++) if (replica.has(i)) held++
  assert.ok(held <= 2, `only the blocks read are fetched, not the ${held} before them`)
})
