import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { DriveStore } from '../../src/drive/drive-store.js'
import { importFolder } from '../../src/daemon/folder-import.js'
import { names } from '../drive/drive-suite.js'
import { tmpDir } from '../helpers/tmp.js'

test('importing a symlink to a folder imports the folder it points to; links inside stay links', async (t) => {
  const dir = tmpDir(t)
  mkdirSync(join(dir, 'real/sub'), { recursive: true })
  writeFileSync(join(dir, 'real/a.txt'), 'a')
  writeFileSync(join(dir, 'real/sub/b.txt'), 'b')
  symlinkSync('a.txt', join(dir, 'real/link'))
  symlinkSync('real', join(dir, 'to-real'))
  symlinkSync(join(dir, 'real/a.txt'), join(dir, 'to-file'))
  const store = DriveStore.memory()
  t.after(() => store.close())
  const drive = await store.create()
  const summary = await importFolder(drive, join(dir, 'to-real'), '/')
  assert.equal(summary.files, 2)
  assert.deepEqual(await names(drive, '/'), ['a.txt', 'link', 'sub'])
  assert.equal(await drive.readlink('/link'), 'a.txt')
  assert.equal((await drive.read('/sub/b.txt')).toString(), 'b')
  await importFolder(drive, join(dir, 'to-file'), '/copy.txt')
  assert.equal((await drive.read('/copy.txt')).toString(), 'a', 'a link named on its own is followed too')
})
