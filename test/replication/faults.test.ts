// Whose fault: a peer whose data does not verify is dropped and named to the
// reader; a proof that verifies but cannot be stored here (a full disk) is
// ours: the peer stays, fetching pauses, and the reader hears the disk error.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage, type Storage, type StorageFile } from '../../src/core/storage.js'
import type { Proof } from '../../src/core/merkle-tree.js'
import { connect, writer, reader, blocks, waitFor } from '../helpers/replication.js'

// A full copy of `source` whose answers are bent by `tamper`.
async function liar (t: any, source: Hypercore, tamper: (p: Proof) => void): Promise<Hypercore> {
  const evil = await reader(t, source.key!)
  connect(t, source, evil)
  await evil.update()
  await evil.download({ start: 0, end: source.length })
  const honest = evil.proof.bind(evil)
  evil.proof = async (req) => { const p = await honest(req); tamper(p); return p }
  return evil
}

// Memory storage whose data file fails writes with ENOSPC while `full` is set.
class FillableStorage implements Storage {
  full = false
  private inner = new MemoryStorage()
  async open (name: string, opts?: { lock?: boolean }): Promise<StorageFile> {
    const file = await this.inner.open(name, opts)
    if (name !== 'data') return file
    const write = file.write.bind(file)
    file.write = async (offset, data) => {
      if (this.full) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 })
      return write(offset, data)
    }
    return file
  }
}

test('a get that only a lying peer could serve fails with INVALID_PROOF naming that peer, not REQUEST_TIMEOUT', async (t) => {
  const data = blocks(32)
  const w = await writer(t, data)
  const evil = await liar(t, w, (p) => { if (p.block?.value) { p.block.value = Buffer.from(p.block.value); p.block.value[0] ^= 1 } })
  const r = await reader(t, w.key!)
  const dropped = waitFor(r.replicator, 'peer-remove')
  connect(t, evil, r)
  await r.update()
  const [err] = await Promise.all([r.get(10, { timeout: 1000 }).then(() => null, (e) => e), dropped])
  assert.ok(err, 'the get failed')
  assert.equal(err.code, 'INVALID_PROOF')
  assert.match(err.message, /from peer [0-9a-f]{12}/)
  assert.equal(r.has(10), false)
})

test('a block that cannot be stored here fails the get with the disk error, keeps the peer, and fetching resumes when asked again', async (t) => {
  const data = blocks(32)
  const w = await writer(t, data)
  const storage = new FillableStorage()
  const r = new Hypercore(storage, w.key!)
  await r.ready()
  t.after(() => r.close())
  connect(t, w, r)
  await r.update()
  const reported = waitFor(r.replicator, 'storage-error')
  let peerErrors = 0
  r.replicator.on('peer-error', () => { peerErrors++ })
  storage.full = true
  await assert.rejects(r.get(4, { timeout: 5000 }), (err: any) => err.code === 'ENOSPC')
  const [why] = await reported
  assert.equal(why.code, 'ENOSPC')
  assert.equal(r.peers, 1, 'the peer did nothing wrong and is still connected')
  assert.equal(peerErrors, 0)
  storage.full = false
  assert.ok((await r.get(4, { timeout: 5000 }))!.equals(data[4]))
})

test('a bug in request scheduling is reported as a process warning when nobody listens for error-internal', { timeout: 30_000 }, async (t) => {
  const w = await writer(t, blocks(8))
  const r = await reader(t, w.key!)
  connect(t, w, r)
  await r.update()
  const warned = waitFor(process, 'warning')
  r.replicator.peers[0].requestBlock = () => { throw new TypeError('a scheduling bug') }
  await assert.rejects(r.get(3, { timeout: 200 }), { code: 'REQUEST_TIMEOUT' })
  const [warning] = await warned
  assert.match(warning.message, /a scheduling bug/)
})
