// The bridge's per-op rules without a kernel (one answer, a deadline, the
// synchronous fast path, errno through toErrno), and FuseHost driving the
// whole stack through a binding factory that is not fuse-native: nothing
// above api.ts may depend on which binding serves the mount.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Attr, FuseBinding, FuseBindingFactory, FuseFilesystem, FuseRequests } from '../../src/fuse/api.js'
import { FuseBridge } from '../../src/fuse/bridge.js'
import { FuseHost } from '../../src/fuse/host.js'
import { ERRNO } from '../../src/fuse/errno.js'
import { HyperfsError, isHyperfsError } from '../../src/errors.js'
import { MemoryDrive } from '../helpers/memory-drive.js'
import { tmpDir } from '../helpers/tmp.js'
import { FUSE_SKIP } from './mount-harness.js'

const ATTR: Attr = { mode: 0o100644, uid: 0, gid: 0, size: 3, nlink: 1, blksize: 4096, blocks: 1, atime: 0, mtime: 0, ctime: 0 }

function logger (): { error: (m: string) => void, warn: (m: string) => void, lines: string[] } {
  const lines: string[] = []
  return { error: (m) => { lines.push(m) }, warn: (m) => { lines.push(m) }, lines }
}

// Only the ops a test names; any other call is a TypeError, which the bridge
// turns into a logged EIO.
function filesystem (ops: Partial<FuseFilesystem>): FuseFilesystem {
  return ops as FuseFilesystem
}

function answers (): { ok: (v: unknown) => void, fail: (e: number) => void, got: Array<['ok', unknown] | ['fail', number]> } {
  const got: Array<['ok', unknown] | ['fail', number]> = []
  return { ok: (v) => { got.push(['ok', v]) }, fail: (e) => { got.push(['fail', e]) }, got }
}

test('a synchronous answer reaches the binding before call() returns, with no deadline left behind', () => {
  const bridge = new FuseBridge({ filesystem: filesystem({ getattr: () => ATTR }), logger: logger() }, { opTimeout: 1000, commitTimeout: 1000 })
  const a = answers()
  bridge.call('getattr', '/a', ['/a'], a.ok, a.fail)
  assert.deepEqual(a.got, [['ok', ATTR]])
  assert.equal(bridge.pending, 0)
})

test('thrown and rejected errors become errno through toErrno', async () => {
  const bridge = new FuseBridge({
    filesystem: filesystem({
      getattr: () => { throw HyperfsError.ENOENT('/a') },
      unlink: async () => { throw HyperfsError.EROFS('/a') }
    }),
    logger: logger()
  }, { opTimeout: 1000, commitTimeout: 1000 })
  const a = answers()
  bridge.call('getattr', '/a', ['/a'], a.ok, a.fail)
  bridge.call('unlink', '/a', ['/a'], a.ok, a.fail)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(a.got, [['fail', -ERRNO.ENOENT], ['fail', -ERRNO.EROFS]])
})

test('an op that never settles answers EIO once, after its timeout, and its late result is dropped', async () => {
  let settle: (v: string[]) => void = () => {}
  const log = logger()
  const bridge = new FuseBridge({
    filesystem: filesystem({ readdir: () => new Promise<string[]>((resolve) => { settle = resolve }) }),
    logger: log
  }, { opTimeout: 50, commitTimeout: 10_000 })
  const a = answers()
  bridge.call('readdir', '/slow', ['/slow'], a.ok, a.fail)
  for (let i = 0; i < 100 && a.got.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.deepEqual(a.got, [['fail', -ERRNO.EIO]])
  assert.match(log.lines.join('\n'), /EIO readdir \/slow: no result within 50 ms/)
  settle(['late'])
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(a.got.length, 1)
  bridge.close()
})

test('flush waits for the commit timeout, not the op timeout', async () => {
  let settle: () => void = () => {}
  const bridge = new FuseBridge({
    filesystem: filesystem({ flush: () => new Promise<void>((resolve) => { settle = resolve }) }),
    logger: logger()
  }, { opTimeout: 20, commitTimeout: 60_000 })
  const a = answers()
  bridge.call('flush', '/f', [1], a.ok, a.fail)
  await new Promise((resolve) => setTimeout(resolve, 200))
  assert.deepEqual(a.got, [])
  settle()
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(a.got, [['ok', undefined]])
  bridge.close()
})

test('FuseHost serves a drive through whichever binding factory it is given', { skip: FUSE_SKIP }, async (t) => {
  const mnt = tmpDir(t, 'hyperfs-mnt-')
  const drive = new MemoryDrive()
  await drive.writeFile('/a.txt', Buffer.from('abc'))
  let requests: FuseRequests | null = null
  const events: string[] = []
  const factory: FuseBindingFactory = {
    name: 'in-process',
    helper: 'sh', // present everywhere; the check only needs it on PATH
    create (r, opts): FuseBinding {
      requests = r
      events.push(`create ${opts.mountpoint}`)
      return {
        mount: async () => { events.push('mount') },
        unmount: async () => { events.push('unmount') }
      }
    }
  }
  const host = await FuseHost.mount(drive, mnt, {}, { binding: factory, logger: logger() })
  assert.deepEqual(events, [`create ${mnt}`, 'mount'])
  const call = <T>(fn: (ok: (v: T) => void, fail: (e: number) => void) => void): Promise<T> =>
    new Promise((resolve, reject) => fn(resolve, (e) => reject(new Error(`errno ${e}`))))
  const names = await call<string[]>((ok, fail) => requests!.call('readdir', '/', ['/'], ok, fail))
  assert.deepEqual(names.sort(), ['.', '..', 'a.txt'])
  const attr = await call<Attr>((ok, fail) => requests!.call('getattr', '/a.txt', ['/a.txt'], ok, fail))
  assert.equal(attr.size, 3)
  await host.unmount()
  assert.deepEqual(events.at(-1), 'unmount')
})

test('a binding that fails without a coded error is reported as FUSE_FAILED naming the binding', { skip: FUSE_SKIP }, async (t) => {
  const mnt = tmpDir(t, 'hyperfs-mnt-')
  const factory: FuseBindingFactory = {
    name: 'broken',
    helper: 'sh',
    create: () => ({ mount: async () => { throw new Error('fuse failed') }, unmount: async () => {} })
  }
  await assert.rejects(FuseHost.mount(new MemoryDrive(), mnt, {}, { binding: factory, logger: logger() }),
    (err: Error) => isHyperfsError(err, 'FUSE_FAILED') && err.message.includes(`${mnt}: broken: fuse failed`))
})
