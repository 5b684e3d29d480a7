// Our Noise and SecretStream against the real noise-handshake and
// @hyperswarm/secret-stream, in both roles, over loopback TCP and an in-memory pipe.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import type { Duplex } from 'node:stream'
import { SecretStream } from '../../src/net/secret-stream.js'
import { NoiseState } from '../../src/net/noise.js'
import { keyPair } from '../../src/crypto/sign.js'
import { randomBytes } from '../../src/crypto/hash.js'
import { duplexPair } from '../net/duplex-pair.js'
import { tcpPair, handshakePair, collect, closedWith } from '../net/helpers.js'

const require = createRequire(import.meta.url)
const RealSecretStream = require('@hyperswarm/secret-stream')
const RealNoise = require('noise-handshake')
const curve = require('noise-curve-ed')

function noop (): void {}

type AnyStream = Duplex & { handshakeHash: Buffer, publicKey: Buffer, remotePublicKey: Buffer, opened: Promise<boolean> }

async function checkPair (a: AnyStream, b: AnyStream, ka: { publicKey: Buffer }, kb: { publicKey: Buffer }): Promise<void> {
  assert.equal(await a.opened, true)
  assert.equal(await b.opened, true)
  assert.ok(Buffer.from(a.handshakeHash).equals(Buffer.from(b.handshakeHash)), 'equal handshake hashes')
  assert.ok(Buffer.from(a.remotePublicKey).equals(kb.publicKey))
  assert.ok(Buffer.from(b.remotePublicKey).equals(ka.publicKey))

  const toB = [Buffer.from('hello'), randomBytes(100000), Buffer.from('x')]
  const toA = [Buffer.from('world'), randomBytes(3000)]
  const gotB = collect(b, toB.length)
  const gotA = collect(a, toA.length)
  for (const m of toB) a.write(m)
  for (const m of toA) b.write(m)
  assert.deepEqual(await gotB, toB)
  assert.deepEqual(await gotA, toA)
}

for (const transport of ['tcp', 'pipe'] as const) {
  for (const oursInitiates of [true, false]) {
    const role = oursInitiates ? 'initiator' : 'responder'
    test(`our secret stream as ${role} talks to the real one over ${transport === 'tcp' ? 'loopback TCP' : 'an in-memory pipe'}`, async (t) => {
      const [ra, rb] = transport === 'tcp' ? await tcpPair(t) : duplexPair()
      const ka = keyPair()
      const kb = keyPair()
      const a: AnyStream = oursInitiates ? new SecretStream(true, ra, { keyPair: ka }) : new RealSecretStream(true, ra, { keyPair: ka })
      const b: AnyStream = oursInitiates ? new RealSecretStream(false, rb, { keyPair: kb }) : new SecretStream(false, rb, { keyPair: kb })
      a.on('error', noop)
      b.on('error', noop)
      t.after(() => { a.destroy(); b.destroy() })
      await checkPair(a, b, ka, kb)
    })
  }
}

test('streams started from a finished handshake interoperate with the real one in both roles', async (t) => {
  for (const oursInitiates of [true, false]) {
    const ka = keyPair()
    const kb = keyPair()
    const [ha, hb] = handshakePair(ka, kb)
    const [ra, rb] = duplexPair()
    const a: AnyStream = oursInitiates ? new SecretStream(true, ra, { handshake: ha }) : new RealSecretStream(true, ra, { handshake: ha })
    const b: AnyStream = oursInitiates ? new RealSecretStream(false, rb, { handshake: hb }) : new SecretStream(false, rb, { handshake: hb })
    a.on('error', noop)
    b.on('error', noop)
    t.after(() => { a.destroy(); b.destroy() })
    await checkPair(a, b, ka, kb)
  }
})

test('keepalive frames from the real stream are dropped by ours', async (t) => {
  const [ra, rb] = duplexPair()
  const a = new RealSecretStream(true, ra, { keepAlive: 10 })
  const b = new SecretStream(false, rb, { keepAlive: 10 })
  a.on('error', noop)
  b.on('error', noop)
  t.after(() => { a.destroy(); b.destroy() })
  let raw = 0
  rb.on('data', () => { raw++ })
  const seen: Buffer[] = []
  b.on('data', (d: Buffer) => seen.push(d))
  await b.opened
  const start = raw
  for (let i = 0; i < 100 && raw < start + 3; i++) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(raw >= start + 3, 'the real stream sent keepalives')
  a.write(Buffer.from('data'))
  await new Promise((resolve) => b.once('data', resolve))
  assert.deepEqual(seen.map(String), ['data'])
})

test('a tampered frame from the real stream destroys ours with a coded error', async (t) => {
  const [ra, rb] = duplexPair()
  const a = new RealSecretStream(true, ra)
  const b = new SecretStream(false, rb)
  a.on('error', noop)
  b.on('error', noop)
  t.after(() => { a.destroy(); b.destroy() })
  await b.opened
  a.write(Buffer.from('ok'))
  await collect(b, 1)
  const write = ra.write.bind(ra) as (chunk: Buffer) => boolean
  ra.write = ((chunk: Buffer) => {
    const copy = Buffer.from(chunk)
    copy[5] ^= 0x80
    return write(copy)
  }) as typeof ra.write
  const closed = closedWith(b)
  a.write(Buffer.from('tampered message'))
  assert.equal(((await closed) as { code?: string }).code, 'PROTOCOL_ERROR')
})

test('our Noise messages are byte-identical to noise-handshake given the same ephemeral keys', () => {
  for (const pattern of ['XX', 'IK'] as const) {
    const s1 = keyPair()
    const s2 = keyPair()
    const e1 = keyPair()
    const e2 = keyPair()
    const prologue = Buffer.from('hyperdht-like prologue')
    const ours = new NoiseState(pattern, true, s1, { prologue, remoteStaticKey: s2.publicKey, ephemeralKeyPair: e1 })
    const real = new RealNoise(pattern, true, s1, { curve })
    real.initialise(prologue, pattern === 'IK' ? s2.publicKey : undefined)
    real.e = { publicKey: Buffer.from(e1.publicKey), secretKey: Buffer.from(e1.secretKey) }
    const resp = new RealNoise(pattern, false, s2, { curve })
    resp.initialise(prologue)
    resp.e = { publicKey: Buffer.from(e2.publicKey), secretKey: Buffer.from(e2.secretKey) }

    const payload = Buffer.from('payload')
    const m1 = ours.send(payload)
    assert.ok(m1.equals(real.send(payload)), `${pattern} message 1`)
    resp.recv(m1)
    const m2 = resp.send(payload)
    ours.recv(m2)
    if (pattern === 'XX') {
      real.recv(m2)
      const m3 = ours.send(payload)
      assert.ok(m3.equals(real.send(payload)), 'XX message 3')
      resp.recv(m3)
    }
    assert.ok(ours.complete && resp.complete)
    assert.ok(ours.hash!.equals(resp.hash))
    assert.ok(ours.tx!.equals(resp.rx))
    assert.ok(ours.rx!.equals(resp.tx))
  }
})
