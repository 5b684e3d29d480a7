// The hyperbee extension between two of our bees: the transport is an
// in-process link (our replicator does not carry extension messages yet), the
// blocks themselves travel over our replication.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { Hyperbee } from '../../src/bee/hyperbee.js'
import type { ExtensionRegistrar } from '../../src/bee/extension.js'
import { encode, decode } from '../../src/codec/state.js'
import { beeExtension } from '../../src/codec/bee-extension.js'
import { connect } from '../helpers/replication.js'

// Two registrars joined back to back; every message is recorded and delivered
// on the next tick (in-process replication answers within ticks too, so a
// later turn of the event loop would come after the blocks themselves).
function link () {
  const handlers: Array<((m: Buffer, peer: unknown) => void) | null> = [null, null]
  const log: Array<{ from: number, message: Buffer }> = []
  const side = (me: number): ExtensionRegistrar => (_name, h) => {
    handlers[me] = h.onmessage
    const deliver = (m: Buffer) => { log.push({ from: me, message: m }); process.nextTick(() => handlers[1 - me]?.(m, 'peer' + me)) }
    return { send: (m) => deliver(m), broadcast: (m) => deliver(m) }
  }
  return { a: side(0), b: side(1), log }
}

async function pair (t: any, n: number) {
  const l = link()
  const wcore = new Hypercore(new MemoryStorage())
  await wcore.ready()
  t.after(() => wcore.close())
  const writer = new Hyperbee(wcore, { extension: l.a })
  const b = writer.batch()
  for (let i = 0; i < n; i++) await b.put('e' + String(i).padStart(5, '0'), 'value ' + i)
  await b.flush()
  const rcore = new Hypercore(new MemoryStorage(), wcore.key)
  await rcore.ready()
  t.after(() => rcore.close())
  connect(t, wcore, rcore)
  await rcore.update({ timeout: 5000 })
  return { writer, rcore, l }
}

function cached (log: Array<{ from: number, message: Buffer }>, from: number): Set<number> {
  const out = new Set<number>()
  for (const e of log) {
    if (e.from !== from) continue
    const m = decode(beeExtension, e.message)
    if (m.cache) for (const s of m.cache.blocks) out.add(s)
  }
  return out
}

test('a cold remote listing asks once and every block it then waits for was named by the reply', async (t) => {
  const { writer, rcore, l } = await pair(t, 1500)
  const reader = new Hyperbee(rcore, { extension: l.b, timeout: 5000 })
  const waits: number[] = []
  let n = 0
  for await (const e of reader.range({ gte: 'e00200', lt: 'e01200' }, { onwait: (s) => waits.push(s) })) {
    assert.equal(e.value!.toString(), 'value ' + (200 + n))
    n++
  }
  assert.equal(n, 1000)
  assert.equal(reader.extension!.sent.iterator, 1)
  assert.equal(writer.extension!.received.iterator, 1)
  const named = cached(l.log, 0)
  assert.deepEqual(waits.filter((s) => !named.has(s)), [], 'waited for blocks the reply did not name')
  // without the extension the same listing waits far more often, one level at a time
  assert.ok(waits.length > 0)
})

test('a cold remote get asks once; the reply names the lookup\'s path', async (t) => {
  const { writer, rcore, l } = await pair(t, 3000)
  const reader = new Hyperbee(rcore, { extension: l.b, timeout: 5000 })
  const waits: number[] = []
  assert.equal((await reader.get('e02345', { onwait: (s) => waits.push(s) }))!.value!.toString(), 'value 2345')
  assert.equal(reader.extension!.sent.get, 1)
  assert.equal(writer.extension!.received.get, 1)
  const named = cached(l.log, 0)
  assert.ok(named.size >= 3, 'root, nodes and keys: ' + named.size)
  assert.deepEqual(waits.slice(1).filter((s) => !named.has(s)), [])
  assert.equal(await reader.get('nope'), null)
})

test('the server ignores versions it does not have, and garbage', async (t) => {
  const { writer, l } = await pair(t, 10)
  const before = l.log.length
  const ext = writer.extension!
  ext.onmessage(encode(beeExtension, { cache: null, get: { version: writer.version + 5, key: Buffer.from('e00001') }, iterator: null }), 'x')
  ext.onmessage(encode(beeExtension, { cache: null, get: { version: 0, key: Buffer.from('e00001') }, iterator: null }), 'x')
  ext.onmessage(Buffer.from('ffffffff', 'hex'), 'x')
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(l.log.length, before)
  // a valid one is answered
  ext.onmessage(encode(beeExtension, { cache: null, get: { version: writer.version, key: Buffer.from('e00001') }, iterator: null }), 'x')
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(l.log.length > before)
})

test('the reader fetches what a reply names, beyond what it has read so far', async (t) => {
  const { writer, rcore, l } = await pair(t, 1500)
  const reader = new Hyperbee(rcore, { extension: l.b, timeout: 5000 })
  const bottom = (await writer.get('e00100'))!.seq
  let n = 0
  for await (const e of reader.range({ gte: 'e00100', reverse: true })) {
    assert.equal(e.key.toString(), 'e' + String(1499 - n).padStart(5, '0'))
    if (++n === 5) break
  }
  assert.ok(cached(l.log, 0).has(bottom), 'the reply names the bottom of the range')
  const end = Date.now() + 5000
  while (!rcore.has(bottom) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.ok(rcore.has(bottom), 'and the reader fetched it without reading that far')
})
