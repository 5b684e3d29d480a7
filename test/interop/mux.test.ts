// Our Mux against the real protomux, over our SecretStream talking to the real
// @hyperswarm/secret-stream, on loopback TCP and an in-memory pipe.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import type { Duplex } from 'node:stream'
import { SecretStream } from '../../src/net/secret-stream.js'
import { Mux } from '../../src/net/mux.js'
import { string, uint, buffer } from '../../src/codec/index.js'
import { duplexPair } from '../net/duplex-pair.js'
import { tcpPair } from '../net/helpers.js'

const require = createRequire(import.meta.url)
const RealSecretStream = require('@hyperswarm/secret-stream')
const Protomux = require('protomux')
const c = require('compact-encoding')

function noop (): void {}

async function until (cond: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.ok(cond(), 'condition reached')
}

interface Side { log: string[], channel: any, send: (type: number, v: unknown) => void }

function openOurs (mux: Mux, id: Buffer, log: string[]): Side {
  const channel = mux.createChannel({
    protocol: 'hypercore/alpha',
    aliases: ['hypercore'],
    id,
    handshake: string,
    messages: [
      { encoding: string, onmessage: (m: string) => { log.push('text:' + m) } },
      { encoding: uint, onmessage: (m: number) => { log.push('num:' + m) } },
      { encoding: buffer, onmessage: (m: Uint8Array) => { log.push('bytes:' + m.byteLength) } }
    ],
    onopen: (h: string) => { log.push('open:' + h) },
    onclose: (r: boolean) => { log.push('close:' + (r ? 'remote' : 'local')) }
  })!
  return { log, channel, send: (type, v) => channel.messages[type].send(v) }
}

function openReal (mux: any, id: Buffer, log: string[]): Side {
  const channel = mux.createChannel({
    protocol: 'hypercore/alpha',
    aliases: ['hypercore'],
    id,
    handshake: c.string,
    messages: [
      { encoding: c.string, onmessage: (m: string) => { log.push('text:' + m) } },
      { encoding: c.uint, onmessage: (m: number) => { log.push('num:' + m) } },
      { encoding: c.buffer, onmessage: (m: Uint8Array) => { log.push('bytes:' + m.byteLength) } }
    ],
    onopen: (h: string) => { log.push('open:' + h) },
    onclose: (r: boolean) => { log.push('close:' + (r ? 'remote' : 'local')) }
  })
  return { log, channel, send: (type, v) => channel.messages[type].send(v) }
}

async function streams (t: { after: (fn: () => void) => void }, transport: 'tcp' | 'pipe', oursInitiates: boolean): Promise<[Duplex, Duplex]> {
  const [ra, rb] = transport === 'tcp' ? await tcpPair(t as any) : duplexPair()
  const ours = new SecretStream(oursInitiates, ra)
  const real = new RealSecretStream(!oursInitiates, rb)
  ours.on('error', noop)
  real.on('error', noop)
  t.after(() => { ours.destroy(); real.destroy() })
  return [ours, real]
}

for (const transport of ['tcp', 'pipe'] as const) {
  for (const oursInitiates of [true, false]) {
    test(`our mux and protomux open a channel, exchange typed and corked messages, and close (${transport}, ours ${oursInitiates ? 'initiator' : 'responder'})`, async (t) => {
      const [so, sr] = await streams(t, transport, oursInitiates)
      const mo = Mux.from(so)
      const mr = Protomux.from(sr)
      const id = Buffer.alloc(32, 7)
      const o = openOurs(mo, id, [])
      const r = openReal(mr, id, [])
      o.channel.open('ours')
      r.channel.open('real')
      assert.equal(await o.channel.fullyOpened(), true)
      assert.equal(await r.channel.fullyOpened(), true)

      o.send(0, 'plain')
      r.send(0, 'plain back')
      o.channel.cork()
      o.send(1, 1)
      o.send(2, Buffer.alloc(5000))
      o.send(1, 2 ** 40)
      o.channel.uncork()
      r.channel.cork()
      r.send(2, Buffer.alloc(300))
      r.send(1, 65536)
      r.channel.uncork()

      await until(() => o.log.length >= 4 && r.log.length >= 5)
      assert.deepEqual(r.log, ['open:ours', 'text:plain', 'num:1', 'bytes:5000', 'num:1099511627776'])
      assert.deepEqual(o.log, ['open:real', 'text:plain back', 'bytes:300', 'num:65536'])

      o.channel.close()
      await until(() => r.log.includes('close:remote'))
      assert.equal(o.log.at(-1), 'close:local')
    })
  }
}

test('protomux pairs with our channel through pair() in both directions, and the remote close reaches us', async (t) => {
  const [so, sr] = await streams(t, 'pipe', true)
  const mo = Mux.from(so)
  const mr = Protomux.from(sr)
  const oursLog: string[] = []
  const realLog: string[] = []

  // real opens first; we answer from a pair handler
  mo.pair({ protocol: 'hypercore/alpha' }, (id) => { openOurs(mo, Buffer.from(id as Uint8Array), oursLog).channel.open('paired by ours') })
  const r = openReal(mr, Buffer.from('one'), realLog)
  r.channel.open('real first')
  r.send(0, 'before pairing')
  await until(() => oursLog.length >= 2 && realLog.length >= 1)
  assert.deepEqual(oursLog, ['open:real first', 'text:before pairing'])
  assert.deepEqual(realLog, ['open:paired by ours'])

  // we open first; the real one answers from its pair handler
  const realLog2: string[] = []
  mr.pair({ protocol: 'hypercore/alpha', id: Buffer.from('two') }, (id: Buffer) => { openReal(mr, id, realLog2).channel.open('paired by real') })
  const oursLog2: string[] = []
  const o = openOurs(mo, Buffer.from('two'), oursLog2)
  o.channel.open('ours first')
  assert.equal(await o.channel.fullyOpened(), true)
  await until(() => realLog2.length >= 1)
  assert.deepEqual(oursLog2, ['open:paired by real'])
  assert.deepEqual(realLog2, ['open:ours first'])

  r.channel.close()
  await until(() => oursLog.includes('close:remote'))
})

test('an open that protomux cannot pair is rejected and our channel closes', async (t) => {
  const [so, sr] = await streams(t, 'tcp', false)
  const mo = Mux.from(so)
  Protomux.from(sr)
  const log: string[] = []
  const o = openOurs(mo, Buffer.from('nobody'), log)
  o.channel.open('hello?')
  assert.equal(await o.channel.fullyOpened(), false)
  assert.deepEqual(log, ['close:remote'])
  assert.ok(mo.isIdle())
})

test('we reject a protomux open nobody pairs, and protomux closes its channel', async (t) => {
  const [so, sr] = await streams(t, 'tcp', true)
  Mux.from(so)
  const mr = Protomux.from(sr)
  const log: string[] = []
  const r = openReal(mr, Buffer.from('nobody'), log)
  r.channel.open('hello?')
  assert.equal(await r.channel.fullyOpened(), false)
  assert.deepEqual(log, ['close:remote'])
})
