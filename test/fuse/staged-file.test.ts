// StagedFile without a mount: random writes, truncates and the move from
// memory to a (sparse, already unlinked) temp file keep the bytes right.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { StagedFile } from '../../src/fuse/staged-file.js'
import { prng, randomBuffer, tmpDir } from '../helpers/tmp.js'

async function collect (content: Buffer | AsyncIterable<Uint8Array>): Promise<Buffer> {
  if (Buffer.isBuffer(content)) return content
  const parts: Buffer[] = []
  for await (const c of content) parts.push(Buffer.from(c))
  return Buffer.concat(parts)
}

test('random writes and truncates match a plain buffer, across the spill to disk', async (t) => {
  const dir = tmpDir(t)
  const rand = prng(7)
  const stage = new StagedFile({ spillThreshold: 64 * 1024, tmpDir: dir })
  t.after(() => stage.close())
  let model = Buffer.alloc(0)
  for (let i = 0; i < 200; i++) {
    if (rand() < 0.15) {
      const size = Math.floor(rand() * 150_000)
      await stage.truncate(size)
      const next = Buffer.alloc(size)
      model.copy(next, 0, 0, Math.min(size, model.length))
      model = next
    } else {
      const off = Math.floor(rand() * 120_000)
      const data = randomBuffer(rand, 1 + Math.floor(rand() * 5000))
      await stage.write(data, off)
      const next = Buffer.alloc(Math.max(model.length, off + data.length))
      model.copy(next)
      data.copy(next, off)
      model = next
    }
    assert.equal(stage.size, model.length)
  }
  assert.ok(stage.spilled, 'went past the threshold')
  assert.ok((await collect(stage.content())).equals(model))
  const buf = Buffer.alloc(1000)
  const n = await stage.read(buf, Math.max(0, model.length - 500), 1000)
  assert.ok(buf.subarray(0, n).equals(model.subarray(model.length - 500)))
  assert.deepEqual(readdirSync(dir), [], 'the temp file is unlinked while open')
})

test('a write past 4 GiB spills to a sparse file and reads back', async (t) => {
  const dir = tmpDir(t)
  const stage = new StagedFile({ spillThreshold: 1024 * 1024, tmpDir: dir })
  t.after(() => stage.close())
  await stage.write(Buffer.from('head'), 0)
  const far = 4 * 1024 ** 3 + 12345
  await stage.write(Buffer.from('tail'), far)
  assert.equal(stage.size, far + 4)
  const buf = Buffer.alloc(8)
  assert.equal(await stage.read(buf, far - 4, 8), 8)
  assert.deepEqual([...buf], [0, 0, 0, 0, ...Buffer.from('tail')])
  assert.equal(await stage.read(buf, 0, 4), 4)
  assert.equal(buf.subarray(0, 4).toString(), 'head')
})

test('a closed stage refuses use with EBADF', async (t) => {
  const stage = new StagedFile({ spillThreshold: 1024, tmpDir: tmpDir(t) })
  await stage.close()
  await assert.rejects(stage.write(Buffer.from('x'), 0), { code: 'EBADF' })
})
