// A mount whose host is alive but stuck (here: stopped) must be told apart
// from a live one without this process waiting on it: a stat of our own into
// such a mount holds one of libuv's four threadpool threads until the host
// moves again, and four of them leave every file operation here waiting.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { clearStaleMount, isMounted } from '../../src/fuse/stale-mount.js'
import { FUSE_SKIP, startHost, type Host } from './mount-harness.js'

const STUCK_HOSTS = 4 // libuv's default threadpool size
const STAT_MS = 10_000

test('mounts of stuck hosts are cleared, and this process still reaches its files afterwards', { skip: FUSE_SKIP, timeout: 180_000 }, async (t) => {
  const hosts: Host[] = []
  for (let i = 0; i < STUCK_HOSTS; i++) hosts.push(await startHost(t))
  try {
    for (const h of hosts) h.signal('SIGSTOP')
    for (const h of hosts) assert.equal(await clearStaleMount(h.mnt), true, `${h.mnt}: a stuck host counts as gone`)
    for (const h of hosts) assert.equal(await isMounted(h.mnt), false)
    let timer: NodeJS.Timeout | undefined
    const reached = await Promise.race([
      stat(tmpdir()).then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), STAT_MS) })
    ]).finally(() => clearTimeout(timer))
    assert.ok(reached, 'a stat of an unrelated folder waited behind the stuck mounts')
  } finally {
    for (const h of hosts) h.signal('SIGCONT')
  }
})
