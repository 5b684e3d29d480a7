// A daemon that a command started by itself exits once it has nothing to do;
// one started with `daemon start` stays until it is stopped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { FUSE_SKIP, alive, eventually, sandbox } from './cli-harness.js'

const IDLE = '1000'

test('a daemon started by a command exits once idle; daemon start, even on such a daemon, keeps it up', { timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  a.env.HYPERFS_IDLE_EXIT_MS = IDLE
  assert.equal((await a.hyperfs(['create'])).code, 0)
  const implicit = a.daemonPid()!
  await eventually('the idle daemon exits', () => !alive(implicit))
  assert.match(await readFile(join(a.storage, 'daemon.log'), 'utf8'), /stopping: idle for 1000 ms/)

  // daemon start on a daemon a command started: it stays from then on. A
  // client (and a longer period) hold it up meanwhile, as a busy machine may
  // take longer than a second to start the next command.
  a.env.HYPERFS_IDLE_EXIT_MS = String(3 * Number(IDLE))
  assert.equal((await a.hyperfs(['create'])).code, 0)
  const adopted = a.daemonPid()!
  const holder = connect(join(a.storage, 'daemon.sock'))
  holder.on('error', () => {})
  await new Promise((resolve) => holder.once('connect', resolve))
  const start = await a.hyperfs(['daemon', 'start'])
  holder.destroy()
  assert.match(start.stdout, new RegExp(`already running: daemon ${adopted}`))
  assert.equal(JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout).idleExit, 0)
  // more than its idle period goes by
  await new Promise((resolve) => setTimeout(resolve, 6 * Number(IDLE)))
  assert.ok(alive(adopted), 'it stays up')
  assert.equal((await a.hyperfs(['daemon', 'stop'])).code, 0)

  assert.equal((await a.hyperfs(['daemon', 'start'])).code, 0)
  const started = a.daemonPid()!
  await new Promise((resolve) => setTimeout(resolve, 3 * Number(IDLE)))
  assert.ok(alive(started), 'daemon start stays up')
  const s = JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout)
  assert.equal(s.idleExit, 0)
})

test('a daemon started by mount --foreground stays while mounted and exits after Ctrl-C', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  a.env.HYPERFS_IDLE_EXIT_MS = IDLE
  const m = box.mountpoint('m')
  const fg = a.spawn(['mount', 'new', m, '--foreground'])
  await eventually('mounted', () => /mounted hyper:\/\//.test(fg.output()))
  const pid = a.daemonPid()!
  await new Promise((resolve) => setTimeout(resolve, 3 * Number(IDLE)))
  assert.ok(alive(pid), 'a mount keeps it up')
  fg.child.kill('SIGINT')
  assert.equal(await fg.exited, 0, fg.output())
  await eventually('the daemon exits', () => !alive(pid))
})
