import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SecretStream } from '../../src/net/secret-stream.js'
import { Mux, type Channel } from '../../src/net/mux.js'
import { string, uint } from '../../src/codec/index.js'
import { duplexPair } from './duplex-pair.js'
import { closedWith } from './helpers.js'

function noop (): void {}

function muxPair (t: { after: (fn: () => void) => void }): { a: Mux, b: Mux, sa: SecretStream, sb: SecretStream, rawFramesToB: Buffer[] } {
  const [ra, rb] = duplexPair()
  const sa = new SecretStream(true, ra)
  const sb = new SecretStream(false, rb)
  sa.on('error', noop)
  sb.on('error', noop)
  t.after(() => { sa.destroy(); sb.destroy() })
  const rawFramesToB: Buffer[] = []
  sb.on('data', (d: Buffer) => rawFramesToB.push(Buffer.from(d)))
  return { a: Mux.from(sa), b: Mux.from(sb), sa, sb, rawFramesToB }
}

function deferred<T = void> (): { promise: Promise<T>, resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

function chatChannel (mux: Mux, log: string[], opts: { id?: Buffer, protocol?: string, aliases?: string[] } = {}): Channel {
  const ch = mux.createChannel({
    protocol: opts.protocol ?? 'chat',
    id: opts.id ?? null,
    aliases: opts.aliases,
    handshake: string,
    messages: [
      { encoding: string, onmessage: (m: string) => { log.push('text:' + m) } },
      { encoding: uint, onmessage: (m: number) => { log.push('num:' + m) } }
    ],
    onopen: (h: string) => { log.push('open:' + h) },
    onclose: (isRemote: boolean) => { log.push('close:' + (isRemote ? 'remote' : 'local')) }
  })
  assert.ok(ch)
  return ch
}

async function until (cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.ok(cond(), 'condition reached')
}

test('Mux.from gives one mux per stream', (t) => {
  const { a, sa } = muxPair(t)
  assert.equal(Mux.from(sa), a)
  assert.equal(Mux.from(a), a)
})

test('channels opened on both sides pair, exchange typed messages and see the remote handshake', async (t) => {
  const { a, b } = muxPair(t)
  const la: string[] = []
  const lb: string[] = []
  const ca = chatChannel(a, la, { id: Buffer.from('room') })
  const cb = chatChannel(b, lb, { id: Buffer.from('room') })
  ca.open('from a')
  cb.open('from b')
  ca.messages[0].send('hi')
  ca.messages[1].send(70000)
  cb.messages[0].send('yo')
  assert.equal(await ca.fullyOpened(), true)
  assert.equal(await cb.fullyOpened(), true)
  await until(() => la.length >= 2 && lb.length >= 3)
  assert.deepEqual(la, ['open:from b', 'text:yo'])
  assert.deepEqual(lb, ['open:from a', 'text:hi', 'num:70000'])
  assert.equal(cb.handshake, 'from a')
  assert.ok(a.opened({ protocol: 'chat', id: Buffer.from('room') }))
})

test('a channel with a different id does not pair, and the open is rejected', async (t) => {
  const { a, b } = muxPair(t)
  const la: string[] = []
  const ca = chatChannel(a, la, { id: Buffer.from('one') })
  chatChannel(b, [], { id: Buffer.from('two') })
  ca.open('x')
  assert.equal(await ca.fullyOpened(), false)
  assert.deepEqual(la, ['close:remote'])
  assert.ok(b.isIdle())
})

test('pair() creates a channel for a remote open that has no local one', async (t) => {
  const { a, b } = muxPair(t)
  const lb: string[] = []
  const paired = deferred<Uint8Array | null>()
  b.pair({ protocol: 'chat', id: Buffer.from('k') }, (id) => {
    const ch = chatChannel(b, lb, { id: Buffer.from(id as Uint8Array) })
    ch.open('answer')
    paired.resolve(id)
  })
  const la: string[] = []
  const ca = chatChannel(a, la, { id: Buffer.from('k') })
  ca.open('ask')
  // sent before b's channel exists: buffered and delivered after pairing
  ca.messages[0].send('early')
  assert.deepEqual(Buffer.from((await paired.promise) as Uint8Array), Buffer.from('k'))
  await until(() => lb.length >= 2 && la.length >= 1)
  assert.deepEqual(lb, ['open:ask', 'text:early'])
  assert.deepEqual(la, ['open:answer'])
})

test('a pair() handler for the protocol without id catches every id', async (t) => {
  const { a, b } = muxPair(t)
  const seen: string[] = []
  b.pair({ protocol: 'chat' }, (id) => {
    seen.push(Buffer.from(id as Uint8Array).toString())
    chatChannel(b, [], { id: Buffer.from(id as Uint8Array) }).open('ok')
  })
  const ca = chatChannel(a, [], { id: Buffer.from('any') })
  ca.open('x')
  assert.equal(await ca.fullyOpened(), true)
  assert.deepEqual(seen, ['any'])
})

test('a remote open under an alias pairs with the local channel', async (t) => {
  const { a, b } = muxPair(t)
  const lb: string[] = []
  const cb = chatChannel(b, lb, { protocol: 'hypercore/alpha', aliases: ['hypercore'] })
  cb.open('b')
  // an older peer that sends the alias, registering the new name as its own alias
  const ca = chatChannel(a, [], { protocol: 'hypercore', aliases: ['hypercore/alpha'] })
  ca.open('a')
  assert.equal(await ca.fullyOpened(), true)
  assert.equal(await cb.fullyOpened(), true)
  assert.deepEqual(lb, ['open:a'])
})

test('closing a channel tells the remote, frees the id for reuse, and later messages are dropped', async (t) => {
  const { a, b } = muxPair(t)
  const la: string[] = []
  const lb: string[] = []
  const ca = chatChannel(a, la)
  const cb = chatChannel(b, lb)
  ca.open('a')
  cb.open('b')
  await ca.fullyOpened()
  await cb.fullyOpened()
  const firstId = ca.localId
  ca.close()
  assert.equal(ca.messages[0].send('after close'), false)
  await until(() => lb.includes('close:remote'))
  assert.deepEqual(la, ['open:b', 'close:local'])
  await cb.fullyClosed()
  assert.ok(a.isIdle() && b.isIdle())

  const ca2 = chatChannel(a, [])
  ca2.open('again')
  assert.equal(ca2.localId, firstId, 'the freed id is reused')
})

test('corked sends leave as one batch frame that the remote unpacks in order', async (t) => {
  const { a, b, rawFramesToB } = muxPair(t)
  const lb: string[] = []
  const lb2: string[] = []
  const late: string[] = []
  const ca = chatChannel(a, [])
  const ca2 = chatChannel(a, [], { protocol: 'other' })
  const cb = chatChannel(b, lb)
  const cb2 = chatChannel(b, lb2, { protocol: 'other' })
  ca.open('a')
  ca2.open('a2')
  cb.open('b')
  cb2.open('b2')
  assert.deepEqual(await Promise.all([ca.fullyOpened(), ca2.fullyOpened(), cb.fullyOpened(), cb2.fullyOpened()]), [true, true, true, true])
  b.pair({ protocol: 'late' }, () => { chatChannel(b, late, { protocol: 'late' }).open('b3') })

  const before = rawFramesToB.length
  a.cork()
  ca.messages[0].send('one')
  ca2.messages[1].send(2)
  ca.messages[1].send(3)
  const ca3 = chatChannel(a, [], { protocol: 'late' })
  ca3.open('in batch')
  ca3.messages[0].send('x')
  a.uncork()
  await until(() => lb.length === 3 && lb2.length === 2 && late.length === 2)
  assert.deepEqual(lb, ['open:a', 'text:one', 'num:3'])
  assert.deepEqual(lb2, ['open:a2', 'num:2'])
  assert.deepEqual(late, ['open:in batch', 'text:x'])
  const frames = rawFramesToB.slice(before)
  assert.equal(frames.length, 1, 'one frame')
  assert.deepEqual([...frames[0].subarray(0, 2)], [0, 0], 'a batch frame')
})

test('a single corked message still goes out as a batch', async (t) => {
  const { a, b, rawFramesToB } = muxPair(t)
  const lb: string[] = []
  const ca = chatChannel(a, [])
  chatChannel(b, lb).open('b')
  ca.open('a')
  await ca.fullyOpened()
  await until(() => lb.length === 1)
  const before = rawFramesToB.length
  ca.cork()
  ca.messages[0].send('solo')
  ca.uncork()
  await until(() => lb.length === 2)
  const frame = rawFramesToB[before]
  // 00 00 ‖ channel ‖ len ‖ type 0 ‖ string "solo"
  assert.deepEqual([...frame], [0, 0, ca.localId, 6, 0, 4, ...Buffer.from('solo')])
})

test('frames for unknown channel ids and unknown message types are dropped', async (t) => {
  const { a, b, sa } = muxPair(t)
  const lb: string[] = []
  const ca = chatChannel(a, [])
  chatChannel(b, lb).open('b')
  ca.open('a')
  await until(() => lb.length === 1)
  sa.write(Buffer.from([9, 0, 1]))
  sa.write(Buffer.from([ca.localId, 7, 1, 2, 3]))
  ca.messages[0].send('still fine')
  await until(() => lb.length === 2)
  assert.deepEqual(lb, ['open:a', 'text:still fine'])
})

test('a malformed control frame destroys the stream with a coded error', async (t) => {
  for (const bad of [Buffer.from([0, 1, 5]), Buffer.from([0, 2, 42]), Buffer.from([0, 1, 3, 1, 0x61, 0])]) {
    const { b, sa, sb } = muxPair(t)
    void b
    await sa.opened
    const closed = closedWith(sb)
    sa.write(bad)
    const err = await closed
    assert.ok(['DECODE_ERROR', 'PROTOCOL_ERROR'].includes((err as { code?: string }).code as string), bad.toString('hex') + ' ' + String(err))
  }
})

test('a message that fails to decode destroys the stream with DECODE_ERROR', async (t) => {
  const { a, b, sa, sb } = muxPair(t)
  const lb: string[] = []
  const ca = chatChannel(a, [])
  chatChannel(b, lb).open('b')
  ca.open('a')
  await until(() => lb.length === 1)
  const closed = closedWith(sb)
  // type 0 is a string: a length of 200 with 1 byte behind it
  sa.write(Buffer.from([ca.localId, 0, 200, 1]))
  assert.equal(((await closed) as { code?: string }).code, 'DECODE_ERROR')
})

test('closing the stream closes every channel as remote', async (t) => {
  const { a, b, sa } = muxPair(t)
  const la: string[] = []
  chatChannel(a, la).open('a')
  chatChannel(b, []).open('b')
  await until(() => la.length === 1)
  sa.destroy()
  await until(() => la.length === 2)
  assert.deepEqual(la, ['open:b', 'close:remote'])
})
