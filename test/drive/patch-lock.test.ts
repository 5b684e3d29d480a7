// A change to part of a file may rewrite content besides the bytes written:
// neighbouring extents merged into one run (Hypertrie format, compact()), or
// cut blocks and a block map (hyperdrive13, writeParts). That rewrite can be
// MiBs; it is done before the drive's metadata lock, so changes of the
// drive's metadata do not wait for it (appends of content still take turns),
// and done again under the lock when the file changed meanwhile.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { DriveStore } from '../../src/drive/drive-store.js'
import type { Drive, FilePatch } from '../../src/drive/types.js'
import type { DriveFormatName } from '../../src/drive/drive-format.js'
import type { Hypercore } from '../../src/core/hypercore.js'
import { tmpDir, prng, randomBuffer } from '../helpers/tmp.js'

const KiB = 1024
const MAX_PATCHES = 200 // patches tried before the first that rewrites content

function applyRef (ref: Buffer, p: FilePatch): Buffer {
  const out = Buffer.alloc(p.size)
  ref.copy(out, 0, 0, Math.min(p.keep, ref.length, p.size))
  for (const w of p.writes) (w.data as Buffer).copy(out, w.offset)
  return out
}

// A drive of the format with a file /f of random bytes.
async function driveWithFile (t: TestContext, format: DriveFormatName, seed: number): Promise<{ d: Drive, ref: Buffer }> {
  const store = DriveStore.directory(tmpDir(t))
  t.after(() => store.close())
  const d = await store.create({ format })
  const ref = randomBuffer(prng(seed), 256 * KiB + 3)
  await d.writeFile('/f', ref)
  return { d, ref }
}

// The i-th of one-byte writes two bytes apart: small neighbours, which pile
// up into a rewrite.
function bytePatch (i: number, size: number): FilePatch {
  return { keep: size, size, writes: [{ offset: 2 * i, length: 1, data: Buffer.from([i & 0xff]) }] }
}

// Holds the content core's appends from the second one of a patch on (the
// first is the patch's own bytes): `hit` resolves when one is held, and the
// held ones go on once `release` is called.
// With `fail`, the held append fails instead (as on blocks gone).
function holdRewrites (d: Drive): { arm: (fail?: boolean) => Promise<void>, release: () => void } {
  const core = (d as unknown as { content: Hypercore }).content
  const append = core.append.bind(core)
  let own = 0
  let armed = false
  let failing = false
  let onHit = (): void => {}
  let release = (): void => {}
  let gate = Promise.resolve()
  core.append = (async (blocks: Buffer | Buffer[]) => {
    if (armed && own-- <= 0) {
      armed = false
      onHit()
      if (failing) throw new Error('this rewrite fails')
      await gate
    }
    return append(blocks)
  }) as typeof core.append
  return {
    arm: (fail = false) => {
      own = 1
      armed = true
      failing = fail
      gate = new Promise<void>((resolve) => { release = resolve })
      return new Promise<void>((resolve) => { onHit = resolve })
    },
    release: () => { armed = false; release() }
  }
}

for (const format of ['hypertrie', 'hyperdrive13'] as const) {
  test(`${format}: while a patch rewrites content, other changes of the drive go on; a file changed meanwhile is patched as it is then`, { timeout: 120_000 }, async (t) => {
    const { d, ref: original } = await driveWithFile(t, format, 7)
    let ref = original
    const changed = randomBuffer(prng(8), 200 * KiB + 11)
    await d.writeFile('/g', changed)
    const held = holdRewrites(d)
    let rewrote = false
    for (let i = 0; i < MAX_PATCHES && !rewrote; i++) {
      const patch = bytePatch(i, ref.length)
      const hit = held.arm()
      const done = d.patchFile!('/f', patch, {})
      const first = await Promise.race([hit.then(() => 'rewriting'), done.then(() => 'done')])
      if (first === 'done') { held.release(); ref = applyRef(ref, patch); continue }
      rewrote = true
      // the patch holds no lock now: a change elsewhere, and one of this very file, complete
      let timer: NodeJS.Timeout | undefined
      const waited = new Promise<string>((resolve) => { timer = setTimeout(() => resolve('waited for the rewrite'), 10_000) })
      const other = (async () => {
        await d.mkdir('/other')
        await d.rename('/g', '/f') // metadata only: content appends take turns
        return 'done'
      })()
      const r = await Promise.race([other, waited])
      clearTimeout(timer)
      held.release()
      await other
      await done
      assert.equal(r, 'done', 'a mkdir, and a rename over the very file, went on while the patch rewrote content')
      ref = applyRef(changed, patch)
    }
    assert.ok(rewrote, `one of ${MAX_PATCHES} patches rewrote content`)
    assert.ok((await d.read('/f')).equals(ref), 'the patch applied to the file as it was under the lock')
    assert.equal((await d.stat('/other')).mode & 0o170000, 0o040000)
  })
}

for (const format of ['hypertrie', 'hyperdrive13'] as const) {
  test(`${format}: a rewrite that fails before the lock is done again under it`, { timeout: 120_000 }, async (t) => {
    const { d, ref: original } = await driveWithFile(t, format, 9)
    let ref = original
    const held = holdRewrites(d)
    let failed = false
    for (let i = 0; i < MAX_PATCHES && !failed; i++) {
      const patch = bytePatch(i, ref.length)
      const hit = held.arm(true)
      hit.then(() => { failed = true }, () => {})
      await d.patchFile!('/f', patch, {})
      held.release()
      ref = applyRef(ref, patch)
    }
    assert.ok(failed, `one of ${MAX_PATCHES} patches rewrote content`)
    assert.ok((await d.read('/f')).equals(ref))
  })
}
