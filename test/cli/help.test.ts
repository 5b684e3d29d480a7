// Every command explains itself: --help exits 0 and lists the command's own
// options and the common storage/network ones.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { BIN, run } from './cli-harness.js'

const COMMANDS: Record<string, string[]> = {
  create: ['--json'],
  mount: ['--version', '--foreground', '--read-timeout', '--json'],
  unmount: [],
  seed: ['--detach'],
  unseed: [],
  download: ['--json'],
  ls: ['--version', '--recursive', '--long', '--json'],
  cat: ['--version'],
  info: ['--json'],
  log: ['--limit', '--json'],
  verify: ['--json'],
  put: ['--json'],
  rm: ['--recursive'],
  mkdir: [],
  mkmount: ['--version'],
  daemon: ['start', 'stop', 'status', '--json', '--idle-exit', '--kill-after'],
  drives: ['--json']
}
const COMMON = ['--storage', '--listen', '--peer', '--host', '--bootstrap', '--dht', '--mdns', '--timeout']

test('--help of every command exits 0 and names its options and the common ones', { timeout: 60_000 }, async () => {
  const env = { ...process.env, HYPERFS_STORAGE: '/nonexistent/hyperfs-help-must-not-start-a-daemon' }
  const results = await Promise.all(Object.keys(COMMANDS).map((cmd) => run(process.execPath, [BIN, cmd, '--help'], { env })))
  Object.keys(COMMANDS).forEach((cmd, i) => {
    const r = results[i]
    assert.equal(r.code, 0, `${cmd} --help: ${r.stderr}`)
    assert.match(r.stdout, new RegExp(`hyperfs ${cmd}`))
    for (const opt of [...COMMANDS[cmd], ...COMMON]) assert.ok(r.stdout.includes(opt), `${cmd} --help mentions ${opt}`)
  })
})

test('hyperfs --help lists every command', { timeout: 30_000 }, async () => {
  const r = await run(process.execPath, [BIN, '--help'])
  assert.equal(r.code, 0)
  for (const cmd of Object.keys(COMMANDS)) assert.match(r.stdout, new RegExp(`hyperfs ${cmd}\\b`))
  assert.match(r.stdout, /Exit codes/)
})
