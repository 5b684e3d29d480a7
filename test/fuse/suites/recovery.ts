// kill -9 of a FUSE host leaves a dead mount ("Transport endpoint is not
// connected"); the next host started on the same path must clear it and serve.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { readdir, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { tmpDir } from '../../helpers/tmp.js'
import { clearStaleMount, isMounted } from '../../../src/fuse/stale-mount.js'
import { FUSE_SKIP, type Fixture, startHost, type Host } from '../mount-harness.js'

export function recoverySuite (fixture: Fixture): void {
  describe(fixture.name, () => {
    test('after kill -9 of the host, a new host mounts at the same path', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
      const seed = tmpDir(t, 'hyperfs-seed-')
      writeFileSync(join(seed, 'a.txt'), 'alpha\n')
      // Both hosts share this mount point, so the folder is removed here, after
      // both are stopped and nothing is mounted on it, whatever failed before.
      const base = mkdtempSync(join(tmpdir(), 'hyperfs-mnt-'))
      const mnt = join(base, 'mnt')
      mkdirSync(mnt)
      const hosts: Host[] = []
      t.after(async () => {
        for (const host of hosts) await host.stop()
        await clearStaleMount(mnt).catch(() => {})
        if (!(await isMounted(mnt))) rmSync(base, { recursive: true, force: true })
      })

      const first = await startHost(t, { fixture, mnt, seed })
      hosts.push(first)
      assert.deepEqual(await readdir(mnt), ['a.txt'])

      await first.kill9()
      assert.ok(await isMounted(mnt), 'the dead mount is still in the mount table')
      await assert.rejects(readdir(mnt), { code: 'ENOTCONN' })

      const second = await startHost(t, { fixture, mnt, seed })
      hosts.push(second)
      assert.match(second.log(), /cleared a dead mount/)
      assert.equal(await readFile(join(mnt, 'a.txt'), 'utf8'), 'alpha\n')

      await second.stop()
      assert.equal(await isMounted(mnt), false)
    })
  })
}
