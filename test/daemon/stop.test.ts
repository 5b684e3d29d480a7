// `hyperfs daemon stop` always ends the daemon: one that stops but whose
// process would linger, one that holds the storage but does not answer its
// socket, and one that answers but never exits (killed after --kill-after).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { FUSE_SKIP, alive, eventually, run, sandbox, type Sandbox } from '../cli/cli-harness.js'

const STORAGE_JS = fileURLToPath(new URL('../../src/core/storage.js', import.meta.url))

// A stand-in for a stuck daemon: it takes the storage lock as a daemon does,
// ignores SIGTERM, and (if `answers`) says yes to every request on the socket
// without ever exiting.
const FAKE = `
import { createServer } from 'node:net'
import { join } from 'node:path'
const [storageJs, storage, mode] = process.argv.slice(2)
const { FileStorage } = await import(storageJs)
const lock = await new FileStorage(storage).open('daemon.lock', { lock: true })
await lock.truncate(0)
await lock.write(0, Buffer.from(process.pid + '\\n'))
process.on('SIGTERM', () => {})
if (mode === 'answers') {
  const server = createServer((socket) => socket.on('data', (d) => {
    for (const line of String(d).split('\\n').filter(Boolean)) {
      const { id } = JSON.parse(line)
      socket.write(JSON.stringify({ id, result: { stopping: true, pid: process.pid } }) + '\\n')
    }
  }))
  await new Promise((resolve) => server.listen(join(storage, 'daemon.sock'), resolve))
}
console.log('ready')
setInterval(() => {}, 1000)
`

async function fakeDaemon (t: { after: (fn: () => void) => void }, box: Sandbox, storage: string, mode: 'silent' | 'answers'): Promise<ChildProcess> {
  const script = join(box.dir, 'fake-daemon.mjs')
  writeFileSync(script, FAKE)
  const child = spawn(process.execPath, [script, STORAGE_JS, storage, mode], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let out = ''
  child.stdout!.on('data', (d) => { out += d })
  await eventually('the fake daemon holds the lock', () => out.includes('ready'), 10_000)
  return child
}

test('a daemon that holds the storage but does not answer its socket is reported, and stop ends it', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const fake = await fakeDaemon(t, box, a.storage, 'silent')
  const status = await a.hyperfs(['daemon', 'status'])
  assert.equal(status.code, 1)
  assert.match(status.stdout, new RegExp(`daemon ${fake.pid} holds .* does not answer`))
  const stop = await a.hyperfs(['daemon', 'stop', '--kill-after', '1000'])
  assert.equal(stop.code, 0, stop.stderr)
  assert.match(stop.stdout, new RegExp(`killed daemon ${fake.pid}`))
  await eventually('the process is gone', () => fake.exitCode !== null || fake.signalCode !== null, 5_000)
  assert.equal(fake.signalCode, 'SIGKILL')
  const none = await a.hyperfs(['daemon', 'status'])
  assert.equal(none.code, 3)
})

test('a daemon that answers stop but never exits is killed after --kill-after', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const fake = await fakeDaemon(t, box, a.storage, 'answers')
  const stop = await a.hyperfs(['daemon', 'stop', '--kill-after', '1000'])
  assert.equal(stop.code, 0, stop.stderr)
  assert.match(stop.stdout, new RegExp(`killed daemon ${fake.pid}: it had not exited 1000 ms after it was asked to stop`))
  await eventually('the process is gone', () => fake.signalCode === 'SIGKILL', 5_000)
})

test('a daemon whose mount was detached behind its back (fusermount -uz) still exits on stop', { skip: FUSE_SKIP, timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const m = box.mountpoint('m')
  assert.equal((await a.hyperfs(['mount', 'new', m])).code, 0)
  const pid = a.daemonPid()!
  assert.equal((await run('fusermount', ['-uz', m])).code, 0)
  const stop = await a.hyperfs(['daemon', 'stop'])
  assert.equal(stop.code, 0, stop.stderr)
  assert.match(stop.stdout, new RegExp(`stopped daemon ${pid}`), 'it exited by itself, in time')
  assert.equal(alive(pid), false)
})
