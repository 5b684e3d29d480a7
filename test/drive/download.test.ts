// Drive#download (issue 12, issue 9 part 1): a drive is fetched as ranges of
// its content core, each mounted drive on its own; one that cannot be had
// (no peer serves it, or its blocks stop coming) is reported and the rest is
// still fetched. Writer and reader stores replicate in-process.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Hyperdrive } from '../../src/drive/hyperdrive.js'
import type { Drive, DownloadStatus } from '../../src/drive/types.js'
import { isHyperfsError } from '../../src/errors.js'

const TIMEOUT = 1500 // ms a reader waits for a peer in these tests

async function pair (t: TestContext): Promise<{ writer: DriveStore, reader: DriveStore, cut: () => void }> {
  const writer = DriveStore.memory()
  const reader = DriveStore.memory({ timeout: TIMEOUT })
  t.after(() => Promise.all([writer.close(), reader.close()]))
  const s1 = writer.replicate(true)
  const s2 = reader.replicate(false)
  s1.pipe(s2).pipe(s1)
  const cut = (): void => { s1.destroy(); s2.destroy() }
  t.after(cut)
  return { writer, reader, cut }
}

async function remote (store: DriveStore, d: Drive): Promise<Hyperdrive> {
  const r = await store.open(d.key)
  await r.metadata.update({ timeout: 5000 })
  return r
}

// A drive no peer will ever serve: made on a store nobody is connected to.
async function unreachable (t: TestContext): Promise<Buffer> {
  const elsewhere = DriveStore.memory()
  t.after(() => elsewhere.close())
  const d = await elsewhere.create()
  await d.writeFile('/lost.txt', Buffer.from('nobody serves this'))
  return d.key
}

// the last status of each drive of a download, by path
function statuses (): { onprogress: (s: DownloadStatus) => void, last: Map<string, DownloadStatus> } {
  const last = new Map<string, DownloadStatus>()
  return { onprogress: (s) => last.set(s.path, { ...s }), last }
}

function allLocal (d: Hyperdrive): boolean {
  const c = d.content!
  return c.length > 0 && c.hasAll(0, c.length)
}

test('a download whose nested mount no peer serves fetches everything else, then fails with DOWNLOAD_INCOMPLETE naming that mount (DRIVE_NOT_FOUND)', async (t) => {
  const { writer, reader } = await pair(t)
  const top = await writer.create()
  const inner = await writer.create()
  await top.writeFile('/a.txt', Buffer.from('top a'))
  await top.writeFile('/dir/b.bin', Buffer.alloc(200 * 1024, 1))
  await inner.writeFile('/folder/c.txt', Buffer.from('inner c'))
  await inner.writeFile('/folder/d.bin', Buffer.alloc(100 * 1024, 2))
  // mounted on both sides of the lost drive, so that neither order of the walk hides a failure
  await top.mount('/m1', inner.key)
  await top.mount('/lost', await unreachable(t))
  await top.mount('/z/m2', inner.key, { version: inner.version })

  const r = await remote(reader, top)
  const { onprogress, last } = statuses()
  const err = await r.download('/', { timeout: TIMEOUT, onprogress }).then(() => null, (e) => e)
  assert.ok(isHyperfsError(err, 'DOWNLOAD_INCOMPLETE'), `DOWNLOAD_INCOMPLETE, not ${err}`)
  assert.match(err.message, /\/lost/)
  assert.match(err.message, /DRIVE_NOT_FOUND/)

  assert.deepEqual([...last.keys()].sort(), ['/', '/lost', '/m1', '/z/m2'])
  const lost = last.get('/lost')!
  assert.equal(lost.state, 'failed')
  assert.ok(isHyperfsError(lost.error, 'DRIVE_NOT_FOUND'), String(lost.error))
  for (const p of ['/', '/m1', '/z/m2']) {
    const s = last.get(p)!
    assert.equal(s.state, 'done', `${p}: ${s.error}`)
    assert.equal(s.error, null)
    assert.equal(s.files, 2)
    assert.equal(s.bytes, s.total)
  }
  assert.equal(last.get('/')!.total, 5 + 200 * 1024)
  assert.equal(last.get('/m1')!.total, 7 + 100 * 1024)
  assert.ok(allLocal(r), 'the top drive is held in full')
  assert.ok(allLocal(await reader.open(inner.key)), 'the mounted drive is held in full')
})

test('a download of a folder inside a mounted drive counts and fetches that drive\'s files, and nothing of the parent', async (t) => {
  const { writer, reader } = await pair(t)
  const top = await writer.create()
  const inner = await writer.create()
  await top.writeFile('/big.bin', Buffer.alloc(300 * 1024, 9))
  await inner.writeFile('/folder/one.txt', Buffer.from('one'))
  await inner.writeFile('/folder/sub/two.bin', Buffer.alloc(70 * 1024, 2))
  await inner.writeFile('/other.bin', Buffer.alloc(10 * 1024, 3))
  await top.mount('/nested', inner.key)

  const r = await remote(reader, top)
  for (const [path, files, total] of [['/nested/folder', 2, 3 + 70 * 1024], ['/nested', 3, 3 + 80 * 1024]] as const) {
    const { onprogress, last } = statuses()
    await r.download(path, { timeout: TIMEOUT, onprogress })
    assert.deepEqual([...last.keys()], [path])
    const s = last.get(path)!
    assert.equal(s.state, 'done')
    assert.ok(s.key.equals(inner.key), 'the status names the mounted drive')
    assert.equal(s.files, files, path)
    assert.equal(s.total, total, path)
    assert.equal(s.bytes, total, path)
  }
  const replica = await reader.open(inner.key)
  assert.equal((await replica.read('/folder/sub/two.bin', { timeout: 1 })).length, 70 * 1024)
  assert.ok(!r.content || !r.content.has(0), 'the parent\'s content was not fetched')
})

test('a download whose blocks stop coming fails each drive with REQUEST_TIMEOUT instead of waiting forever', async (t) => {
  const { writer, reader, cut } = await pair(t)
  const top = await writer.create()
  const inner = await writer.create()
  await top.writeFile('/a.bin', Buffer.alloc(100 * 1024, 1))
  await inner.writeFile('/b.bin', Buffer.alloc(100 * 1024, 2))
  await top.mount('/inner', inner.key)
  const r = await remote(reader, top)
  // the listings reach the reader, then the peer goes
  for await (const _ of r.readdir('/')) {}
  for await (const _ of r.readdir('/inner')) {}
  const i = await reader.open(inner.key)
  await i.info()
  await r.info()
  cut()
  const { onprogress, last } = statuses()
  const err = await r.download('/', { timeout: TIMEOUT, onprogress }).then(() => null, (e) => e)
  assert.ok(isHyperfsError(err, 'DOWNLOAD_INCOMPLETE'), String(err))
  for (const p of ['/', '/inner']) {
    const s = last.get(p)!
    assert.equal(s.state, 'failed')
    assert.ok(isHyperfsError(s.error, 'REQUEST_TIMEOUT'), `${p}: ${s.error}`)
    assert.equal(s.files, 1)
    assert.equal(s.bytes, 0)
  }
})

test('a raw core mounted in a drive is downloaded whole and reported as one file', async (t) => {
  const { writer, reader } = await pair(t)
  const top = await writer.create()
  const core = await writer.createCore()
  await core.append(Array.from({ length: 50 }, (_, i) => Buffer.alloc(1000, i)))
  await top.mount('/raw', core.key!, { kind: 'core' })
  const r = await remote(reader, top)
  const { onprogress, last } = statuses()
  await r.download('/', { timeout: TIMEOUT, onprogress })
  const s = last.get('/raw')!
  assert.equal(s.kind, 'core')
  assert.equal(s.state, 'done')
  assert.deepEqual([s.files, s.bytes, s.total], [1, 50_000, 50_000])
  const replica = await reader.openCore(core.key!)
  assert.ok(replica.hasAll(0, 50))
})

// the listeners a download itself adds: on the caller's signal (and the signals it makes from it)
function abortWarnings (t: TestContext): Error[] {
  const warnings: Error[] = []
  const onwarning = (w: Error): void => { if (w.name === 'MaxListenersExceededWarning' && /abort listeners/.test(w.message)) warnings.push(w) }
  process.on('warning', onwarning)
  t.after(() => { process.off('warning', onwarning) })
  return warnings
}

test('a download of many files and mounted drives leaves no abort listener behind: no MaxListenersExceededWarning', async (t) => {
  const warnings = abortWarnings(t)
  const { writer, reader } = await pair(t)
  const top = await writer.create()
  // rewritten files leave holes in the content core: many ranges, not one
  for (let i = 0; i < 40; i++) await top.writeFile(`/f${i}.txt`, Buffer.from('first ' + i))
  for (let i = 0; i < 40; i += 2) await top.writeFile(`/f${i}.txt`, Buffer.from('second ' + i))
  const drives = []
  for (let i = 0; i < 3; i++) {
    const d = await writer.create()
    await d.writeFile('/big.bin', Buffer.alloc(20 * 64 * 1024, i)) // 20 blocks: more than 10 waiting at once
    await top.mount(`/d${i}`, d.key)
    drives.push(d)
  }
  const r = await remote(reader, top)
  const ac = new AbortController()
  for (let round = 0; round < 12; round++) await r.download('/', { signal: ac.signal, timeout: 10_000 }) // more calls than the limit
  await new Promise((resolve) => setImmediate(resolve)) // warnings are emitted on the next tick
  assert.deepEqual(warnings.map((w) => w.message), [])
  assert.deepEqual(getEventListeners(ac.signal, 'abort'), [], 'the signal holds no listener once download is done')
  for (const d of drives) assert.ok(allLocal(await reader.open(d.key)))
})

// Replicator#expect kept one 'close' listener per core on each replication
// stream, so a store of more than about eight cores (four drives) warned on
// every connection.
test('a store replicating more than ten cores over one stream adds no listener per core to it', async (t) => {
  const warnings: Error[] = []
  const onwarning = (w: Error): void => { if (w.name === 'MaxListenersExceededWarning') warnings.push(w) }
  process.on('warning', onwarning)
  t.after(() => { process.off('warning', onwarning) })
  const { writer, reader } = await pair(t)
  for (let i = 0; i < 6; i++) {
    const d = await writer.create()
    await d.writeFile('/x', Buffer.from('x'))
    await (await remote(reader, d)).read('/x')
  }
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(warnings.map((w) => w.message), [])
})

test('info counts the bytes a replica holds at their real size, not each block at the block size', async (t) => {
  const { writer, reader } = await pair(t)
  const d = await writer.create()
  for (const name of ['a', 'b', 'c']) await d.writeFile('/' + name, Buffer.alloc(100, name))
  const r = await remote(reader, d)
  assert.equal((await r.read('/b')).toString(), 'b'.repeat(100))
  const info = await r.info()
  assert.equal(info.byteLength, 300)
  assert.equal(info.localBytes, 100)
  assert.equal((await d.info()).localBytes, 300)
})
