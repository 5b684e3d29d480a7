// Pins the on-disk format of a core folder (src/codec/core-storage.ts) with a
// byte fixture: a core made from a fixed key pair and fixed blocks must give
// the same files byte for byte, and the committed fixture must open and read.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, cpSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Hypercore } from '../../src/core/hypercore.js'
import { keyPair } from '../../src/crypto/index.js'
import { tmpDir } from '../helpers/tmp.js'

// dist/test/core → the source fixture folder
const FIXTURE = fileURLToPath(new URL('../../../test/fixtures/core-v1', import.meta.url))

async function build (dir: string): Promise<void> {
  const c = new Hypercore(dir, { keyPair: keyPair(Buffer.alloc(32, 1)) })
  await c.append(['hello', 'world'])
  await c.append(Array.from({ length: 8 }, (_, i) => 'block ' + (i + 2)))
  await c.truncate(7)
  await c.append('after truncate')
  await c.close()
}

test('a core built the fixture way matches the fixture byte for byte', async (t) => {
  const dir = tmpDir(t)
  await build(dir)
  const names = readdirSync(FIXTURE).sort()
  assert.deepEqual(readdirSync(dir).sort(), names)
  for (const name of names) {
    assert.ok(readFileSync(join(dir, name)).equals(readFileSync(join(FIXTURE, name))), name + ' differs from the fixture')
  }
})

test('the fixture opens, verifies and reads back', async (t) => {
  const dir = tmpDir(t)
  cpSync(FIXTURE, dir, { recursive: true })
  const c = new Hypercore(dir)
  await c.ready()
  t.after(() => c.close())
  assert.equal(c.key!.toString('hex'), 'd8c3a0597903b28d751c6e0b7107775e388ec5a3cf669bdd1e7ec41b8b8f6e72')
  assert.equal(c.length, 8)
  assert.equal(c.fork, 1)
  assert.equal((await c.get(0))!.toString(), 'hello')
  assert.equal((await c.get(6))!.toString(), 'block 6')
  assert.equal((await c.get(7))!.toString(), 'after truncate')
})
