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
import { gcPlan } from '../../src/daemon/live-blocks.js'
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

// gc keeping the latest version, as the daemon plans it; the blocks freed
async function gc (d: Drive): Promise<number> {
  const content = (d as unknown as { content: Hypercore }).content
  const plan = await gcPlan(d, { keepVersions: 1, bound: content.length })
  let n = 0
  for (const [s, e] of [...plan.free.runs(0, content.length)]) n += (await content.clear(s, e)).blocks
  return n
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
