// When the drive cannot produce the bytes (no peer has them, or it never
// answers), a read through the mount fails with EIO within the configured
// timeout instead of hanging the reader, the host says why in its log, and
// the mount keeps serving everything else.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpDir } from '../../helpers/tmp.js'
import { FUSE_SKIP, type Fixture, run, startHost } from '../mount-harness.js'

export function readFailuresSuite (fixture: Fixture): void {
  describe(fixture.name, () => {
    test('reads the drive cannot answer fail with EIO and are logged, not hung', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
      const dir = tmpDir(t, 'hyperfs-seed-')
      writeFileSync(join(dir, 'ok.txt'), 'fine\n')
      writeFileSync(join(dir, 'rejects.bin'), Buffer.alloc(300_000, 1))
      writeFileSync(join(dir, 'silent.bin'), Buffer.alloc(300_000, 2))
      const host = await startHost(t, {
        fixture,
        seed: dir,
        readTimeout: 1000,
        faults: { '/rejects.bin': 'timeout', '/silent.bin': 'hang' }
      })

      await t.test('a read rejected with REQUEST_TIMEOUT is EIO', async () => {
        // the bound is for the test only: a hang fails here, it does not stall the suite
        const r = await run('cat', [join(host.mnt, 'rejects.bin')], { timeout: 20_000 })
        assert.notEqual(r.code, null, 'cat hung')
        assert.notEqual(r.code, 0)
        assert.match(r.stderr, /Input\/output error/)
        assert.match(host.log(), /EIO read \/rejects\.bin.*REQUEST_TIMEOUT/)
      })

      await t.test('a read the drive never answers is EIO after the read timeout', async () => {
        const r = await run('dd', [`if=${join(host.mnt, 'silent.bin')}`, 'of=/dev/null', 'bs=4096', 'skip=10', 'count=1'], { timeout: 20_000 })
        assert.notEqual(r.code, null, 'dd hung')
        assert.notEqual(r.code, 0)
        assert.match(r.stderr, /Input\/output error/)
        assert.match(host.log(), /EIO read \/silent\.bin.*no answer from the drive within 1000 ms/)
      })

      await t.test('the mount still serves other files', async () => {
        assert.equal(await readFile(join(host.mnt, 'ok.txt'), 'utf8'), 'fine\n')
      })
    })
  })
}
