// ReadAhead without a mount: a fake fetch records what was asked for, so we
// can see prefetch grow, stop at its bound, and be cancelled by a jump.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ReadAhead, type FetchRange } from '../../src/fuse/read-ahead.js'
import { pattern } from './fixtures/pattern.js'

interface Call { start: number, length: number, signal: AbortSignal }

function recorder (opts: { hold?: (c: Call) => boolean } = {}): { fetch: FetchRange, calls: Call[], release: () => void } {
  const calls: Call[] = []
  const held: Array<() => void> = []
  const fetch: FetchRange = (start, length, signal) => {
    const call = { start, length, signal }
    calls.push(call)
    const answer = (): Promise<Buffer> => signal.aborted ? Promise.reject(new Error('aborted')) : Promise.resolve(pattern(start, length))
    if (opts.hold?.(call)) {
      return new Promise((resolve, reject) => {
        held.push(() => answer().then(resolve, reject))
        signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })
      })
    }
    return answer()
  }
  return { fetch, calls, release: () => { for (const h of held.splice(0)) h() } }
}

const KiB = 1024
const MiB = 1024 * KiB
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

// What a FUSE read gets: the bytes copied into its buffer.
async function readBytes (ra: ReadAhead, offset: number, length: number): Promise<Buffer> {
  const target = Buffer.alloc(length)
  const n = await ra.read(offset, length, target)
  return target.subarray(0, n)
}

test('a sequential reader gets its bytes with fewer, growing requests, bounded by max', async () => {
  const { fetch, calls } = recorder()
  const size = 64 * MiB
  const ra = new ReadAhead(fetch, size, { min: 256 * KiB, max: 4 * MiB })
  for (let pos = 0; pos < 32 * MiB; pos += 128 * KiB) {
    const buf = await readBytes(ra, pos, 128 * KiB)
    assert.ok(buf.equals(pattern(pos, 128 * KiB)), `bytes at ${pos}`)
    await settle()
  }
  assert.equal(ra.window, 4 * MiB)
  assert.ok(calls.length < 32 * MiB / (128 * KiB) / 4, `${calls.length} requests for 256 reads`)
  assert.ok(calls.every((c) => c.length <= 1 * MiB), 'prefetch asks in pieces of at most 1 MiB')
})

test('a read whose bytes have arrived answers at once, without a promise', async () => {
  const { fetch } = recorder()
  const ra = new ReadAhead(fetch, 8 * MiB, { min: 256 * KiB, max: 4 * MiB })
  await readBytes(ra, 0, 128 * KiB)
  await settle()
  const target = Buffer.alloc(128 * KiB)
  const n = ra.read(128 * KiB, 128 * KiB, target)
  assert.equal(n, 128 * KiB)
  assert.ok(target.equals(pattern(128 * KiB, 128 * KiB)))
})

test('a read that spans two prefetched pieces gets all its bytes in order', async () => {
  const { fetch } = recorder()
  const ra = new ReadAhead(fetch, 8 * MiB, { min: 256 * KiB, max: 4 * MiB, piece: 100 * KiB })
  await readBytes(ra, 0, 4 * KiB)
  await settle()
  assert.ok((await readBytes(ra, 4 * KiB, 128 * KiB)).equals(pattern(4 * KiB, 128 * KiB)))
})

test('a jump aborts prefetch in flight and fetches the new position first', async () => {
  const { fetch, calls, release } = recorder({ hold: (c) => c.start >= 128 * KiB && c.start < 8 * MiB })
  const ra = new ReadAhead(fetch, 64 * MiB, { min: 256 * KiB, max: 4 * MiB })
  await readBytes(ra, 0, 128 * KiB) // starts a prefetch of [128 KiB, ...) that we hold back
  const prefetch = calls.find((c) => c.start === 128 * KiB)
  assert.ok(prefetch, 'a prefetch was issued')
  assert.equal(prefetch.signal.aborted, false)

  const before = calls.length
  const buf = await readBytes(ra, 40 * MiB, 128 * KiB)
  assert.ok(buf.equals(pattern(40 * MiB, 128 * KiB)))
  assert.equal(prefetch.signal.aborted, true, 'stale prefetch cancelled')
  assert.equal(calls[before].start, 40 * MiB, 'the new position is the first request after the jump')
  assert.equal(ra.window, 256 * KiB, 'the window starts small again')
  release()
})

test('a read never goes past the end of the file, and reset picks up a longer file', async () => {
  const { fetch } = recorder()
  const ra = new ReadAhead(fetch, 1000, { min: 256 * KiB, max: 4 * MiB })
  assert.equal((await readBytes(ra, 900, 4096)).length, 100)
  assert.equal((await readBytes(ra, 1000, 4096)).length, 0)
  ra.reset(3000)
  assert.ok((await readBytes(ra, 1000, 4096)).equals(pattern(1000, 2000)))
})

test('a failed prefetch is refetched by the reader that needs it', async () => {
  let failNext = true
  const fetch: FetchRange = async (start, length) => {
    if (start > 0 && failNext) {
      failNext = false
      throw new Error('peer went away')
    }
    return pattern(start, length)
  }
  const ra = new ReadAhead(fetch, 4 * MiB, { min: 256 * KiB, max: 4 * MiB })
  await readBytes(ra, 0, 128 * KiB)
  await settle()
  assert.ok((await readBytes(ra, 128 * KiB, 128 * KiB)).equals(pattern(128 * KiB, 128 * KiB)))
})

test('a read that waited out its budget on a prefetch that failed gives up, instead of fetching again with a fresh timeout', async () => {
  let now = 0
  const pending: Array<{ start: number, reject: (err: Error) => void }> = []
  const asked: Array<{ start: number, timeout: number | undefined }> = []
  const fetch: FetchRange = (start, length, signal, timeout) => {
    asked.push({ start, timeout })
    if (start === 0) return Promise.resolve(pattern(start, length))
    return new Promise((resolve, reject) => { pending.push({ start, reject }) })
  }
  const ra = new ReadAhead(fetch, 64 * MiB, { min: 1 * MiB, max: 4 * MiB, timeout: 5000 }, { now: () => now })
  await readBytes(ra, 0, 128 * KiB) // sequential: a prefetch of the next MiB starts
  await settle()
  const prefetch = pending.find((p) => p.start <= 1 * MiB)
  assert.ok(prefetch, 'the next MiB is prefetched')
  const read = readBytes(ra, 1 * MiB, 128 * KiB) // waits on that prefetch
  now += 5000 // the prefetch's own deadline fires: the reader's budget is spent too
  prefetch.reject(new Error('REQUEST_TIMEOUT'))
  const before = asked.length
  await assert.rejects(read, (err: Error & { code?: string }) => err.code === 'REQUEST_TIMEOUT')
  assert.equal(asked.length, before, 'no second fetch once the read has no time left')
})

test('a read whose prefetch failed early fetches again with only what is left of its budget', async () => {
  let now = 0
  const asked: Array<{ start: number, timeout: number | undefined }> = []
  let failNext = true
  const fetch: FetchRange = (start, length, signal, timeout) => {
    asked.push({ start, timeout })
    if (start !== 0 && failNext) { failNext = false; return new Promise((resolve, reject) => setImmediate(() => { now += 2000; reject(new Error('peer gone')) })) }
    return Promise.resolve(pattern(start, length))
  }
  const ra = new ReadAhead(fetch, 64 * MiB, { min: 1 * MiB, max: 4 * MiB, timeout: 5000 }, { now: () => now })
  await readBytes(ra, 0, 128 * KiB)
  const buf = await readBytes(ra, 1 * MiB, 128 * KiB)
  assert.ok(buf.equals(pattern(1 * MiB, 128 * KiB)))
  const retry = asked.find((a) => a.start === 1 * MiB)
  assert.ok(retry, 'the reader fetched its bytes itself')
  assert.equal(retry.timeout, 3000)
})
