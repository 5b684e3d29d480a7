import { test } from 'node:test'
import assert from 'node:assert/strict'
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
