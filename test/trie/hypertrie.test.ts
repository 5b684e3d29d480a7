import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { Hypertrie, type TrieEntry } from '../../src/trie/hypertrie.js'
import { prng } from '../helpers/tmp.js'
import { SparseReplica } from './sparse-replica.js'

async function open (t: { after: (fn: () => Promise<void>) => void }, metadata: Buffer | null = null) {
  const core = new Hypercore(new MemoryStorage())
  const trie = new Hypertrie(core, { metadata })
  await trie.ready()
  t.after(() => core.close())
  return { core, trie }
}

async function collect<T> (it: AsyncIterable<T>, max = 1_000_000): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) {
    out.push(x)
    if (out.length > max) throw new Error('iterator did not end')
  }
  return out
}

const keys = (list: TrieEntry[]) => list.map((e) => e.key).sort()
const val = (e: TrieEntry | null) => e?.value?.toString() ?? null

// counts core.get calls (block reads) on one core instance
function countGets (core: Hypercore): { count: number, blocks: number[] } {
  const c = { count: 0, blocks: [] as number[] }
  const orig = core.get.bind(core)
  core.get = (i, o) => { c.count++; c.blocks.push(i); return orig(i, o) }
  return c
}

test('a new trie writes its header as block 0 and starts at version 1', async (t) => {
  const { core, trie } = await open(t, Buffer.from('meta'))
  assert.equal(core.length, 1)
  assert.equal(trie.version, 1)
  const h = await trie.getHeader()
  assert.equal(Buffer.from(h.metadata!).toString(), 'meta')
  assert.equal(await trie.get('a'), null)
  assert.deepEqual(await collect(trie.list('')), [])
})

test('put, get, overwrite and del; each write is one block and bumps the version', async (t) => {
  const { trie } = await open(t)
  assert.equal(await trie.put('a/b', Buffer.from('1')), 2)
  assert.equal(await trie.put('/a/c/', Buffer.from('2')), 3)
  assert.equal(val(await trie.get('a/b')), '1')
  assert.equal(val(await trie.get('/a//c')), '2', 'keys are normalised')
  await trie.put('a/b', Buffer.from('3'))
  assert.equal(val(await trie.get('a/b')), '3')
  assert.equal(await trie.del('a/b'), 5)
  assert.equal(await trie.get('a/b'), null)
  assert.equal(await trie.del('a/b'), 5, 'deleting an absent key writes nothing')
  assert.equal(await trie.del('never'), 5)
  assert.equal(val(await trie.get('a/c')), '2')
  assert.equal(await trie.get('a'), null, 'a folder prefix is not a key by itself')
})

test('random puts and dels agree with a Map at every step (model check)', async (t) => {
  const { trie } = await open(t)
  const rand = prng(7)
  const model = new Map<string, string>()
  const names = Array.from({ length: 60 }, (_, i) => {
    const depth = 1 + (i % 3)
    return Array.from({ length: depth }, (_, d) => 'n' + ((i * 7 + d * 3) % 11)).join('/')
  })
  for (let step = 0; step < 300; step++) {
    const k = names[Math.floor(rand() * names.length)]
    if (rand() < 0.3) { await trie.del(k); model.delete(k) } else { const v = 'v' + step; await trie.put(k, Buffer.from(v)); model.set(k, v) }
    if (step % 25 === 0) {
      for (const n of names) assert.equal(val(await trie.get(n)), model.get(n) ?? null, `step ${step} key ${n}`)
      assert.deepEqual(keys(await collect(trie.list('', { recursive: true }))), [...model.keys()].sort())
    }
  }
  for (const n of names) assert.equal(val(await trie.get(n)), model.get(n) ?? null)
  const prefixes = ['n0', 'n3', 'n7/n10', '']
  for (const p of prefixes) {
    const depth = p ? p.split('/').length : 0
    const want = [...model.keys()].filter((k) => (p === '' || k.startsWith(p + '/')) && k.split('/').length === depth + 1).sort()
    assert.deepEqual(keys(await collect(trie.list(p))), want, 'children of ' + p)
    const wantAll = [...model.keys()].filter((k) => p === '' || k.startsWith(p + '/')).sort()
    assert.deepEqual(keys(await collect(trie.list(p, { recursive: true }))), wantAll, 'descendants of ' + p)
  }
})

test('list without recursion yields children only, not grandchildren or the folder key', async (t) => {
  const { trie } = await open(t)
  await trie.batch([
    { type: 'put', key: 'd', value: Buffer.from('dir') },
    { type: 'put', key: 'd/x', value: Buffer.from('x') },
    { type: 'put', key: 'd/y', value: Buffer.from('y') },
    { type: 'put', key: 'd/y/z', value: Buffer.from('z') },
    { type: 'put', key: 'd/q/deep/er', value: Buffer.from('e') },
    { type: 'put', key: 'dd', value: Buffer.from('sibling') }
  ])
  assert.deepEqual(keys(await collect(trie.list('d'))), ['d/x', 'd/y'])
  assert.deepEqual(keys(await collect(trie.list('d', { recursive: true }))), ['d/q/deep/er', 'd/x', 'd/y', 'd/y/z'])
  assert.deepEqual(keys(await collect(trie.list('/'))), ['d', 'dd'])
  assert.deepEqual(keys(await collect(trie.list('d/q'))), [])
})

test('a batch is one append, later ops in it see earlier ones', async (t) => {
  const { core, trie } = await open(t)
  await trie.put('keep', Buffer.from('k'))
  let appends = 0
  core.on('append', () => appends++)
  const v = await trie.batch([
    { type: 'put', key: 'a', value: Buffer.from('1') },
    { type: 'put', key: 'b', value: Buffer.from('2') },
    { type: 'del', key: 'a' },
    { type: 'del', key: 'keep' },
    { type: 'put', key: 'c/d', value: Buffer.from('3') }
  ])
  assert.equal(appends, 1)
  assert.equal(v, core.length)
  assert.equal(core.length, 2 + 5)
  assert.equal(await trie.get('a'), null)
  assert.equal(await trie.get('keep'), null)
  assert.equal(val(await trie.get('b')), '2')
  assert.equal(val(await trie.get('c/d')), '3')
})

test('a checkout reads the trie as it was and refuses writes', async (t) => {
  const { trie } = await open(t)
  await trie.put('a', Buffer.from('1'))
  const v = trie.version
  await trie.put('a', Buffer.from('2'))
  await trie.put('b', Buffer.from('3'))
  const old = trie.checkout(v)
  assert.equal(old.version, v)
  assert.equal(val(await old.get('a')), '1')
  assert.equal(await old.get('b'), null)
  assert.deepEqual(keys(await collect(old.list(''))), ['a'])
  assert.equal(val(await trie.checkout(1).get('a')), null)
  await assert.rejects(old.put('c', Buffer.from('x')), { code: 'EROFS' })
})

test('history lists every change with its block, deletions included', async (t) => {
  const { trie } = await open(t)
  await trie.put('a', Buffer.from('1'))
  await trie.put('b', Buffer.from('2'))
  await trie.del('a')
  const h = await collect(trie.history())
  assert.deepEqual(h.map((e) => [e.seq, e.key, val(e)]), [[1, 'a', '1'], [2, 'b', '2'], [3, 'a', null]])
  const part = await collect(trie.history({ gte: 2, lt: 3 }))
  assert.deepEqual(part.map((e) => e.key), ['b'])
})

test('diff between versions reports puts with previous values and deletions, under a prefix', async (t) => {
  const { trie } = await open(t)
  for (let i = 0; i < 40; i++) await trie.put(`f/${i}`, Buffer.from('old' + i))
  await trie.put('g/1', Buffer.from('g'))
  const v1 = trie.version
  await trie.put('f/3', Buffer.from('new3'))
  await trie.del('f/7')
  await trie.put('f/new', Buffer.from('n'))
  await trie.put('g/2', Buffer.from('g2'))
  await trie.put('f/9', Buffer.from('tmp'))
  await trie.put('f/9', Buffer.from('old9')) // changed and changed back: still a put
  const d = await collect(trie.diff(v1, { prefix: 'f' }))
  const summary = d.map((e) => e.type === 'put' ? `put ${e.key} ${e.value} ${e.previous}` : `del ${e.key} ${e.previous}`).sort()
  assert.deepEqual(summary, ['del f/7 old7', 'put f/3 new3 old3', 'put f/9 old9 old9', 'put f/new n null'])
  const all = await collect(trie.diff(v1))
  assert.equal(all.length, 5)
  const back = await collect(trie.checkout(v1).diff(trie.version, { prefix: 'f' }))
  assert.equal(back.length, 4, 'a diff towards an older version inverts the changes')
  assert.deepEqual(await collect(trie.diff(trie.version)), [])
})

test('hidden keys live apart: invisible to get, list and diff of ordinary keys', async (t) => {
  const { trie } = await open(t)
  await trie.put('m', Buffer.from('visible'))
  const v = trie.version
  await trie.put('m', Buffer.from('hidden'), { hidden: true })
  await trie.put('m/x', Buffer.from('hidden-x'), { hidden: true })
  assert.equal(val(await trie.get('m')), 'visible')
  assert.equal(val(await trie.get('m', { hidden: true })), 'hidden')
  assert.equal(await trie.get('m/x'), null)
  assert.deepEqual(keys(await collect(trie.list('', { recursive: true }))), ['m'])
  assert.deepEqual(keys(await collect(trie.list('', { recursive: true, hidden: true }))), ['m', 'm/x'])
  assert.deepEqual(await collect(trie.diff(v)), [])
  assert.equal((await collect(trie.diff(v, { hidden: true }))).length, 2)
  await trie.del('m', { hidden: true })
  assert.equal(val(await trie.get('m')), 'visible')
})

test('closest finds the deepest existing key that is the path or an ancestor of it', async (t) => {
  const { trie } = await open(t)
  await trie.put('a', Buffer.from('A'), { hidden: true })
  await trie.put('a/b/c', Buffer.from('C'), { hidden: true })
  await trie.put('a/b/c/d/e', Buffer.from('E'))
  const c = (k: string) => trie.closest(k, { hidden: true }).then((e) => e?.key ?? null)
  assert.equal(await c('a/b/c/d/e'), 'a/b/c')
  assert.equal(await c('a/b/c'), 'a/b/c')
  assert.equal(await c('a/b/x'), 'a')
  assert.equal(await c('a'), 'a')
  assert.equal(await c('z/a/b/c'), null)
  assert.equal(await c(''), null)
  await trie.del('a/b/c', { hidden: true })
  assert.equal(await c('a/b/c/d'), 'a', 'a deleted key is skipped for its ancestor')
  assert.equal((await trie.closest('a/b/c/d/e/f'))?.key, 'a/b/c/d/e')
})

test('a folder of 10,000 entries lists completely and reads only that folder\'s nodes', async (t) => {
  const { core, trie } = await open(t)
  const big = Array.from({ length: 10_000 }, (_, i) => `big/file-${i}`)
  for (let i = 0; i < big.length; i += 2500) {
    await trie.batch(big.slice(i, i + 2500).map((key) => ({ type: 'put' as const, key, value: Buffer.from(key) })))
  }
  // interleave other folders so the big folder's nodes are not simply the last blocks
  await trie.batch(Array.from({ length: 2000 }, (_, i) => ({ type: 'put' as const, key: `other/${i % 50}/f${i}`, value: Buffer.from('o') })))
  await trie.put('big/late', Buffer.from('big/late'))
  const fresh = new Hypertrie(core) // empty node cache
  const gets = countGets(core)
  const seen = new Set<string>()
  for await (const e of fresh.list('big')) {
    assert.equal(e.value!.toString(), e.key)
    seen.add(e.key)
  }
  assert.equal(seen.size, 10_001)
  for (const k of big) assert.ok(seen.has(k), k)
  const foreign = gets.blocks.filter((i) => i >= 10_001 && i < 10_001 + 2000)
  // the walk down to the folder may pass through a couple of newer nodes, no more
  assert.ok(foreign.length <= 4, `read ${foreign.length} nodes of other folders`)
  assert.ok(gets.count <= 10_001 + 8, `read ${gets.count} nodes for a folder of 10,001`)
})

test('on a sparse replica, a get fetches about log n nodes and a 10,000-entry listing takes few round trips', async (t) => {
  const { core, trie } = await open(t)
  const names = Array.from({ length: 10_000 }, (_, i) => `dir/${i}`)
  await trie.batch(names.map((key) => ({ type: 'put' as const, key, value: Buffer.from('v' + key) })))
  const rep = await SparseReplica.open(core)
  t.after(() => rep.close())
  const remote = new Hypertrie(rep.core, { timeout: 10_000 })
  assert.equal(val(await remote.get('dir/1234')), 'vdir/1234')
  // the head plus one node per trie level (log16 10,000 ≈ 3.3) and the header-free path
  assert.ok(rep.wants.length <= 8, `fetched ${rep.wants.length} blocks for one get`)
  rep.resetCounts()
  let n = 0
  for await (const e of remote.list('dir')) { n++; assert.ok(e.value) }
  assert.equal(n, 10_000)
  assert.deepEqual(rep.errors, [])
  assert.ok(rep.rounds < 100, `listing took ${rep.rounds} round trips`)
})

test('a corrupt node block is a coded decode error, not a crash', async (t) => {
  const core = new Hypercore(new MemoryStorage())
  t.after(() => core.close())
  const trie = new Hypertrie(core)
  await trie.ready()
  await core.append(Buffer.from([0xff, 0xff, 0xff]))
  await assert.rejects(trie.get('a'), { code: 'DECODE_ERROR' })
})

test('values the node cache keeps have backing stores of their own, not slabs of a read or of the Buffer pool', async (t) => {
  const { core, trie } = await open(t)
  for (let i = 0; i < 20; i++) await trie.put('dir/f' + i, Buffer.from('value ' + i))
  // a second trie on the same core decodes every node from its block
  const again = new Hypertrie(core)
  await again.ready()
  for (let i = 0; i < 20; i++) {
    const e = await again.get('dir/f' + i)
    assert.equal(val(e), 'value ' + i)
    assert.equal(e!.value!.buffer.byteLength, e!.value!.byteLength, `dir/f${i}'s value sits in a ${e!.value!.buffer.byteLength}-byte backing store`)
  }
  // and what a writer caches for its own puts
  const own = await trie.get('dir/f3')
  assert.equal(own!.value!.buffer.byteLength, own!.value!.byteLength)
})
