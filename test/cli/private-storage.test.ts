// The storage folder a daemon is started on: private whatever it was before
// (folder 0700, daemon.log and every secret 0600), and refused when others can
// write to it. Tests run as root, so they check mode bits, not access.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { sandbox, lastLine } from './cli-harness.js'

function mode (path: string): string {
  return (statSync(path).mode & 0o7777).toString(8).padStart(4, '0')
}

test('a daemon started on a storage folder that exists as 0755 makes it private: daemon.log, keys and core files 0600, folders 0700', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  mkdirSync(a.storage, { mode: 0o755 })
  chmodSync(a.storage, 0o755)
  // a log left by an older version, readable by everyone
  writeFileSync(join(a.storage, 'daemon.log'), 'old line\n', { mode: 0o644 })
  chmodSync(join(a.storage, 'daemon.log'), 0o644)

  const created = await a.hyperfs(['create'])
  assert.equal(created.code, 0, created.stderr)
  assert.match(lastLine(created.stdout), /^hyper:\/\//)

  assert.equal(mode(a.storage), '0700')
  assert.equal(mode(join(a.storage, 'daemon.log')), '0600')
  assert.equal(mode(join(a.storage, 'primary-key')), '0600')
  const cores = join(a.storage, 'cores')
  assert.equal(mode(cores), '0700')
  let headers = 0
  for (const prefix of readdirSync(cores)) {
    assert.equal(mode(join(cores, prefix)), '0700')
    for (const core of readdirSync(join(cores, prefix))) {
      assert.equal(mode(join(cores, prefix, core)), '0700')
      assert.equal(mode(join(cores, prefix, core, 'header')), '0600', 'the header holds the secret key')
      headers++
    }
  }
  assert.equal(headers, 2, 'metadata and content cores')
})

test('a storage folder other users can write to is refused with STORAGE_INSECURE before a daemon starts', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  mkdirSync(a.storage)
  chmodSync(a.storage, 0o777)
  const r = await a.hyperfs(['create'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /STORAGE_INSECURE/)
  assert.match(r.stderr, /writable by other users/)
  assert.ok(r.stderr.includes(a.storage), r.stderr)
  assert.ok(!existsSync(join(a.storage, 'daemon.log')), 'nothing was written there')
  assert.equal(a.daemonPid(), null, 'no daemon was started')

  // the daemon itself refuses too, when run in the foreground
  const fg = await a.hyperfs(['daemon'], { timeout: 20_000 })
  assert.notEqual(fg.code, 0)
  assert.match(fg.stderr, /STORAGE_INSECURE/)
  assert.equal(mode(a.storage), '0777')
})
