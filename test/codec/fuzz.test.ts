// Every decoder, fed mutated encodings, either decodes or throws DecodeError.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as c from '../../src/codec/index.js'
import { DecodeError, type Codec } from '../../src/codec/index.js'
import { Rng, mutate } from './generators.js'
import { primitiveCases, hypercoreCases, storageCases, otherCases, codecModules, type CodecCase } from './codec-cases.js'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const ROUNDS = 3000
const OFFSET = 5 // decode from inside a larger buffer, so reads before `start` or past `end` would show

type Outcome = { ok: true, value: unknown, consumed: number } | { ok: false }

// Decodes `bytes` placed between guard bytes filled with `pad`. Any throw other
// than a DecodeError escapes and fails the test.
function attempt (codec: Codec<unknown>, bytes: Buffer, pad: number): Outcome {
  const buf = Buffer.alloc(OFFSET + bytes.length + 16, pad)
  bytes.copy(buf, OFFSET)
  const s = c.state(buf, OFFSET, OFFSET + bytes.length)
  try {
    const value = codec.decode(s)
    assert.ok(s.start >= OFFSET && s.start <= s.end, `cursor ${s.start} left [${OFFSET}, ${s.end}]`)
    return { ok: true, value, consumed: s.start - OFFSET }
  } catch (err) {
    if (err instanceof DecodeError && err.code === 'DECODE_ERROR') return { ok: false }
    throw err
  }
}

function fuzz (k: CodecCase, seed: number): { accepted: number, rejected: number } {
  const r = new Rng(seed)
  let accepted = 0
  let rejected = 0
  let prev = c.encode(k.codec, k.gen(r))
  for (let i = 0; i < ROUNDS; i++) {
    const valid = c.encode(k.codec, k.gen(r))
    const input = mutate(r, valid, prev)
    prev = valid
    const ctx = `${k.name} seed ${seed} round ${i} input ${input.toString('hex')}`

    const a = attempt(k.codec, input, 0x00)
    const b = attempt(k.codec, input, 0xff)
    assert.deepEqual(b, a, 'outcome depends on bytes outside [start, end): ' + ctx)
    if (!a.ok) { rejected++; continue }
    accepted++

    // whatever was accepted re-encodes, and the re-encoding decodes to the same value
    const again = c.encode(k.codec, a.value)
    assert.deepEqual(c.decode(k.codec, again), a.value, 'unstable re-encoding: ' + ctx)
  }
  return { accepted, rejected }
}

const allCases = [...primitiveCases, ...hypercoreCases, ...storageCases, ...otherCases]

test('the fuzz cases cover every codec exported from src/codec', () => {
  const covered = new Set<unknown>(allCases.flatMap((k) => [k.codec, ...(k.covers ?? [])]))
  const missing: string[] = []
  const modules: Array<[string, Record<string, unknown>]> = [['index', c as Record<string, unknown>], ...Object.entries(codecModules)]
  for (const [mod, exports] of modules) {
    for (const [name, v] of Object.entries(exports)) {
      const isCodec = v !== null && typeof v === 'object' && typeof (v as any).decode === 'function'
      if (isCodec && !covered.has(v)) missing.push(`${mod}.${name}`)
    }
  }
  assert.deepEqual(missing, [])
  // and every codec file is either re-exported by index or listed here
  const dir = fileURLToPath(new URL('../../../src/codec/', import.meta.url))
  const listed = new Set(['index', 'state', 'primitives', 'decode-error', 'core-storage', 'tree-node', 'manifest', 'hypercore-messages', ...Object.keys(codecModules)])
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => f.slice(0, -3))
  assert.deepEqual(files.filter((f) => !listed.has(f)), [])
})

for (const [i, k] of allCases.entries()) {
  test(`${k.name} decodes or throws DecodeError on ${ROUNDS} mutated inputs`, () => {
    const { accepted, rejected } = fuzz(k, 0x5eed0000 + i)
    // raw, bool and similar accept everything; the others must see both outcomes
    assert.equal(accepted + rejected, ROUNDS)
    assert.ok(rejected > 0 || ['raw', 'bool', 'uint8'].includes(k.name), `${k.name} rejected nothing`)
  })
}

test('decoding stops at huge counts without allocating them', () => {
  const huge = [
    ['array count 2^32', c.treeNodeArray, Buffer.from('fe00000001', 'hex')],
    ['array count 2^53-1', c.array(c.uint), Buffer.from('ffffffffffffff1f00', 'hex')],
    ['array count just over the remaining bytes', c.treeNodeArray, Buffer.from('0300', 'hex')],
    ['uint32array count 2^53-1', c.uint32array, Buffer.from('ffffffffffffff1f00', 'hex')],
    ['buffer length 2^32', c.buffer, Buffer.from('ff0000000001000000', 'hex')],
    ['uint64 above 2^53-1', c.uint, Buffer.from('ff0000000000002000', 'hex')],
    ['data block value longer than the frame', c.dataMessage, Buffer.from('010000' + '00' + 'fdffff', 'hex')],
    ['bitfield of 2^30 words', c.bitfieldMessage, Buffer.from('00fe00000040', 'hex')],
    ['manifest with 2^20 signers', c.manifest, Buffer.from('01000001fe00001000', 'hex')]
  ] as const
  for (const [what, codec, bytes] of huge) {
    const t = process.hrtime.bigint()
    assert.throws(() => (codec as Codec<unknown>).decode(c.state(bytes)), DecodeError, what)
    // no allocation proportional to the claimed count: well under a second
    assert.ok(process.hrtime.bigint() - t < 1_000_000_000n, what + ' took too long')
  }
})
