// `ls -l` of a folder through the mount: after the listing, no lookup of an
// entry reaches the drive (each is served from the stats the listing
// carried), however long the walk takes. The host counts the drive calls;
// its stat cache's clock moves on with every read, so the walk lasts many
// times the cache's idle limit without the test waiting for it.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tmpDir } from '../../helpers/tmp.js'
import { FUSE_SKIP, type Fixture, run, startHost } from '../mount-harness.js'

const FILES = 300
const CLOCK_STEP = 200 // ms per clock read: 300 entries take minutes of the cache's time

export function listingCacheSuite (fixture: Fixture): void {
  describe(fixture.name, () => {
    test('ls -l of a folder looks up none of its entries in the drive, however long it takes', { skip: FUSE_SKIP, timeout: 120_000 }, async (t) => {
      const dir = tmpDir(t, 'hyperfs-seed-')
      mkdirSync(join(dir, 'many'))
      for (let i = 0; i < FILES; i++) writeFileSync(join(dir, 'many', `f${i}`), String(i))
      const host = await startHost(t, { fixture, seed: dir, countCalls: true, clockStep: CLOCK_STEP })
      await host.calls() // what the seeding and mounting did

      const ls = await run('ls', ['-l', join(host.mnt, 'many')])
      assert.equal(ls.code, 0, ls.stderr)
      assert.equal(ls.stdout.split('\n').filter((l) => l.startsWith('-')).length, FILES)
      const calls = await host.calls()
      assert.equal(calls['readdir /many'], 1, JSON.stringify(calls))
      const entryLookups = Object.keys(calls).filter((k) => k.includes(' /many/'))
      assert.deepEqual(entryLookups, [], `${entryLookups.length} lookups of entries reached the drive`)
    })
  })
}
