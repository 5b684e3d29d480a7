// The stat cache of DriveFilesystem without a mount: a listing fills it, and
// nothing it holds may be served once the drive has changed, whether the
// change came through the filesystem or straight to the drive.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveFilesystem } from '../../src/fuse/drive-filesystem.js'
import { MemoryDrive } from '../helpers/memory-drive.js'

const logger = { error: () => {}, warn: () => {} }

function filesystem (drive: MemoryDrive): DriveFilesystem {
  return new DriveFilesystem({ drive, logger }, {
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
