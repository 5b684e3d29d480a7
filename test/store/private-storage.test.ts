// The storage folder holds secrets (primary-key, each core's header with its
// secret key): files 0600 and folders 0700 on disk, whatever modes the folder
// had before, and a folder other users can write to is refused. Tests run as
// root, who reads 0600 files anyway, so they check the mode bits, not access.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Store } from '../../src/store/store.js'
import { isHyperfsError } from '../../src/errors.js'
import { tmpDir } from '../helpers/tmp.js'

const CORE_FILES = ['header', 'state', 'tree', 'data', 'bitfield', 'checksums']

function mode (path: string): number {
  return statSync(path).mode & 0o7777
}

function octal (n: number): string {
  return n.toString(8).padStart(4, '0')
}

// every file and folder under `root` (root included) with its mode
function walk (root: string, out: Array<{ path: string, dir: boolean }> = [{ path: root, dir: true }]): Array<{ path: string, dir: boolean }> {
  for (const e of readdirSync(root, { withFileTypes: true })) {
    const path = join(root, e.name)
    out.push({ path, dir: e.isDirectory() })
    if (e.isDirectory()) walk(path, out)
  }
  return out
}

function assertPrivate (root: string): void {
  const all = walk(root)
  for (const { path, dir } of all) {
    assert.equal(octal(mode(path)), octal(dir ? 0o700 : 0o600), `${path} is ${octal(mode(path))}`)
  }
  const names = all.map((e) => e.path)
  assert.ok(names.includes(join(root, 'primary-key')))
  for (const f of CORE_FILES) assert.ok(names.some((n) => n.endsWith('/' + f)), `a core ${f} file was checked`)
}

async function storeWithCore (dir: string): Promise<Buffer> {
  const store = new Store(dir)
  try {
    const core = await store.get({ name: 'drive' })
    await core.append(['a', 'b'])
    return core.key!
  } finally {
    await store.close()
  }
}

test('a store created in a folder that exists as 0755 keeps its keys private: folders 0700, files 0600', async (t) => {
  const dir = join(tmpDir(t), 'storage')
  mkdirSync(dir, { mode: 0o755 })
  chmodSync(dir, 0o755)
  await storeWithCore(dir)
  assertPrivate(dir)
})

test('a store left 0755/0644 by an older version is made private when it opens again', async (t) => {
  const dir = join(tmpDir(t), 'storage')
  const key = await storeWithCore(dir)
  for (const { path, dir: isDir } of walk(dir)) chmodSync(path, isDir ? 0o755 : 0o644)
  assert.equal(mode(join(dir, 'primary-key')), 0o644)

  const store = new Store(dir)
  t.after(() => store.close())
  const core = await store.get({ key })
  assert.equal(core.length, 2)
  assert.equal((await core.get(1))!.toString(), 'b')
  assertPrivate(dir)
})

test('a storage folder other users can write to is refused with STORAGE_INSECURE, and nothing is written there', async (t) => {
  for (const m of [0o777, 0o775, 0o1777, 0o757]) {
    const dir = join(tmpDir(t), 'storage')
    mkdirSync(dir)
    chmodSync(dir, m)
    const store = new Store(dir)
    await assert.rejects(store.ready(), (err: unknown) => isHyperfsError(err, 'STORAGE_INSECURE') && err.message.includes(dir), octal(m))
    await store.close()
    assert.equal(readdirSync(dir).length, 0, 'no primary key was written')
    assert.equal(mode(dir), m, 'the mode is left for the user to fix')
  }
})

test('a core folder inside the store that others can write to is refused too', async (t) => {
  const dir = join(tmpDir(t), 'storage')
  const key = await storeWithCore(dir)
  const cores = join(dir, 'cores')
  chmodSync(cores, 0o777)
  const store = new Store(dir)
  t.after(() => store.close())
  await assert.rejects(store.get({ key }), (err: unknown) => isHyperfsError(err, 'STORAGE_INSECURE') && err.message.includes(cores))
  assert.ok(existsSync(join(dir, 'primary-key')))
})
