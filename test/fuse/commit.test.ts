// The commit rule of DriveFilesystem without a mount: the drive sees a file
// change only as one write of the whole content, so a save that fails (a
// full disk) leaves the drive's old content whole, O_TRUNC included.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Drive } from '../../src/drive/types.js'
import { HyperfsError } from '../../src/errors.js'
import { DriveFilesystem } from '../../src/fuse/drive-filesystem.js'
import { ERRNO, toErrno } from '../../src/fuse/errno.js'
import { MemoryDrive } from '../helpers/memory-drive.js'

const O_WRONLY = 1
const O_TRUNC = 0o1000
const logger = { error: () => {}, warn: () => {} }

// The drive, whose writeFile fails like a full disk while `full` is set.
function fillable (drive: MemoryDrive): { drive: Drive, full: { on: boolean } } {
  const full = { on: false }
  const proxy = new Proxy(drive, {
    get (target, prop) {
      const value = Reflect.get(target, prop, target)
      if (prop === 'writeFile') {
        return (...args: Parameters<Drive['writeFile']>) => {
          if (full.on) {
            const cause = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' })
            return Promise.reject(HyperfsError.from('STORAGE_IO', 'write data', cause))
          }
          return target.writeFile(...args)
        }
      }
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  return { drive: proxy, full }
}

function filesystem (drive: Drive): DriveFilesystem {
  return new DriveFilesystem({ drive, logger }, {
    readOnly: false,
    readTimeout: 5000,
    readAhead: { min: 0, max: 0 },
    spillThreshold: 1024 * 1024,
    tmpDir: '/tmp'
  })
}

test('open with O_TRUNC empties only the staged copy: the drive keeps the old content until the new one commits', async () => {
  const mem = new MemoryDrive()
  await mem.writeFile('/a', Buffer.from('old content'))
  const fs = filesystem(mem)
  try {
    const fh = await fs.open('/a', O_WRONLY | O_TRUNC)
    assert.equal((await fs.getattr('/a')).size, 0, 'the mount sees the file emptied at once')
    assert.equal((await mem.read('/a')).toString(), 'old content')
    await fs.write(fh, Buffer.from('new'), 0)
    await fs.release(fh)
    assert.equal((await mem.read('/a')).toString(), 'new')

    // emptied and closed without a write: the commit is the empty file
    await fs.release(await fs.open('/a', O_WRONLY | O_TRUNC))
    assert.equal((await mem.read('/a')).length, 0)
  } finally {
    await fs.close()
  }
})

test('a save that fails on a full disk leaves the drive\'s old content whole and says ENOSPC', async () => {
  const mem = new MemoryDrive()
  await mem.writeFile('/a', Buffer.from('old content'))
  const { drive, full } = fillable(mem)
  const fs = filesystem(drive)
  try {
    full.on = true
    const fh = await fs.open('/a', O_WRONLY | O_TRUNC)
    await fs.write(fh, Buffer.from('a longer new content'), 0)
    await assert.rejects(fs.flush(fh), (err) => toErrno(err, logger) === -ERRNO.ENOSPC)
    await assert.rejects(fs.release(fh), (err) => toErrno(err, logger) === -ERRNO.ENOSPC)
    assert.equal((await mem.read('/a')).toString(), 'old content')
    assert.equal((await fs.getattr('/a')).size, 'old content'.length)
  } finally {
    await fs.close()
  }
})
