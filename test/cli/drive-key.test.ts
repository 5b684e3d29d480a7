import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { formatKey, parseKey } from '../../src/cli/drive-key.js'

test('a key printed as hyper://z32 parses back to the same bytes, in every accepted form', () => {
  for (let i = 0; i < 50; i++) {
    const key = randomBytes(32)
    const link = formatKey(key)
    assert.match(link, /^hyper:\/\/[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/)
    assert.ok(parseKey(link).equals(key))
    assert.ok(parseKey(link.slice(8)).equals(key))
    assert.ok(parseKey(link.toUpperCase()).equals(key))
    assert.ok(parseKey(key.toString('hex')).equals(key))
    assert.ok(parseKey('hyper://' + key.toString('hex') + '/').equals(key))
  }
})

test('parseKey rejects wrong lengths, foreign characters and non-canonical z32 with BAD_KEY', () => {
  const z = formatKey(Buffer.alloc(32, 0xab)).slice(8)
  const bad = ['', 'hyper://', z.slice(1), z + 'y', 'l' + z.slice(1), 'f'.repeat(63), 'g'.repeat(64),
    z.slice(0, 51) + '9' /* last char carries 4 padding bits that must be 0 */]
  for (const s of bad) assert.throws(() => parseKey(s), { code: 'BAD_KEY' }, s)
})
