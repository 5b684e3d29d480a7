// The hyperbee extension against hyperbee@2, over real replication between
// our core and a real hypercore@11 (the extension travels as message 9):
// - our server answers a real client that replicates from our core;
// - our client asks a real server whose core it replicates from.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { Hyperbee } from '../../src/bee/hyperbee.js'
import { coreExtension, type ExtensionRegistrar } from '../../src/bee/extension.js'
import { decode } from '../../src/codec/state.js'
import { beeExtension } from '../../src/codec/bee-extension.js'
import { tmpDir } from '../helpers/tmp.js'
import { oracle } from '../helpers/oracle.js'

const RealHypercore = oracle('hypercore')
const RealHyperbee = oracle('hyperbee')

const ENTRIES = 1500
const key = (i: number) => 'e' + String(i).padStart(5, '0')

function pipe (t: any, a: any, b: any) {
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })
}

function named (messages: Buffer[]): Set<number> {
  const out = new Set<number>()
  for (const m of messages) {
    const d = decode(beeExtension, m)
    if (d.cache) for (const s of d.cache.blocks) out.add(s)
  }
  return out
}

async function until (f: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms
  while (!f() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
  return f()
}

test('our server answers a real client: its get and iterator requests decode, and it fetches what our replies name', async (t) => {
  const oc = new Hypercore(new MemoryStorage())
  await oc.ready()
  t.after(() => oc.close())
  const replies: Buffer[] = []
  const viaCore = coreExtension(oc)
  const register: ExtensionRegistrar = (name, h) => {
    const ext = viaCore(name, h)
    return { send: (m, peer) => { replies.push(m); ext.send(m, peer) }, broadcast: (m) => ext.broadcast(m) }
  }
  const writer = new Hyperbee(oc, { extension: register })
  const b = writer.batch()
  for (let i = 0; i < ENTRIES; i++) await b.put(key(i), 'value ' + i)
  await b.flush()

  const r = new RealHypercore(tmpDir(t), oc.key)
  const db = new RealHyperbee(r, { keyEncoding: 'utf-8', valueEncoding: 'utf-8' })
  await db.ready()
  t.after(() => db.close())
  pipe(t, oc.replicate(true), r.replicate(false))
  await r.update({ wait: true })

  const e = await db.get(key(777))
  assert.equal(e.value, 'value 777')
  assert.ok(await until(() => writer.extension!.received.get === 1, 5000), 'the real client\'s get reached our server')
  assert.ok(writer.extension!.sent.cache >= 1)

  // a reverse walk (the real client preloads nothing for it): read a few
  // entries from the top, stop, and the real client still fetches the bottom
  // of the range, because our reply named it
  const firstOfRange = (await writer.get(key(100)))!.seq
  const it = db.createReadStream({ gte: key(100), lt: key(1400), reverse: true })
  let n = 0
  for await (const x of it) { if (n === 0) assert.equal(x.key, key(1399)); if (++n === 5) break }
  assert.ok(await until(() => writer.extension!.received.iterator >= 1, 5000))
  assert.ok(await until(() => named(replies).has(firstOfRange), 5000), 'our reply names the block of the range\'s first key')
  assert.ok(await until(() => r.has(firstOfRange), 5000), 'the real client fetched the block our reply named')
})

test('our client asks the real server: its get and iterator requests decode, and it fetches what the replies name', async (t) => {
  const w = new RealHypercore(tmpDir(t))
  const db = new RealHyperbee(w, { keyEncoding: 'utf-8', valueEncoding: 'utf-8' })
  await db.ready()
  t.after(() => db.close())
  const batch = db.batch()
  for (let i = 0; i < ENTRIES; i++) await batch.put(key(i), 'value ' + i)
  await batch.flush()
  // what the real server sends, as it sends it
  const replies: Buffer[] = []
  const out = db.extension.outgoing
  const send = out.send.bind(out)
  out.send = (m: Buffer, peer: unknown) => { replies.push(m); send(m, peer) }

  const oc = new Hypercore(new MemoryStorage(), w.key)
  await oc.ready()
  t.after(() => oc.close())
  pipe(t, oc.replicate(true), w.replicate(false))
  await oc.update({ timeout: 5000 })
  const reader = new Hyperbee(oc, { extension: coreExtension(oc), timeout: 10_000 })

  assert.equal((await reader.get(key(1234)))!.value!.toString(), 'value 1234')
  assert.equal(reader.extension!.sent.get, 1)
  assert.ok(await until(() => reader.extension!.received.cache >= 1, 5000), 'the real server answered our get')

  // a reverse walk, stopped after a few entries: the real server's reply names
  // the rest of the range, down to its first key, and our client fetches it
  const firstOfRange = (await db.get(key(200))).seq
  assert.ok(!oc.has(firstOfRange))
  let n = 0
  for await (const e of reader.range({ gte: key(200), lt: key(1200), reverse: true })) {
    assert.equal(e.key.toString(), key(1199 - n))
    if (++n === 5) break
  }
  assert.equal(reader.extension!.sent.iterator, 1)
  assert.ok(await until(() => named(replies).has(firstOfRange), 5000), 'the real server named the block of the range\'s first key')
  assert.ok(await until(() => oc.has(firstOfRange), 5000), 'our client fetched what the real server named')
})
