// The TCP fallback against a real packet loss: in a network namespace this
// test creates (and removes), iptables drops every UDX datagram (first UDP
// payload byte 0xff, libudx's magic) and lets DHT packets through. The
// handshake succeeds, the UDX stream never opens, and the client must find
// its way over TCP on its own (no test hook). Skipped when namespaces or the
// u32 match are not available (not root, no `ip netns`, no xt_u32).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { onTeardown } from '../swarm/teardown.js'

const PEER = fileURLToPath(new URL('./fixtures/udx-blocked-peer.js', import.meta.url))
const NS = 'hdht-u' + (process.pid % 100000).toString(36)
const DROP_UDX = ['-A', 'OUTPUT', '-p', 'udp', '-m', 'u32', '--u32', '0>>22&0x3C@8>>24=0xff', '-j', 'DROP']

function run (...args: string[]): { status: number | null, stderr: string } {
  const r = spawnSync(args[0], args.slice(1), { encoding: 'utf8' })
  return { status: r.status, stderr: r.stderr }
}

function setup (): string | null {
  if (process.getuid?.() !== 0) return 'needs root for ip netns'
  run('ip', 'netns', 'del', NS)
  const steps = [
    ['ip', 'netns', 'add', NS],
    ['ip', 'netns', 'exec', NS, 'ip', 'link', 'set', 'lo', 'up'],
    ['ip', 'netns', 'exec', NS, 'iptables', ...DROP_UDX]
  ]
  for (const step of steps) {
    const r = run(...step)
    if (r.status !== 0) {
      run('ip', 'netns', 'del', NS)
      return step.join(' ') + ' failed: ' + r.stderr.trim()
    }
  }
  return null
}

test('with every UDX datagram dropped, a client reaches the server over TCP by itself', async (t) => {
  const skip = setup()
  if (skip !== null) { t.skip(skip); return }
  onTeardown(t, () => { run('ip', 'netns', 'del', NS) })
  const child = spawn('ip', ['netns', 'exec', NS, process.execPath, PEER], { stdio: ['ignore', 'pipe', 'pipe'] })
  onTeardown(t, () => { if (child.exitCode === null) child.kill('SIGKILL') })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => { stdout += d })
  child.stderr.on('data', (d) => { stderr += d })
  const code = await new Promise((resolve) => child.once('exit', resolve))
  const line = stdout.split('\n')[0]
  assert.ok(line.length > 0, `no output (exit ${String(code)}): ${stderr.slice(-2000)}`)
  const r = JSON.parse(line)
  assert.equal(r.error, undefined, r.error)
  assert.equal(r.transport, 'tcp')
  assert.equal(r.echo, 'through the firewall')
  assert.equal(r.tcpConnections, 1)
})
