import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Duplex } from 'node:stream'
import { SecretStream, MAX_MESSAGE } from '../../src/net/secret-stream.js'
import { keyPair } from '../../src/crypto/sign.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { duplexPair } from './duplex-pair.js'
import { tcpPair, handshakePair, collect, closedWith } from './helpers.js'

function noop (): void {}

function secretPair (t: { after: (fn: () => void) => void }, rawA: Duplex, rawB: Duplex, opts: { a?: object, b?: object } = {}): [SecretStream, SecretStream] {
  const a = new SecretStream(true, rawA, opts.a)
  const b = new SecretStream(false, rawB, opts.b)
  // the peer of a failing stream fails too; tests look at errors through closedWith
  a.on('error', noop)
  b.on('error', noop)
  t.after(() => { a.destroy(); b.destroy() })
  return [a, b]
}

async function exchange (a: SecretStream, b: SecretStream): Promise<void> {
  const msgs = [Buffer.from('first'), Buffer.alloc(0), Buffer.from('x'), randomBytes(70000), Buffer.from('last')]
  const gotB = collect(b, msgs.length)
  const gotA = collect(a, 2)
  for (const m of msgs) a.write(m)
  b.write(Buffer.from('reply 1'))
  b.write(Buffer.from('reply 2'))
  assert.deepEqual(await gotB, msgs, 'each write arrives as exactly one chunk, empty ones included')
  assert.deepEqual((await gotA).map(String), ['reply 1', 'reply 2'])
}

test('two secret streams over an in-memory pipe agree on keys and keep message boundaries', async (t) => {
  const ka = keyPair()
  const kb = keyPair()
  const [ra, rb] = duplexPair()
  const [a, b] = secretPair(t, ra, rb, { a: { keyPair: ka }, b: { keyPair: kb } })
  assert.equal(await a.opened, true)
  assert.equal(await b.opened, true)
  assert.deepEqual(a.handshakeHash, b.handshakeHash)
  assert.equal(a.handshakeHash!.byteLength, 64)
  assert.deepEqual(a.publicKey, ka.publicKey)
  assert.deepEqual(a.remotePublicKey, kb.publicKey)
  assert.deepEqual(b.remotePublicKey, ka.publicKey)
  assert.ok(a.isInitiator && !b.isInitiator)
  await exchange(a, b)
})

test('a raw stream that answers synchronously from inside write still gives ordered frames', async (t) => {
  const [ra, rb] = duplexPair({ sync: true })
  const [a, b] = secretPair(t, ra, rb)
  await exchange(a, b)
})

test('secret streams work over TCP on loopback', async (t) => {
  const [ca, cb] = await tcpPair(t)
  const [a, b] = secretPair(t, ca, cb)
  await exchange(a, b)
})

test('many small writes over TCP arrive in order, one chunk each', async (t) => {
  const [ca, cb] = await tcpPair(t)
  const [a, b] = secretPair(t, ca, cb)
  const n = 5000
  const got = collect(b, n)
  for (let i = 0; i < n; i++) a.write(Buffer.from(String(i)))
  const out = await got
  for (let i = 0; i < n; i++) assert.equal(out[i].toString(), String(i))
})

test('a message of nearly the 16 MiB frame limit crosses TCP intact', async (t) => {
  const [ca, cb] = await tcpPair(t)
  const [a, b] = secretPair(t, ca, cb)
  const big = randomBytes(MAX_MESSAGE)
  const got = collect(b, 2)
  a.write(big)
  a.write(Buffer.from('after'))
  const [first, second] = await got
  assert.ok(first.equals(big))
  assert.equal(second.toString(), 'after')
})

test('a write over the frame limit fails with MESSAGE_TOO_LARGE', async (t) => {
  const [ra, rb] = duplexPair()
  const [a] = secretPair(t, ra, rb)
  const closed = closedWith(a)
  a.write(Buffer.alloc(MAX_MESSAGE + 1))
  const err = await closed
  assert.equal((err as { code?: string } | null)?.code, 'MESSAGE_TOO_LARGE')
})

test('writes made before the handshake finishes are sent after it', async (t) => {
  const [ra, rb] = duplexPair()
  const [a, b] = secretPair(t, ra, rb)
  assert.equal(a.handshakeHash, null)
  a.write(Buffer.from('early'))
  const [m] = await collect(b, 1)
  assert.equal(m.toString(), 'early')
})

test('streams started from a finished handshake skip Noise and exchange data', async (t) => {
  const [ha, hb] = handshakePair()
  const [ra, rb] = duplexPair()
  const firstBytes: Buffer[] = []
  rb.once('data', (d: Buffer) => firstBytes.push(Buffer.from(d)))
  const [a, b] = secretPair(t, ra, rb, { a: { handshake: ha }, b: { handshake: hb } })
  assert.deepEqual(a.handshakeHash, Buffer.from(ha.hash))
  await exchange(a, b)
  assert.equal(firstBytes[0].byteLength, 59, 'the id/header frame is the first thing on the wire')
  assert.deepEqual(firstBytes[0].subarray(3, 35), SecretStream.id(ha.hash, true))
})

test('a peer whose static key differs from the expected remotePublicKey fails the handshake', async (t) => {
  const [ra, rb] = duplexPair()
  const [a, b] = secretPair(t, ra, rb, { a: { remotePublicKey: keyPair().publicKey } })
  const err = await closedWith(a)
  assert.equal((err as { code?: string }).code, 'HANDSHAKE_FAILED')
  assert.equal(await a.opened, false)
  await closedWith(b)
})

test('an IK secret stream connects when the initiator knows the responder key', async (t) => {
  const kb = keyPair()
  const [ra, rb] = duplexPair()
  const [a, b] = secretPair(t, ra, rb, {
    a: { pattern: 'IK', remotePublicKey: kb.publicKey },
    b: { pattern: 'IK', keyPair: kb }
  })
  await exchange(a, b)
  assert.deepEqual(b.remotePublicKey, a.publicKey)
})

test('a tampered data frame destroys the receiver with PROTOCOL_ERROR and no crash', async (t) => {
  const [ra, rb] = duplexPair()
  const [a, b] = secretPair(t, ra, rb)
  await a.opened
  await b.opened
  a.write(Buffer.from('fine'))
  await collect(b, 1)
  const write = ra.write.bind(ra) as (chunk: Buffer) => boolean
  ra.write = ((chunk: Buffer) => {
    const copy = Buffer.from(chunk)
    copy[copy.byteLength - 1] ^= 0x01
    return write(copy)
  }) as typeof ra.write
  const closed = closedWith(b)
  a.write(Buffer.from('tampered'))
  const err = await closed
  assert.equal((err as { code?: string }).code, 'PROTOCOL_ERROR')
})

test('random bytes in place of a handshake destroy the stream with HANDSHAKE_FAILED', async (t) => {
  for (const garbage of [randomBytes(200), Buffer.from([0xff, 0xff, 0xff, 1, 2]), Buffer.from([0, 0, 0])]) {
    const [ra, rb] = duplexPair()
    const b = new SecretStream(false, rb)
    b.on('error', noop)
    t.after(() => { b.destroy(); ra.destroy() })
    const closed = closedWith(b)
    ra.write(garbage)
    const err = await closed
    assert.equal((err as { code?: string }).code, 'HANDSHAKE_FAILED', garbage.toString('hex'))
  }
})

test('a wrong id frame after the handshake destroys the stream with HANDSHAKE_FAILED', async (t) => {
  const [, hb] = handshakePair()
  const [ra, rb] = duplexPair()
  const b = new SecretStream(false, rb, { handshake: hb })
  b.on('error', noop)
  t.after(() => { b.destroy(); ra.destroy() })
  const closed = closedWith(b)
  const frame = Buffer.alloc(59)
  frame.writeUIntLE(56, 0, 3)
  randomBytes(56).copy(frame, 3)
  ra.write(frame)
  assert.equal(((await closed) as { code?: string }).code, 'HANDSHAKE_FAILED')
})

test('short or truncated data frames destroy the stream with PROTOCOL_ERROR', async (t) => {
  for (const tail of [Buffer.from([5, 0, 0, 1, 2, 3, 4, 5]), Buffer.from([100, 0, 0, 1, 2])]) {
    const [ha, hb] = handshakePair()
    const [ra, rb] = duplexPair()
    const a = new SecretStream(true, ra, { handshake: ha })
    const b = new SecretStream(false, rb, { handshake: hb })
    a.on('error', noop)
    b.on('error', noop)
    t.after(() => { a.destroy(); b.destroy() })
    await a.opened
    await b.opened
    // ride on a's raw stream after its id frame: the raw bytes reach b unencrypted
    const closed = closedWith(b)
    ra.write(tail)
    if (tail[0] === 100) ra.end()
    assert.equal(((await closed) as { code?: string }).code, 'PROTOCOL_ERROR', tail.toString('hex'))
  }
})

test('with keepAlive on, empty frames are sent when idle and dropped by the receiver', async (t) => {
  const [ra, rb] = duplexPair()
  let rawFrames = 0
  rb.on('data', () => { rawFrames++ })
  const [a, b] = secretPair(t, ra, rb, { a: { keepAlive: 20 }, b: { keepAlive: 20 } })
  const seen: Buffer[] = []
  b.on('data', (d: Buffer) => seen.push(d))
  await a.opened
  const before = rawFrames
  // bounded wait: up to 100 ticks of 20 ms for a keepalive to pass by
  for (let i = 0; i < 100 && rawFrames <= before + 1; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(rawFrames > before + 1, 'keepalive frames went over the wire')
  a.write(Buffer.from('real'))
  await new Promise((resolve) => b.once('data', resolve))
  assert.deepEqual(seen.map(String), ['real'])
})

test('ending one side ends the other, and both close cleanly', async (t) => {
  const [ca, cb] = await tcpPair(t)
  const [a, b] = secretPair(t, ca, cb)
  a.write(Buffer.from('bye'))
  const [m] = await collect(b, 1)
  assert.equal(m.toString(), 'bye')
  b.on('end', () => b.end())
  a.on('data', () => {})
  a.end()
  const [ea, eb] = await Promise.all([closedWith(a), closedWith(b)])
  assert.equal(ea, null)
  assert.equal(eb, null)
})

test('destroying the raw stream mid-handshake fails with HANDSHAKE_FAILED and resolves opened to false', async (t) => {
  const [ra, rb] = duplexPair()
  const b = new SecretStream(false, rb)
  b.on('error', noop)
  t.after(() => { b.destroy() })
  const closed = closedWith(b)
  ra.destroy()
  const err = await closed
  assert.equal((err as { code?: string }).code, 'HANDSHAKE_FAILED')
  assert.equal(await b.opened, false)
})
