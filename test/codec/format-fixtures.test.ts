// Pins the drive and trie formats (ours, on disk and on the wire inside
// cores) with byte fixtures: a change to any of these encodings must be
// deliberate, because drives written before it would no longer read.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { encode, decode } from '../../src/codec/index.js'
import { values } from './format-values.js'

const FIXTURES = JSON.parse(readFileSync(fileURLToPath(new URL('../../../test/fixtures/drive-formats.json', import.meta.url)), 'utf8'))

for (const [name, [codec, value]] of Object.entries(values)) {
  test(`${name} encodes to its fixture bytes and decodes back`, () => {
    const bytes = encode(codec, value)
    assert.equal(bytes.toString('hex'), FIXTURES[name], `${name} no longer encodes as the fixture`)
    const back = decode(codec, Buffer.from(FIXTURES[name], 'hex')) as Record<string, unknown>
    // xattr names decode into a null-prototype object (a name like __proto__ stays data)
    if (name.startsWith('driveStat')) back.metadata = { ...(back.metadata as object) }
    assert.deepEqual(back, value)
  })
}

test('every fixture has a value and every value a fixture', () => {
  assert.deepEqual(Object.keys(FIXTURES).sort(), Object.keys(values).sort())
})
