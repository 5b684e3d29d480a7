// The hyperbee extension between two of our bees: mostly over an in-process
// link that records every message (the blocks themselves travel over our
// replication), and once over our replication alone (coreExtension).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { Hyperbee } from '../../src/bee/hyperbee.js'
import { coreExtension, type ExtensionRegistrar } from '../../src/bee/extension.js'
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

// The blocks a cold listing of 1,000 entries waits for: with the extension over
// our own replication (message 9), only those the one reply names.
async function coldListing (t: any, extension: boolean): Promise<{ waits: number[], named: Set<number>, reader: Hyperbee, writer: Hyperbee }> {
  const wcore = new Hypercore(new MemoryStorage())
  await wcore.ready()
  t.after(() => wcore.close())
  const writer = new Hyperbee(wcore, { extension: extension ? coreExtension(wcore) : null })
  const b = writer.batch()
  for (let i = 0; i < 1500; i++) await b.put('e' + String(i).padStart(5, '0'), 'value ' + i)
  await b.flush()
  const rcore = new Hypercore(new MemoryStorage(), wcore.key)
  await rcore.ready()
  t.after(() => rcore.close())
  connect(t, wcore, rcore)
  await rcore.update({ timeout: 5000 })
  // what the reader hears, recorded on its way in
  const heard: Array<{ from: number, message: Buffer }> = []
  const viaCore = coreExtension(rcore)
  const recording: ExtensionRegistrar = (name, h) => viaCore(name, { onmessage: (m, peer) => { heard.push({ from: 0, message: m }); h.onmessage(m, peer) } })
  const reader = new Hyperbee(rcore, { extension: extension ? recording : null, timeout: 5000 })
  const waits: number[] = []
  let n = 0
  for await (const e of reader.range({ gte: 'e00200', lt: 'e01200' }, { onwait: (s) => waits.push(s) })) {
    assert.equal(e.value!.toString(), 'value ' + (200 + n))
    n++
  }
  assert.equal(n, 1000)
  return { waits, named: cached(heard, 0), reader, writer }
}

test('over our own replication, a cold remote listing asks once and then waits only for blocks the reply named', async (t) => {
  const { waits, named, reader, writer } = await coldListing(t, true)
  assert.equal(reader.extension!.sent.iterator, 1)
  // the first wait is the one that asked
  assert.deepEqual(waits.slice(1).filter((s) => !named.has(s)), [], 'waited for blocks the reply did not name')
  assert.equal(writer.extension!.received.iterator, 1)
  assert.ok(reader.extension!.received.cache >= 1)
  const without = await coldListing(t, false)
  // without the extension the walk discovers the tree one level at a time
  assert.ok(waits.length < without.waits.length, `${waits.length} waits with the extension, ${without.waits.length} without`)
})
