// The daemon as a process: one per storage folder, its control socket,
// clean shutdown, and recovery after kill -9.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isMounted } from '../../src/fuse/stale-mount.js'
import { FUSE_SKIP, alive, eventually, lastLine, sandbox } from '../cli/cli-harness.js'

test('a second daemon on the same storage folder refuses to start and names the running one', { timeout: 60_000 }, async (t) => {
  const a = sandbox(t).node('a')
  const start = await a.hyperfs(['daemon', 'start'])
  assert.equal(start.code, 0, start.stderr)
  const pid = a.daemonPid()
  assert.ok(pid !== null && alive(pid))
  const second = await a.hyperfs(['daemon'], { timeout: 20_000 })
  assert.equal(second.code, 1)
  assert.match(second.stderr, new RegExp(`another hyperfs daemon \\(pid ${pid}\\)`))
  assert.ok(alive(pid!), 'the first daemon is unharmed')
  const again = await a.hyperfs(['daemon', 'start'])
  assert.match(again.stdout, new RegExp(`already running: daemon ${pid}`))
})

test('daemon status reports a stopped daemon with exit code 3, and a running one with its settings', { timeout: 60_000 }, async (t) => {
  const a = sandbox(t).node('a')
  const none = await a.hyperfs(['daemon', 'status', '--json'])
  assert.equal(none.code, 3)
  assert.equal(JSON.parse(none.stdout).running, false)
  assert.equal((await a.hyperfs(['daemon', 'start', '--listen', '127.0.0.1:0', '--no-dht', '--bootstrap', '127.0.0.1:49737'])).code, 0)
  const s = await a.hyperfs(['daemon', 'status', '--json'])
  assert.equal(s.code, 0, s.stderr)
  const status = JSON.parse(s.stdout)
  assert.equal(status.running, true)
  assert.equal(status.storage, a.storage)
  assert.match(status.network.listening[0], /^127\.0\.0\.1:\d+$/)
  assert.notEqual(status.network.listening[0], '127.0.0.1:0')
  assert.equal(status.config.dht, false)
  assert.deepEqual(status.config.bootstrap, [{ host: '127.0.0.1', port: 49737 }])
})

test('the control socket answers bad requests with coded errors and keeps serving', { timeout: 60_000 }, async (t) => {
  const a = sandbox(t).node('a')
  assert.equal((await a.hyperfs(['daemon', 'start'])).code, 0)
  const socket = connect(join(a.storage, 'daemon.sock'))
  t.after(() => socket.destroy())
  const answers: any[] = []
  let buf = ''
  socket.on('data', (d) => {
    buf += d
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) { answers.push(JSON.parse(buf.slice(0, nl))); buf = buf.slice(nl + 1) }
  })
  socket.write('this is not json\n')
  socket.write(JSON.stringify({ id: 1, method: 'no.such.method' }) + '\n')
  socket.write(JSON.stringify({ id: 2, method: 'ls', params: { key: 'zz' } }) + '\n')
  socket.write(JSON.stringify({ id: 3, method: 'status' }) + '\n')
  await eventually('four answers', () => answers.length >= 4, 10_000)
  const byId = new Map(answers.map((m) => [m.id, m]))
  assert.equal(byId.get(null).error.code, 'PROTOCOL_ERROR')
  assert.equal(byId.get(1).error.code, 'UNKNOWN_METHOD')
  assert.equal(byId.get(2).error.code, 'BAD_KEY')
  assert.equal(byId.get(3).result.pid, a.daemonPid())
})

test('daemon stop unmounts every drive and the process exits', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const m1 = box.mountpoint('m1')
  const m2 = box.mountpoint('m2')
  assert.equal((await a.hyperfs(['mount', 'new', m1])).code, 0)
  assert.equal((await a.hyperfs(['mount', 'new', m2])).code, 0)
  assert.ok(await isMounted(m1))
  assert.ok(await isMounted(m2))
  const pid = a.daemonPid()!
  const stop = await a.hyperfs(['daemon', 'stop'])
  assert.equal(stop.code, 0, stop.stderr)
  assert.match(stop.stdout, new RegExp(`stopped daemon ${pid}`))
  assert.equal(alive(pid), false)
  assert.equal(await isMounted(m1), false)
  assert.equal(await isMounted(m2), false)
  assert.match(await readFile(join(a.storage, 'daemon.log'), 'utf8'), /unmounted .*m1/)
})

test('SIGTERM to the daemon unmounts cleanly', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const m = box.mountpoint('m')
  assert.equal((await a.hyperfs(['mount', 'new', m])).code, 0)
  const pid = a.daemonPid()!
  process.kill(pid, 'SIGTERM')
  await eventually('the daemon exits', () => !alive(pid))
  assert.equal(await isMounted(m), false)
})

test('after kill -9 of the mounting daemon, the drive mounts again at the same path with its files', { skip: FUSE_SKIP, timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const m = box.mountpoint('m')
  const mounted = await a.hyperfs(['mount', 'new', m])
  assert.equal(mounted.code, 0, mounted.stderr)
  const link = lastLine(mounted.stdout)
  assert.equal((await a.hyperfs(['put', link, '/kept.txt'], { input: 'still here\n' })).code, 0)

  const pid = a.daemonPid()!
  process.kill(pid, 'SIGKILL')
  await eventually('the daemon is gone', () => !alive(pid))
  assert.ok(await isMounted(m), 'kill -9 leaves the dead mount behind')
  await assert.rejects(readdir(m), { code: 'ENOTCONN' })

  const again = await a.hyperfs(['mount', link, m])
  assert.equal(again.code, 0, again.stderr)
  assert.notEqual(a.daemonPid(), pid, 'a new daemon took over the storage')
  assert.equal(await readFile(join(m, 'kept.txt'), 'utf8'), 'still here\n')
  assert.equal((await a.hyperfs(['unmount', m])).code, 0)
  assert.equal(await isMounted(m), false)
})

test('unmount clears a dead mount that a killed daemon left behind', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const m = box.mountpoint('m')
  assert.equal((await a.hyperfs(['mount', 'new', m])).code, 0)
  process.kill(a.daemonPid()!, 'SIGKILL')
  await eventually('the mount is dead', async () => { try { await readdir(m); return false } catch { return true } })
  const r = await a.hyperfs(['unmount', m])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /cleared a dead mount/)
  assert.equal(await isMounted(m), false)
  const notMounted = await a.hyperfs(['unmount', m])
  assert.equal(notMounted.code, 1)
  assert.match(notMounted.stderr, /not mounted/)
})

test('mount --foreground stays up until SIGTERM, then unmounts and exits 0', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const m = box.mountpoint('m')
  const fg = a.spawn(['mount', 'new', m, '--foreground'])
  await eventually('mounted', () => /mounted hyper:\/\//.test(fg.output()))
  assert.ok(await isMounted(m))
  assert.equal(fg.child.exitCode, null, 'still running')
  fg.child.kill('SIGTERM')
  assert.equal(await fg.exited, 0, fg.output())
  assert.equal(await isMounted(m), false)
  assert.match(fg.output(), /unmounted/)
})

test('mount into a live mount of this daemon is refused with EBUSY', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const m = box.mountpoint('m')
  assert.equal((await a.hyperfs(['mount', 'new', m])).code, 0)
  const again = await a.hyperfs(['mount', 'new', m])
  assert.equal(again.code, 1)
  assert.match(again.stderr, /already mounted/)
  assert.ok(await isMounted(m))
})
