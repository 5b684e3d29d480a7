// What decides how long the kernel may keep a name and its attributes, and
// what keeps it true, without a mount: DriveFilesystem says how each path
// can change (Attr.stability), and invalidateOnChange() turns the drive's
// changes into invalidations, saying while it follows the drive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { S_IFDIR, S_IFREG } from '../../src/drive/types.js'
import type { DiffEntry, Drive, Stat, WatchEvent } from '../../src/drive/types.js'
import { HyperfsError } from '../../src/errors.js'
import { DriveFilesystem } from '../../src/fuse/drive-filesystem.js'
import { invalidateOnChange, type KernelCache } from '../../src/fuse/native-binding.js'
import { MemoryDrive } from '../helpers/memory-drive.js'

const logger = { error: () => {}, warn: () => {} }

function filesystem (drive: Drive): DriveFilesystem {
  return new DriveFilesystem({ drive, logger }, {
    readOnly: false,
    readTimeout: 5000,
    readAhead: { min: 256 * 1024, max: 8 * 1024 * 1024 },
    spillThreshold: 1024 * 1024,
    tmpDir: '/tmp'
  })
}

test('stability: the live drive is watched, a past version fixed, a mounted drive and what is under it neither', async () => {
  const memory = new MemoryDrive()
  await memory.writeFile('/f', Buffer.from('one'))
  const written = memory.version
  await memory.mount('/m', Buffer.alloc(32, 1))
  // MemoryDrive records mounts without following them: answer for the mounted drive here
  const inner: Stat = { ...(await memory.lstat('/f')), size: 5 }
  const drive = new Proxy(memory, {
    get (target, prop) {
      const value = Reflect.get(target, prop, target)
      if (prop === 'lstat') return async (path: string) => path.startsWith('/m/') ? inner : target.lstat(path)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const fs = filesystem(drive)
  try {
    assert.equal((await fs.getattr('/f')).stability, 'watched')
    assert.equal((await fs.getattr('/')).stability, 'watched')
    assert.equal((await fs.getattr(`/.versions/${written}/f`)).stability, 'fixed')
    assert.equal((await fs.getattr('/m')).stability, undefined)
    assert.equal((await fs.getattr('/m/x')).stability, undefined)
  } finally {
    await fs.close()
    await memory.close()
  }
})

test('invalidateOnChange: a removed file drops its name, and the implicit folders that went with it; a new or gone name drops the listings that showed it; it says while it follows', async () => {
  const file = { mode: S_IFREG | 0o644 } as Stat
  const dir = { mode: S_IFDIR | 0o755 } as Stat
  const changes: DiffEntry[] = [
    { type: 'del', name: '/a/b/c/f', previous: file },
    { type: 'put', name: '/a/g', value: file, previous: file },
    { type: 'put', name: '/n/new', value: file, previous: null }
  ]
  // after the change: /a/b/c and /a/b were implicit and are gone, /a stays
  const now = new Map<string, Stat>([['/a', dir], ['/a/g', file], ['/n', dir], ['/n/new', file]])
  const controller = new AbortController()
  const drive = {
    version: 1,
    async * watch (): AsyncIterable<WatchEvent> {
      yield { version: 2, path: '/a' }
      // asked for the next change: the first one is dealt with
      controller.abort()
      throw controller.signal.reason
    },
    async * diff (from: number, to: number): AsyncIterable<DiffEntry> {
      assert.deepEqual([from, to], [1, 2])
      yield * changes
    },
    async lstat (path: string): Promise<Stat> {
      const st = now.get(path)
      if (!st) throw HyperfsError.ENOENT(path)
      return st
    }
  } as unknown as Drive

  const calls: string[] = []
  const cache: KernelCache = {
    invalidate: async (path) => { calls.push(`attrs ${path}`) },
    invalidateEntry: async (parent, name) => { calls.push(`entry ${parent} ${name}`) },
    following: (on) => { calls.push(`following ${on}`) }
  }
  await invalidateOnChange(drive, cache, { signal: controller.signal, logger })
  assert.deepEqual(calls, [
    'following true',
    'entry /a/b/c f',
    'attrs /a/g',
    // the listings of the folders that lost or gained a name, and of each
    // folder above (where a folder may have come or gone with it)
    'attrs /a/b/c',
    'attrs /n',
    'attrs /a/b',
    'attrs /a',
    'attrs /',
    'entry /a/b c',
    'entry /a b',
    'following false'
  ])
})
