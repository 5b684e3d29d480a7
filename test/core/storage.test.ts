import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { FileStorage, MemoryStorage } from '../../src/core/storage.js'
import { tmpDir } from '../helpers/tmp.js'

for (const kind of ['file', 'memory']) {
  test(`${kind} storage: writev lays buffers back to back, and a short file reads as STORAGE_CORRUPT`, async (t) => {
    const storage = kind === 'file' ? new FileStorage(tmpDir(t)) : new MemoryStorage()
    const f = await storage.open('data')
    t.after(() => f.close())
    await f.write(0, Buffer.from('xxxx'))
    await f.writev(2, [Buffer.from('ab'), Buffer.alloc(0), Buffer.from('cde')])
    assert.equal((await f.read(0, 7)).toString(), 'xxabcde')
    assert.equal(await f.size(), 7)
    await assert.rejects(f.read(5, 10), { code: 'STORAGE_CORRUPT' })
  })
}

test('two opens of a locked file: the second gets STORAGE_LOCKED', async (t) => {
  const storage = new FileStorage(tmpDir(t))
  const a = await storage.open('state', { lock: true })
  t.after(() => a.close())
  await assert.rejects(storage.open('state', { lock: true }), { code: 'STORAGE_LOCKED' })
})

test('file storage: a write of 512 KiB or more runs on the thread pool (the caller works meanwhile), lands whole, and close() waits for it', async (t) => {
  const dir = tmpDir(t)
  const f = await new FileStorage(dir).open('data')
  const settled = (p: Promise<void>): { done: boolean } => {
    const s = { done: false }
    p.then(() => { s.done = true }, () => { s.done = true })
    return s
  }
  const microtasks = async (): Promise<void> => { for (let i = 0; i < 10; i++) await Promise.resolve() }

  // a small write is done before the round trip to the pool would be
  const small = settled(f.writev(0, [Buffer.from('ab'), Buffer.from('cd')]))
  await microtasks()
  assert.ok(small.done)

  // a pool's answer comes in a later turn of the event loop, never among the microtasks
  const big = [Buffer.alloc(300 * 1024, 1), Buffer.alloc(300 * 1024, 2)]
  const p = f.writev(4, big)
  const v = settled(p)
  await microtasks()
  assert.equal(v.done, false, 'a large writev was done on the main thread')
  await p
  assert.ok((await f.read(4, 600 * 1024)).equals(Buffer.concat(big)))

  const one = Buffer.alloc(512 * 1024, 3)
  const w = settled(f.write(4 + 600 * 1024, one))
  await microtasks()
  assert.equal(w.done, false, 'a large write was done on the main thread')
  await f.close() // with the write still running
  assert.ok(w.done)
  const disk = readFileSync(join(dir, 'data'))
  assert.equal(disk.byteLength, 4 + 600 * 1024 + 512 * 1024)
  assert.ok(disk.subarray(0, 4).equals(Buffer.from('abcd')))
  assert.ok(disk.subarray(4 + 600 * 1024).equals(one))
})
