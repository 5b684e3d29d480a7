// Tries whose nodes a hostile writer shaped: pointers that loop, pointers into
// another folder, keys too long to be paths. Reads must end, show only what is
// really there, and keep their memory bounded.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { Hypertrie } from '../../src/trie/hypertrie.js'
import { encode, decode } from '../../src/codec/state.js'
import { trieNode, TRIE_DIGITS } from '../../src/codec/trie-node.js'
import { keyPath, endDepth, KEY_END } from '../../src/trie/key-path.js'
import { fromRecord, toRecord, type TrieNode } from '../../src/trie/trie-node.js'
import { NodeCache } from '../../src/trie/node-cache.js'

async function open (t: TestContext): Promise<{ core: Hypercore, trie: Hypertrie }> {
  const core = new Hypercore(new MemoryStorage())
  const trie = new Hypertrie(core)
  await trie.ready()
  t.after(() => core.close())
  return { core, trie }
}

async function keys (it: AsyncIterable<{ key: string }>, max = 1000): Promise<string[]> {
  const out: string[] = []
  for await (const e of it) {
    out.push(e.key)
    if (out.length > max) throw new Error(`the listing did not end: ${out.slice(0, 5).join(', ')}…`)
  }
  return out.sort()
}

// Puts `key` through the trie, but lets `forge` change the node before it is appended.
async function forgedPut (core: Hypercore, key: string, forge: (n: TrieNode) => TrieNode): Promise<void> {
  const append = core.append
  core.append = (blocks) => append.call(core, (blocks as Uint8Array[]).map((b) =>
    encode(trieNode, toRecord(forge(fromRecord(core.length, decode(trieNode, b)))))))
  try {
    await new Hypertrie(core).put(key, Buffer.from('forged'))
  } finally {
    core.append = append
  }
}

test('a node whose pointers lead back to itself lists once, and lookups past it end', async (t) => {
  const { core, trie } = await open(t)
  await forgedPut(core, 'a', (n) => {
    // at every depth, every other branch "is" this same node
    for (let depth = 0; depth < n.path.length; depth++) {
      const b = new Array(TRIE_DIGITS)
      for (let d = 0; d < TRIE_DIGITS; d++) if (d !== n.path[depth]) b[d] = n.seq
      n.trie[depth] = b
    }
    return n
  })
  await trie.put('b', Buffer.from('b')) // honest: its pointers copy the forged ones
  assert.deepEqual(await keys(trie.list('')), ['a', 'b'])
  assert.deepEqual(await keys(trie.list('', { recursive: true })), ['a', 'b'])
  assert.equal(await trie.get('c'), null)
  assert.equal(await trie.closest('c/d/e'), null)
  const changes = []
  for await (const d of trie.diff(1)) { changes.push(d.key); if (changes.length > 1000) throw new Error('diff did not end') }
  assert.deepEqual(changes.sort(), ['a', 'b'])
})

test('a pointer into another folder does not make that folder\'s keys show up in a listing', async (t) => {
  const { core, trie } = await open(t)
  await trie.put('etc/passwd', Buffer.from('secret'))
  await trie.put('dir/f', Buffer.from('f'))
  const passwd = 1
  const at = endDepth(1) // the first digit of a child of 'dir'
  await forgedPut(core, 'dir/g', (n) => {
    const b = n.trie[at] ?? new Array(TRIE_DIGITS)
    const free = [...Array(KEY_END).keys()].find((d) => d !== n.path[at] && b[d] === undefined)!
    b[free] = passwd
    n.trie[at] = b
    return n
  })
  assert.deepEqual(await keys(trie.list('dir')), ['dir/f', 'dir/g'])
  assert.deepEqual(await keys(trie.list('dir', { recursive: true })), ['dir/f', 'dir/g'])
  assert.deepEqual(await keys(trie.list('', { recursive: true })), ['dir/f', 'dir/g', 'etc/passwd'])
})

test('keys longer than MAX_KEY_BYTES are refused when written and skipped when read', async (t) => {
  const { core, trie } = await open(t)
  const deep = (n: number) => Array.from({ length: n }, () => 'a').join('/')
  await assert.rejects(trie.put(deep(2049), Buffer.from('x')), { code: 'BAD_ARGUMENT' })
  await assert.rejects(trie.put('k'.repeat(4097), Buffer.from('x')), { code: 'BAD_ARGUMENT' })
  const deepest = deep(2047) + '/b' // 4095 bytes
  await trie.put(deepest, Buffer.from('deepest'))
  await trie.put('z', Buffer.from('z'))
  // a 64 KiB key of one-byte components would unpack into a 1 MiB path
  const huge = deep(32 * 1024)
  const forged = core.length
  await forgedPut(core, deep(2048), (n) => ({ ...n, key: huge }))
  await trie.put('y', Buffer.from('y'))
  assert.deepEqual(await keys(trie.list('', { recursive: true })), [deepest, 'y', 'z'].sort())
  assert.equal((await trie.get('z'))?.value?.toString(), 'z')
  assert.equal((await trie.get(deepest))?.value?.toString(), 'deepest')
  const n = fromRecord(forged, decode(trieNode, (await core.get(forged))!))
  assert.equal(n.key, huge)
  assert.ok(n.path.length < keyPath(huge.split('/'), false).length / 10, `a cut path, not ${n.path.length} digits`)
})

test('the node cache stays within its bytes, whatever the size of the nodes put in it', () => {
  const cache = new NodeCache<Buffer>({ max: 1000, maxBytes: 1000, weigh: (b) => b.byteLength })
  for (let i = 0; i < 100; i++) cache.set(i, Buffer.alloc(300))
  assert.ok(cache.byteSize <= 1000, `${cache.byteSize} bytes held`)
  assert.equal(cache.size, 3)
  assert.ok(cache.get(99), 'the newest stays')
  assert.equal(cache.get(0), undefined, 'the oldest went')
  cache.set(100, Buffer.alloc(5000))
  assert.equal(cache.get(100), undefined, 'a node bigger than the whole cache is not kept')
  assert.ok(cache.byteSize <= 1000)
})
