// A file open for writing reads what it was not written from its base, the
// file as it was when the stage began (staged-file.ts). Changed outside the
// mount, the base is an old version's content, which gc would free: the
// filesystem retains it (Drive#retain) while the stage reads from it, so the
// stage still reads right and commits whole, and lets go at close.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Drive } from '../../src/drive/types.js'
import type { Hypercore } from '../../src/core/hypercore.js'
import { DriveFilesystem } from '../../src/fuse/drive-filesystem.js'
import { clearFree, gcPlan } from '../../src/daemon/live-blocks.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'

const O_RDWR = 2
const KiB = 1024
const logger = { error: () => {}, warn: () => {} }

function filesystem (drive: Drive, tmp: string): DriveFilesystem {
  return new DriveFilesystem({ drive, logger }, {
    readOnly: false,
    readTimeout: 500, // a base that is gone fails fast
    readAhead: { min: 0, max: 0 },
    spillThreshold: 64 * KiB,
    tmpDir: tmp
  })
}

// gc keeping the latest version, as the daemon plans and runs it; the blocks freed
async function gc (d: Drive): Promise<number> {
  const content = (d as unknown as { content: Hypercore }).content
  const plan = await gcPlan(d, { keepVersions: 1, bound: content.length })
  return (await clearFree(d, content, plan.free, content.length)).blocks
}

// The drive, but the lookups of its checkouts wait for `gate`: a stage's
// base is then being looked up for as long as the test wants.
function gated (d: Drive, gate: Promise<void>): Drive {
  const bind = (o: any, p: string | symbol) => typeof o[p] === 'function' ? o[p].bind(o) : o[p]
  return new Proxy(d, {
    get: (target: any, p) => p !== 'checkout'
      ? bind(target, p)
      : (v: number) => {
          const view = target.checkout(v)
          return new Proxy(view, { get: (t: any, q) => q === 'lstat' ? async (path: string) => { await gate; return t.lstat(path) } : bind(t, q) })
        }
  })
}

for (const format of ['hypertrie', 'hyperdrive13'] as const) {
  test(`${format}: a file open for writing, changed outside the mount, keeps its base through gc: it reads and commits the staged file, and gc frees the base once it is closed`, async (t) => {
    const store = DriveStore.directory(tmpDir(t))
    t.after(() => store.close())
    const d = await store.create({ format })
    const orig = randomBuffer(prng(41), 300 * KiB + 77)
    await d.writeFile('/f', orig)
    const fs = filesystem(d, tmpDir(t))
    t.after(() => fs.close())

    const fh = await fs.open('/f', O_RDWR)
    await fs.write(fh, Buffer.from('AB'), 1000)
    const want = Buffer.from(orig)
    want.write('AB', 1000)
    await d.writeFile('/f', Buffer.from('changed outside the mount'))
    assert.equal(await gc(d), 0, 'nothing to free: the open file\'s base is all the history holds')
    await d.writeFile('/other', randomBuffer(prng(42), 100 * KiB))
    await d.unlink('/other')
    assert.ok(await gc(d) > 0, 'gc frees what nobody retains')

    const got = Buffer.alloc(want.length)
    assert.equal(await fs.read(fh, got, want.length, 0), want.length)
    assert.ok(got.equals(want), 'the stage reads its base where it was not written')
    await fs.release(fh)
    assert.ok((await d.read('/f')).equals(want), 'the commit wrote the staged file whole')
    assert.deepEqual(d.retained!(), [], 'the closed file let go of its bases')
    assert.ok(await gc(d) > 0, 'and gc frees the old base now')
    assert.ok((await d.read('/f')).equals(want))
  })
}

for (const format of ['hypertrie', 'hyperdrive13'] as const) {
  test(`${format}: a gc that plans while a stage's base is still being looked up waits for it, and keeps the base the file changed outside the mount had`, async (t) => {
    const store = DriveStore.directory(tmpDir(t))
    t.after(() => store.close())
    const d = await store.create({ format })
    const orig = randomBuffer(prng(43), 300 * KiB + 5)
    await d.writeFile('/f', orig)
    let open!: () => void
    const gate = new Promise<void>((resolve) => { open = resolve })
    const fs = filesystem(gated(d, gate), tmpDir(t))
    t.after(() => fs.close())

    const fh = await fs.open('/f', O_RDWR)
    // the write begins a stage, whose base (the file now) is looked up behind the gate
    const write = fs.write(fh, Buffer.from('AB'), 1000)
    await new Promise((resolve) => setImmediate(resolve))
    // meanwhile the file changes outside the mount: only the older version names orig
    await d.writeFile('/f', Buffer.from('changed outside the mount'))
    const freed = gc(d)
    // whatever gc has done by now, it must not have freed the base
    await Promise.race([freed, new Promise((resolve) => setTimeout(resolve, 200))])
    open()
    await write
    await freed
    const want = Buffer.from(orig)
    want.write('AB', 1000)
    const got = Buffer.alloc(want.length)
    assert.equal(await fs.read(fh, got, want.length, 0), want.length)
    assert.ok(got.equals(want), 'the stage reads the base gc kept')
    await fs.release(fh)
    assert.ok((await d.read('/f')).equals(want))
    assert.deepEqual(d.retained!(), [])
  })
}
