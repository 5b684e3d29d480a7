// StagedFile without a mount: random writes, truncates and the move from
// memory to a (sparse, already unlinked) temp file keep the bytes right; over
// a base (the file as the drive holds it), the stage holds only what was
// written and reads the rest from the base.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { StagedFile, type StageBase } from '../../src/fuse/staged-file.js'
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

// A base read from a buffer, counting the bytes it was asked for.
function bufferBase (buf: Buffer): { base: StageBase, asked: () => number } {
  let asked = 0
  return {
    asked: () => asked,
    base: {
      size: buf.length,
      read: async (target, targetOffset, start, length) => {
        asked += length
        assert.ok(start + length <= buf.length, 'reads stay within the base')
        buf.copy(target, targetOffset, start, start + length)
      }
    }
  }
}

test('over a base, a stage holds only what was written: random writes, truncates and reads match the file, joins and the spill included', async (t) => {
  const dir = tmpDir(t)
  const rand = prng(9)
  const original = randomBuffer(rand, 300_000)
  const { base } = bufferBase(original)
  const stage = new StagedFile({ spillThreshold: 64 * 1024, tmpDir: dir }, base)
  t.after(() => stage.close())
  let model = Buffer.from(original)
  assert.equal(stage.size, original.length)
  // more ranges apart than a stage keeps: neighbours join, the bytes between from the base
  for (let i = 0; i < 1100; i++) {
    await stage.write(Buffer.from([i & 0xff]), i * 250)
    model[i * 250] = i & 0xff
  }
  assert.equal(stage.changes().dirty.length, 1024)
  assert.ok((await collect(stage.content())).equals(model), 'joined ranges hold the base\'s bytes between')
  for (let i = 0; i < 1500; i++) {
    const op = rand()
    if (op < 0.02) {
      const size = Math.floor(rand() * 400_000)
      await stage.truncate(size)
      const next = Buffer.alloc(size)
      model.copy(next, 0, 0, Math.min(size, model.length))
      model = next
    } else if (op < 0.9) {
      // many small scattered writes: past the bound on ranges, neighbours join
      const off = Math.floor(rand() * 350_000)
      const data = randomBuffer(rand, 1 + Math.floor(rand() * (op < 0.8 ? 8 : 3000)))
      await stage.write(data, off)
      const next = Buffer.alloc(Math.max(model.length, off + data.length))
      model.copy(next)
      data.copy(next, off)
      model = next
    } else {
      const off = Math.floor(rand() * model.length)
      const buf = Buffer.alloc(1 + Math.floor(rand() * 70_000))
      const n = await stage.read(buf, off, buf.length)
      assert.ok(buf.subarray(0, n).equals(model.subarray(off, off + buf.length)), `read at ${off}`)
    }
    assert.equal(stage.size, model.length)
  }
  assert.ok(stage.spilled)
  assert.ok((await collect(stage.content())).equals(model))
  const ch = stage.changes()
  assert.ok(ch.dirty.length <= 1024, `${ch.dirty.length} ranges`)
  // what a patch sends (keep, zeros, the dirty ranges) rebuilds the file from the original
  const rebuilt = Buffer.alloc(ch.size)
  original.copy(rebuilt, 0, 0, Math.min(ch.keep, original.length))
  for (const [s, e] of ch.dirty) (await collect(stage.range(s, e))).copy(rebuilt, s)
  assert.ok(rebuilt.equals(model), 'the changes applied to the base are the file')

  // committed: the content is the base now, and the stage lets go of its bytes
  const { base: next } = bufferBase(model)
  await stage.rebase(next)
  assert.equal(stage.spilled, false)
  assert.equal(await stage.diskBytes(), 0)
  assert.deepEqual(stage.changes(), { keep: model.length, size: model.length, dirty: [] })
  await stage.write(Buffer.from('Z'), 5)
  model[5] = 0x5a
  assert.ok((await collect(stage.content())).equals(model))
})

test('one byte written into a 64 MiB base stages one byte, not a copy: the spilled temp file holds a block', async (t) => {
  const dir = tmpDir(t)
  const big = randomBuffer(prng(4), 64 * 1024 * 1024)
  const { base, asked } = bufferBase(big)
  const stage = new StagedFile({ spillThreshold: 1024 * 1024, tmpDir: dir }, base)
  t.after(() => stage.close())
  const at = 60 * 1024 * 1024 + 3
  await stage.write(Buffer.from([big[at] ^ 0xff]), at)
  assert.ok(stage.spilled, 'a write past the threshold goes to the temp file')
  const disk = await stage.diskBytes()
  t.diagnostic(`the stage takes ${disk} bytes on disk`)
  assert.ok(disk <= 64 * 1024, `${disk} bytes on disk for one staged byte`)
  assert.equal(asked(), 0, 'nothing was read from the base to write')
  assert.deepEqual(stage.changes(), { keep: big.length, size: big.length, dirty: [[at, at + 1]] })
  const buf = Buffer.alloc(10)
  await stage.read(buf, at - 5, 10)
  const want = Buffer.from(big.subarray(at - 5, at + 5))
  want[5] ^= 0xff
  assert.ok(buf.equals(want), 'reads join the base and the written byte')
})
