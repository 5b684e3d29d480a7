import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ERRNO, toErrno } from '../../src/fuse/errno.js'
import { HyperfsError } from '../../src/errors.js'

function logger (): { error: (m: string) => void, lines: string[] } {
  const lines: string[] = []
  return { error: (m) => { lines.push(m) }, lines }
}

test('filesystem codes map to their errno without a log line', () => {
  const log = logger()
  const cases: Array<[HyperfsError, number]> = [
    [HyperfsError.ENOENT('/a'), -2],
    [HyperfsError.ENOTDIR('/a'), -20],
    [HyperfsError.EISDIR('/a'), -21],
    [HyperfsError.ENOTEMPTY('/a'), -39],
    [HyperfsError.EEXIST('/a'), -17],
    [HyperfsError.EROFS('/a'), -30],
    [HyperfsError.EINVAL('/a'), -22],
    [HyperfsError.ELOOP('/a'), -40],
    [HyperfsError.EXDEV('/a -> /m/b'), -18],
    [HyperfsError.EBUSY('/m'), -16],
    [HyperfsError.SESSION_NOT_WRITABLE(), -30],
    [HyperfsError.INVALID_NAME('a\0b'), -22],
    [HyperfsError.ENAMETOOLONG('x'.repeat(256)), -36],
    [HyperfsError.MOUNT_CYCLE('/self'), -40],
    [HyperfsError.WALK_TOO_DEEP('/a/a/a'), -40]
  ]
  for (const [err, errno] of cases) assert.equal(toErrno(err, log), errno, err.code)
  assert.deepEqual(log.lines, [])
})

test('a drive that cannot fetch in time gives EIO and says why', () => {
  const log = logger()
  assert.equal(toErrno(HyperfsError.REQUEST_TIMEOUT('block 7'), log, 'read /x'), -ERRNO.EIO)
  assert.equal(log.lines.length, 1)
  assert.match(log.lines[0], /read \/x.*REQUEST_TIMEOUT: block 7/)
})

test('an unknown error becomes EIO and is logged with its stack', () => {
  const log = logger()
  assert.equal(toErrno(new TypeError('boom'), log, 'getattr /y'), -ERRNO.EIO)
  assert.match(log.lines[0], /getattr \/y: unexpected error: TypeError: boom\n\s+at /)
  assert.equal(toErrno('not even an error', log), -ERRNO.EIO)
})

test('a full disk is ENOSPC, from node, from a quota, or wrapped by the storage layer, without a log line', () => {
  const log = logger()
  const system = (code: string): Error => Object.assign(new Error(`${code}: no space left on device, write`), { code })
  assert.equal(toErrno(system('ENOSPC'), log), -ERRNO.ENOSPC)
  assert.equal(toErrno(system('EDQUOT'), log), -ERRNO.ENOSPC)
  assert.equal(toErrno(HyperfsError.from('STORAGE_IO', 'write data', system('ENOSPC')), log), -ERRNO.ENOSPC)
  assert.equal(toErrno(HyperfsError.from('STORAGE_IO', 'write data', HyperfsError.from('STORAGE_IO', 'inner', system('EDQUOT'))), log), -ERRNO.ENOSPC)
  assert.deepEqual(log.lines, [])
})

test('a storage error that is not a full disk stays EIO and is logged', () => {
  const log = logger()
  const eio = Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO' })
  assert.equal(toErrno(HyperfsError.from('STORAGE_IO', 'read data', eio), log, 'read /x'), -ERRNO.EIO)
  assert.equal(toErrno(HyperfsError.from('STORAGE_IO', 'data is not open'), log, 'read /x'), -ERRNO.EIO)
  assert.equal(log.lines.length, 2)
})
