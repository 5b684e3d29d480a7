// The stat cache of DriveFilesystem without a mount: a listing fills it, and
// nothing it holds may be served once the drive has changed, whether the
// change came through the filesystem or straight to the drive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { DirEntry, Drive } from '../../src/drive/types.js'
import { DriveFilesystem, MAX_CACHED_STATS, STAT_TTL } from '../../src/fuse/drive-filesystem.js'
import { MemoryDrive } from '../helpers/memory-drive.js'

const logger = { error: () => {}, warn: () => {} }
const LOOKUPS = new Set(['lstat', 'stat', 'getxattr', 'listxattr'])

// The drive, counting the lookups that reach it.
function counted (drive: Drive): { drive: Drive, lookups: () => number } {
  let n = 0
  const proxy = new Proxy(drive, {
    get (target, prop) {
      const value = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      if (typeof prop === 'string' && LOOKUPS.has(prop)) return (...args: unknown[]) => { n++; return value.apply(target, args) }
      return value.bind(target)
    }
  })
  return { drive: proxy, lookups: () => n }
}

function filesystem (drive: Drive, clock?: () => number): DriveFilesystem {
  return new DriveFilesystem({ drive, logger, clock }, {
    readOnly: false,
    readTimeout: 5000,
    readAhead: { min: 256 * 1024, max: 8 * 1024 * 1024 },
    spillThreshold: 1024 * 1024,
    tmpDir: '/tmp'
  })
}

test('a lookup after a listing is answered from the listed stats, at once', async () => {
  const drive = new MemoryDrive()
  await drive.writeFile('/d/a', Buffer.from('abc'))
  const fs = filesystem(drive)
  try {
    await fs.readdir('/d')
    const attr = fs.getattr('/d/a')
    assert.ok(!(attr instanceof Promise), 'served without going to the drive')
    assert.equal(attr.size, 3)
  } finally {
    await fs.close()
  }
})

test('a change straight to the drive is seen after a listing', async () => {
  const drive = new MemoryDrive()
  await drive.writeFile('/d/a', Buffer.from('abc'))
  const fs = filesystem(drive)
  try {
    await fs.readdir('/d')
    await drive.writeFile('/d/a', Buffer.from('abcdef'))
    assert.equal((await fs.getattr('/d/a')).size, 6)
    await drive.unlink('/d/a')
    await assert.rejects(async () => fs.getattr('/d/a'), { code: 'ENOENT' })
  } finally {
    await fs.close()
  }
})

test('a write, chmod and rename through the filesystem are seen after a listing', async () => {
  const drive = new MemoryDrive()
  await drive.writeFile('/d/a', Buffer.from('abc'))
  const fs = filesystem(drive)
  try {
    await fs.readdir('/d')
    const fh = await fs.open('/d/a', 2 /* O_RDWR */)
    await fs.write(fh, Buffer.from('0123456789'), 0)
    await fs.release(fh)
    assert.equal((await fs.getattr('/d/a')).size, 10)

    await fs.readdir('/d')
    await fs.chmod('/d/a', 0o600)
    assert.equal((await fs.getattr('/d/a')).mode & 0o777, 0o600)

    await fs.readdir('/d')
    await fs.rename('/d/a', '/d/b')
    await assert.rejects(async () => fs.getattr('/d/a'), { code: 'ENOENT' })
    assert.equal((await fs.getattr('/d/b')).size, 10)
  } finally {
    await fs.close()
  }
})

test('a listing that a change overtakes is not kept', async () => {
  const drive = new MemoryDrive()
  await drive.writeFile('/d/a', Buffer.from('abc'))
  const fs = filesystem(drive)
  try {
    const listing = fs.readdir('/d')
    await drive.writeFile('/d/a', Buffer.from('abcdef'))
    await listing
    assert.equal((await fs.getattr('/d/a')).size, 6)
  } finally {
    await fs.close()
  }
})

test('ls -l asking for security and ACL attributes gets ENODATA without a lookup', () => {
  const fs = filesystem(new MemoryDrive())
  assert.equal(fs.getxattr('/anything', 'security.selinux'), null)
  assert.equal(fs.getxattr('/anything', 'system.posix_acl_access'), null)
})

test('stat after readdir is served from the listing however long the lookups take, while they keep coming', async () => {
  const mem = new MemoryDrive()
  const names = Array.from({ length: 50 }, (_, i) => `f${i}`)
  for (const n of names) await mem.writeFile(`/d/${n}`, Buffer.from(n))
  const { drive, lookups } = counted(mem)
  let now = 1_000_000
  const fs = filesystem(drive, () => now)
  try {
    await fs.readdir('/d')
    const before = lookups()
    // a second between lookups: the whole walk takes ten times STAT_TTL,
    // as `ls -l` of 50,000 entries does
    for (const n of names) {
      now += STAT_TTL / 5
      const attr = fs.getattr(`/d/${n}`)
      assert.ok(!(attr instanceof Promise), `${n} was not served from the listing`)
      assert.equal(attr.size, n.length)
    }
    assert.equal(lookups(), before)
  } finally {
    await fs.close()
  }
})

test('a listing nobody uses for STAT_TTL is dropped, and its memory with it', async () => {
  const drive = new MemoryDrive()
  await drive.writeFile('/d1/a', Buffer.from('a'))
  await drive.writeFile('/d2/a', Buffer.from('a'))
  await drive.writeFile('/d2/b', Buffer.from('b'))
  let now = 1_000_000
  const fs = filesystem(drive, () => now)
  try {
    await fs.readdir('/d1')
    assert.equal(fs.cachedStats, 1)
    now += STAT_TTL + 1
    await fs.readdir('/d2')
    assert.equal(fs.cachedStats, 2)
    assert.ok(fs.getattr('/d1/a') instanceof Promise)
    assert.ok(!(fs.getattr('/d2/a') instanceof Promise))
  } finally {
    await fs.close()
  }
})

test('the stat cache holds at most MAX_CACHED_STATS stats, even from one huge folder', async () => {
  const mem = new MemoryDrive()
  await mem.writeFile('/big/f0', Buffer.from('x'))
  const stat = await mem.lstat('/big/f0')
  const count = MAX_CACHED_STATS + 10
  // a listing of `count` entries without storing them all in the drive
  const drive = new Proxy(mem, {
    get (target, prop) {
      if (prop === 'readdir') {
        return async function * (path: string): AsyncIterable<DirEntry> {
          if (path !== '/big') { yield * target.readdir(path); return }
          for (let i = 0; i < count; i++) yield { name: `f${i}`, stat }
        }
      }
      const value = Reflect.get(target, prop, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  const fs = filesystem(drive)
  try {
    assert.equal((await fs.readdir('/big')).length, count + 2)
    assert.equal(fs.cachedStats, MAX_CACHED_STATS)
    // the first entries are kept: ls asks for them in listing order
    assert.ok(!(fs.getattr('/big/f0') instanceof Promise))
  } finally {
    await fs.close()
  }
})

test('user attributes of a listed entry are served from the listing', async () => {
  const mem = new MemoryDrive()
  await mem.writeFile('/d/a', Buffer.from('abc'))
  await mem.setxattr('/d/a', 'color', Buffer.from('blue'))
  const { drive, lookups } = counted(mem)
  const fs = filesystem(drive)
  try {
    await fs.readdir('/d')
    const before = lookups()
    const list = fs.listxattr('/d/a')
    assert.ok(!(list instanceof Promise))
    assert.deepEqual(list, ['user.color'])
    const value = fs.getxattr('/d/a', 'user.color')
    assert.ok(!(value instanceof Promise))
    assert.equal(value?.toString(), 'blue')
    assert.equal(fs.getxattr('/d/a', 'user.size'), null)
    assert.equal(lookups(), before)
  } finally {
    await fs.close()
  }
})
