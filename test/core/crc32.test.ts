// The CRC-32 of the checksum sidecar (core/crc32.ts): native/hyperfs_crc.c
// must give node:zlib's value for any bytes, on both of its paths (the
// carry-less multiplies, and the tables of CPUs without them), so a sidecar
// written with one reads with the other; and the checksum suite passes with
// the node:zlib fallback forced, as it does with the addon.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { crc32 as zlibCrc32 } from 'node:zlib'
import { crc32, crc32Native, loadNativeCrc, type NativeCrc } from '../../src/core/crc32.js'

const loaded = loadNativeCrc()
const addon: NativeCrc | null = 'addon' in loaded ? loaded.addon : null
const NO_ADDON = !addon && 'the addon is not built (npm run build:native)'

// bytes from a small PRNG, so that a failure repeats
function bytes (n: number, seed: number): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed | 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

test('the addon gives node:zlib\'s CRC-32 on both paths: every length to 600, longer ones, every alignment, with a running value', { skip: NO_ADDON }, () => {
  const backing = bytes(200_000, 7)
  const lengths = [...Array.from({ length: 601 }, (_, i) => i), 1023, 1024, 4095, 4096, 65535, 65536, 65537, 131072 + 17, 199_000]
  let checked = 0
  for (const length of lengths) {
    for (let align = 0; align < 16; align += length > 600 ? 5 : 1) {
      const b = backing.subarray(align, align + length)
      const want = zlibCrc32(b)
      assert.equal(addon!.crc32(b), want, `length ${length} at +${align}`)
      assert.equal(addon!.crc32Tables(b), want, `tables, length ${length} at +${align}`)
      const running = zlibCrc32(b, 0xdeadbeef)
      assert.equal(addon!.crc32(b, 0xdeadbeef), running, `running value, length ${length} at +${align}`)
      assert.equal(addon!.crc32Tables(b, 0xdeadbeef), running)
      checked++
    }
  }
  // in pieces: the running value carries across calls
  const whole = zlibCrc32(backing)
  let v = 0
  for (let at = 0; at < backing.length; at += 777) v = addon!.crc32(backing.subarray(at, at + 777), v)
  assert.equal(v, whole)
  assert.ok(checked > 1000)
})

test('the addon refuses what is not a Uint8Array with a TypeError, not a crash', { skip: NO_ADDON }, () => {
  const crc = addon!.crc32 as (...a: unknown[]) => number
  assert.throws(() => crc(), TypeError)
  assert.throws(() => crc('abc'), TypeError)
  assert.throws(() => crc(new Uint16Array(4)), TypeError)
  assert.throws(() => crc(Buffer.from('abc'), 'x'), TypeError)
})

test('the CRC in use is the addon\'s where it is built, node:zlib\'s when HYPERFS_CRC=zlib', () => {
  const want = process.env.HYPERFS_CRC !== 'zlib' && 'addon' in loaded
  assert.equal(crc32Native, want)
  const b = bytes(70_000, 3)
  assert.equal(crc32(b), zlibCrc32(b))
})

// (not in the child it starts, which runs this file too)
test('the checksum suite passes with the node:zlib fallback forced', { skip: NO_ADDON || process.env.HYPERFS_CRC_CHILD === '1', timeout: 240_000 }, () => {
  const suite = fileURLToPath(new URL('./checksums.test.js', import.meta.url))
  const self = fileURLToPath(import.meta.url)
  // a test run of its own (NODE_TEST_CONTEXT would make it report to this one)
  const { NODE_TEST_CONTEXT: _, ...env } = process.env
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=tap', suite, self], {
    env: { ...env, HYPERFS_CRC: 'zlib', HYPERFS_CRC_CHILD: '1' },
    encoding: 'utf8',
    timeout: 230_000
  })
  assert.equal(r.status, 0, r.stdout + r.stderr)
  // the child ran the tests, and in it the fallback was the one in use
  assert.match(r.stdout, /# pass [1-9]/)
  assert.match(r.stdout, /# fail 0/)
  assert.match(r.stdout, /ok \d+ - the CRC in use is the addon's where it is built, node:zlib's when HYPERFS_CRC=zlib/)
})
