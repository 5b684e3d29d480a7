// A hostile or broken hyperdrive13 writer whose blobs core is not the one
// the db core's manifest derives (docs/hyperdrive13.md §1.2): the reader
// follows the derivation (as hyperdrive@13 does), never the writer's other
// core, and a read of a file whose bytes only that core holds is a coded
// error within the timeout, not a wait; the listing still works.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import { Hyperbee } from '../../src/bee/hyperbee.js'
import { keyPair } from '../../src/crypto/index.js'
import { keyFromManifest } from '../../src/core/signer.js'
import { blobsManifest, encodeEntry, fileKey } from '../../src/drive/drive13-entry.js'
import { collect, names } from './drive-suite.js'

const CODED = /^(DECODE_ERROR|REQUEST_TIMEOUT)$/

test('a hyperdrive13 drive whose bytes sit in a blobs core other than the derived one lists, and its reads are coded errors, not hangs', { timeout: 60_000 }, async (t) => {
  const writers = DriveStore.memory()
  const readers = DriveStore.memory({ timeout: 2000 })
  t.after(() => Promise.all([writers.close(), readers.close()]))
  const a = writers.replicate(true)
  const b = readers.replicate(false)
  a.pipe(b).pipe(a)
  t.after(() => { a.destroy(); b.destroy() })

  // the db core as hyperdrive@13 makes it, its header naming no contentFeed
  const db = await writers.store.get({ keyPair: keyPair() })
  const derived = keyFromManifest(blobsManifest(db.manifest!, db.key!)!)
  // the writer's bytes, in a core of another key (another key pair's)
  const other = await writers.store.get({ keyPair: keyPair() })
  assert.ok(!other.key!.equals(derived))
  await other.append([Buffer.from('hello'), Buffer.from(' world')])
  const bee = new Hyperbee(db)
  const blob = (blockOffset: number, byteOffset: number, byteLength: number) => ({ blockOffset, byteOffset, blockLength: 1, byteLength })
  await bee.put(fileKey(['f.txt']), encodeEntry({ executable: false, linkname: null, blob: blob(0, 0, 5), metadata: null }))
  await bee.put(fileKey(['dir', 'g.txt']), encodeEntry({ executable: false, linkname: null, blob: blob(1, 5, 6), metadata: null }))

  const r = await readers.open(db.key!)
  assert.equal(r.format, 'hyperdrive13')
  await r.metadata.update()
  assert.deepEqual(await names(r, '/'), ['dir', 'f.txt'])
  assert.equal((await r.stat('/f.txt')).size, 5)
  for (const path of ['/f.txt', '/dir/g.txt']) {
    await assert.rejects(r.read(path), (err: any) => CODED.test(err.code), path)
    await assert.rejects(collect(r.createReadStream(path)), (err: any) => CODED.test(err.code), path)
  }
  await assert.rejects(r.download('/'), { code: 'DOWNLOAD_INCOMPLETE' })
  // it looked for the derived core, never the writer's other one
  assert.ok(r.content!.key!.equals(derived))
  assert.equal(r.content!.length, 0)
})
