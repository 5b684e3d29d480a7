// A flipped byte in a drive's content data file never reaches a reader: on the
// writer, read(), streams and the zero-copy reader fail with STORAGE_CORRUPT
// at the damaged block (bytes before it are right); a replica drops the block,
// fetches it again and returns the right bytes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { openSync, readSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Hyperdrive } from '../../src/drive/hyperdrive.js'
import type { Hypercore } from '../../src/core/hypercore.js'
import { isHyperfsError } from '../../src/errors.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'

const BLOCK = 64 * 1024
const DATA = randomBuffer(prng(7), 5 * BLOCK + 100)

function coreFolder (root: string, core: Hypercore): string {
  const hex = core.discoveryKey!.toString('hex')
  return join(root, 'cores', hex.slice(0, 2), hex)
}

function flipByte (file: string, offset: number): void {
  const fd = openSync(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, offset)
    b[0] ^= 0x01
    writeSync(fd, b, 0, 1, offset)
  } finally {
    closeSync(fd)
  }
}

const corruptAt = (block: number) => (err: unknown): boolean =>
  isHyperfsError(err, 'STORAGE_CORRUPT') && err.message.includes(`block ${block}`) && /\/data:/.test(err.message)

async function streamed (drive: Hyperdrive, path: string): Promise<{ bytes: Buffer, error: unknown }> {
  const chunks: Buffer[] = []
  try {
    for await (const c of drive.createReadStream(path)) chunks.push(c)
    return { bytes: Buffer.concat(chunks), error: null }
  } catch (err) {
    return { bytes: Buffer.concat(chunks), error: err }
  }
}

test('a writer\'s drive with a flipped byte in its content data file fails reads of that block with STORAGE_CORRUPT and never returns the wrong byte', async (t) => {
  const root = tmpDir(t)
  let store = DriveStore.directory(root)
  const drive = await store.create()
  await drive.writeFile('/before.txt', Buffer.from('another file first'))
  await drive.writeFile('/f.bin', DATA)
  const key = drive.key
  const st = await drive.stat('/f.bin')
  const dataFile = join(coreFolder(root, drive.content!), 'data')
  await store.close()
  flipByte(dataFile, st.byteOffset + 2 * BLOCK + 10)

  store = DriveStore.directory(root)
  t.after(() => store.close())
  const again = await store.open(key)
  const logged: Error[] = []
  store.store.on('corrupt', (err) => logged.push(err))
  const block = st.offset + 2

  await assert.rejects(again.read('/f.bin'), corruptAt(block))
  assert.ok((await again.read('/f.bin', { start: 0, length: 2 * BLOCK })).equals(DATA.subarray(0, 2 * BLOCK)))
  await assert.rejects(again.read('/f.bin', { start: 2 * BLOCK + 5, length: 10 }), corruptAt(block))
  assert.equal((await again.read('/before.txt')).toString(), 'another file first')

  const s = await streamed(again, '/f.bin')
  assert.ok(corruptAt(block)(s.error), String(s.error))
  assert.ok(s.bytes.byteLength <= 2 * BLOCK && s.bytes.equals(DATA.subarray(0, s.bytes.byteLength)), 'only bytes before the damage')

  const r = (await again.openReader('/f.bin'))!
  const target = Buffer.alloc(128 * 1024)
  assert.equal(r.readInto(target, 0, target.length), target.length)
  assert.ok(target.equals(DATA.subarray(0, target.length)))
  assert.throws(() => r.readInto(target, 2 * BLOCK, target.length), corruptAt(block))
  assert.throws(() => r.readInto(target, 2 * BLOCK + 100, 50), corruptAt(block), 'a read inside the block')
  assert.ok(logged.length > 0 && logged.every(corruptAt(block)), 'the damage is reported for the log')
})

test('a replica\'s drive with a flipped byte in its cached content drops the block, fetches it again and returns the right bytes', async (t) => {
  const writerStore = DriveStore.memory()
  const root = tmpDir(t)
  const replicaStore = DriveStore.directory(root, { timeout: 5000 })
  const s1 = writerStore.replicate(true)
  const s2 = replicaStore.replicate(false)
  s1.pipe(s2).pipe(s1)
  t.after(async () => { s1.destroy(); s2.destroy(); await replicaStore.close(); await writerStore.close() })
  const drive = await writerStore.create()
  await drive.writeFile('/f.bin', DATA)

  const replica = await replicaStore.open(drive.key)
  await replica.metadata.update()
  await replica.download('/f.bin')
  const st = await replica.stat('/f.bin')
  const logged: Error[] = []
  replicaStore.store.on('corrupt', (err) => logged.push(err))
  const dataFile = join(coreFolder(root, replica.content!), 'data')
  flipByte(dataFile, st.byteOffset + 4 * BLOCK + 3)
  flipByte(dataFile, st.byteOffset + 1 * BLOCK)

  // the zero-copy reader gives the read back to the slow path, which fetches
  const r = (await replica.openReader('/f.bin'))!
  const target = Buffer.alloc(2 * BLOCK)
  assert.equal(r.readInto(target, 0, target.length), null)
  assert.ok((await replica.read('/f.bin')).equals(DATA))
  assert.equal(r.readInto(target, 0, target.length), target.length)
  assert.ok(target.equals(DATA.subarray(0, target.length)))
  const s = await streamed(replica, '/f.bin')
  assert.equal(s.error, null)
  assert.ok(s.bytes.equals(DATA))
  const blocks = logged.map((e) => /block (\d+)/.exec(e.message)?.[1]).sort()
  assert.deepEqual(blocks, [String(st.offset + 1), String(st.offset + 4)])
})
