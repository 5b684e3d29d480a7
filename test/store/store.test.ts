import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Store } from '../../src/store/store.js'
import { tmpDir } from '../helpers/tmp.js'

function link (t: any, a: Store, b: Store) {
  const s1 = a.replicate(true)
  const s2 = b.replicate(false)
  s1.pipe(s2).pipe(s1)
  t.after(() => { s1.destroy(); s2.destroy() })
}

test('a named core keeps its key across restarts of a store on disk', async (t) => {
  const dir = tmpDir(t)
  const a = new Store(dir)
  const core = await a.get({ name: 'mine' })
  await core.append('x')
  const key = core.key!
  assert.ok((await a.get({ name: 'mine' })) === core, 'opened once')
  await a.close()
  const b = new Store(dir)
  t.after(() => b.close())
  const again = await b.get({ name: 'mine' })
  assert.ok(again.key!.equals(key))
  assert.equal(again.length, 1)
  assert.ok(again.writable)
  assert.ok(!(await b.get({ name: 'other' })).key!.equals(key))
})

test('replicate serves every core the store holds, including ones opened later', async (t) => {
  const a = Store.memory()
  const b = Store.memory()
  t.after(() => Promise.all([a.close(), b.close()]))
  const one = await a.get({ name: 'one' })
  await one.append(['a', 'b'])
  link(t, a, b)
  const two = await a.get({ name: 'two' })
  await two.append('c')
  const r1 = await b.get({ key: one.key })
  const r2 = await b.get({ key: two.key })
  assert.equal((await r1.get(1, { timeout: 5000 }))!.toString(), 'b')
  assert.equal((await r2.get(0, { timeout: 5000 }))!.toString(), 'c')
})

test('a core held on disk but not open is opened when a peer asks for it', async (t) => {
  const dir = tmpDir(t)
  const seed = new Store(dir)
  const core = await seed.get({ name: 'kept' })
  await core.append(['on', 'disk'])
  const key = core.key!
  await seed.close()

  const a = new Store(dir)
  const b = Store.memory()
  t.after(() => Promise.all([a.close(), b.close()]))
  link(t, a, b)
  const reader = await b.get({ key })
  assert.equal((await reader.get(1, { timeout: 5000 }))!.toString(), 'disk')
})

test('a peer asking for a core the store does not hold gets nothing', async (t) => {
  const a = Store.memory()
  const b = Store.memory()
  t.after(() => Promise.all([a.close(), b.close()]))
  const other = Store.memory()
  const foreign = await other.get({ name: 'x' })
  await foreign.append('secret')
  t.after(() => other.close())
  link(t, a, b)
  const reader = await b.get({ key: foreign.key })
  assert.equal(await reader.get(0, { timeout: 300 }).catch((e) => e.code), 'REQUEST_TIMEOUT')
})

test('a core opened by key while a peer\'s request opens it by discovery key is opened once, without STORAGE_LOCKED', async (t) => {
  const dir = tmpDir(t)
  const a = new Store(dir)
  const core = await a.get({ name: 'x' })
  await core.append('x')
  const key = core.key!
  const dk = core.discoveryKey!
  await a.close()
  for (let round = 0; round < 5; round++) {
    const b = new Store(dir)
    await b.ready()
    // what a remote's channel open for this discovery key runs, and at once a local open by key
    const [byDk, byKey] = await Promise.all([(b as any).byDiscoveryKey(dk), b.get({ key })])
    assert.ok(byDk === byKey, 'one core')
    assert.equal(byKey.length, 1)
    await b.close()
  }
})
