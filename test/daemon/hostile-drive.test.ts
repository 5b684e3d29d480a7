// Issue 13 through the real CLI and daemons: node A holds a hostile drive,
// built by this test with raw trie writes in A's storage folder before A's
// daemon starts; node B lists and downloads it from A over 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DriveStore } from '../../src/drive/drive-store.js'
import { sandbox } from '../cli/cli-harness.js'
import { plantBadNames, rawMount } from '../drive/hostile-drive.js'

test('ls -r and download of a hostile drive from a peer finish, without the bad names, and the daemon logs what it skipped', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const store = DriveStore.directory(a.storage)
  const drive = await store.create()
  await drive.writeFile('/good.txt', Buffer.from('good'))
  await drive.writeFile('/dd/inner.txt', Buffer.from('inner'))
  await drive.mkdir('/a')
  await plantBadNames(drive)
  await rawMount(drive, 'self', drive.key)
  const key = drive.key.toString('hex')
  await store.close()

  const started = await a.hyperfs(['info', key, '--listen', '127.0.0.1:0'])
  assert.equal(started.code, 0, started.stderr)
  const address = JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout).network.listening[0]

  const b = box.node('b')
  const ls = await b.hyperfs(['ls', key, '-r', '--peer', address], { timeout: 60_000 })
  assert.equal(ls.code, 0, ls.stderr)
  assert.deepEqual(ls.stdout.trim().split('\n').map((l) => l.replace(/ -> .*/, '')), ['a/', 'dd/', 'dd/inner.txt', 'good.txt', 'self/'])
  const dl = await b.hyperfs(['download', key, '--json'], { timeout: 60_000 })
  assert.equal(dl.code, 0, dl.stderr)
  assert.equal(JSON.parse(dl.stdout).files, 2)
  const cat = await b.hyperfs(['cat', key, '/dd/inner.txt'])
  assert.equal(cat.stdout, 'inner')
  const log = readFileSync(join(b.storage, 'daemon.log'), 'utf8')
  assert.match(log, /skipped an entry with the name "\.\."/)
  assert.match(log, /skipped an entry with a NUL byte in a name/)
})

test('mkmount of a drive into itself, or into a drive that mounts it, is refused with MOUNT_CYCLE', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const create = async (): Promise<string> => {
    const r = await a.hyperfs(['create', '--json'])
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout).key
  }
  const outer = await create()
  const inner = await create()
  const self = await a.hyperfs(['mkmount', outer, '/self', outer])
  assert.notEqual(self.code, 0)
  assert.match(self.stderr, /MOUNT_CYCLE/)
  assert.equal((await a.hyperfs(['mkmount', outer, '/inner', inner])).code, 0)
  const back = await a.hyperfs(['mkmount', inner, '/outer', outer])
  assert.notEqual(back.code, 0)
  assert.match(back.stderr, /MOUNT_CYCLE/)
  const ls = await a.hyperfs(['ls', outer, '-r'])
  assert.equal(ls.code, 0, ls.stderr)
  assert.match(ls.stdout, /^inner\/ -> /)
})
