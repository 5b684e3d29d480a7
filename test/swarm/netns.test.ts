// Swarms in network namespaces this test creates (scripts/netns.sh):
// MDNS discovery between two namespaces with the DHT off, and holepunching
// between two peers each behind its own NAT (iptables MASQUERADE) through a
// "public" namespace that holds the bootstrap nodes. Skipped when namespaces
// cannot be created here (not root, no `ip netns`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { hash } from '../../src/crypto/index.js'
import { onTeardown } from './teardown.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const SCRIPT = join(ROOT, 'scripts', 'netns.sh')
const PEER = fileURLToPath(new URL('./fixtures/netns-peer.js', import.meta.url))

function netnsAvailable (): string | null {
  if (process.getuid?.() !== 0) return 'needs root for ip netns'
  const probe = 'hdht-probe' + process.pid
  const r = spawnSync('ip', ['netns', 'add', probe])
  if (r.status !== 0) return 'ip netns add not permitted: ' + String(r.stderr).trim()
  spawnSync('ip', ['netns', 'del', probe])
  return null
}
const skip = netnsAvailable()

function netns (t: any, kind: 'pair' | 'nat'): string {
  const tag = kind[0] + (process.pid % 100000).toString(36)
  spawnSync('bash', [SCRIPT, 'down', tag])
  onTeardown(t, () => { spawnSync('bash', [SCRIPT, 'down', tag]) })
  const r = spawnSync('bash', [SCRIPT, kind, tag], { encoding: 'utf8' })
  assert.equal(r.status, 0, 'netns setup failed: ' + r.stderr)
  return 'hdht-' + tag
}

interface PeerResult { remote?: string, self?: string, message?: string, error?: string, port?: number, lan?: number }

// runs the fixture inside a namespace; resolves with its first JSON line
function runIn (t: any, ns: string, args: string[]): { child: ChildProcess, result: Promise<PeerResult> } {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, PEER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  onTeardown(t, async () => {
    child.stdin?.end()
    if (child.exitCode === null && child.pid !== undefined) {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      await exited
      clearTimeout(timer)
    }
  })
  let stderr = ''
  child.stderr?.on('data', (d) => { stderr += d })
  const result = new Promise<PeerResult>((resolve) => {
    let buf = ''
    child.stdout?.on('data', (d) => {
      buf += d
      const i = buf.indexOf('\n')
      if (i !== -1) resolve(JSON.parse(buf.slice(0, i)))
    })
    child.once('exit', (code) => resolve({ error: `exited ${code}: ${stderr.slice(-2000)}` }))
  })
  return { child, result }
}

test('two swarms in separate namespaces find each other over MDNS with the DHT off and connect over TCP', { skip: skip ?? false }, async (t) => {
  const ns = netns(t, 'pair')
  const topic = hash(Buffer.from('mdns topic')).toString('hex')
  const server = runIn(t, ns + '-a', ['mdns', 'server', topic])
  const client = runIn(t, ns + '-b', ['mdns', 'client', topic])
  const [s, c] = await Promise.all([server.result, client.result])
  assert.equal(s.error, undefined, s.error)
  assert.equal(c.error, undefined, c.error)
  assert.equal(c.message, 'hello from server')
  assert.equal(s.message, 'hello from client')
  assert.equal(c.remote, s.self)
  assert.ok((c.lan ?? 0) + (s.lan ?? 0) >= 2, 'both ends counted a LAN connection')
})

test('two peers behind separate NATs holepunch through a public namespace and exchange data', { skip: skip ?? false }, async (t) => {
  const ns = netns(t, 'nat')
  const boot = runIn(t, ns + '-pub', ['bootstrap', '10.200.1.1'])
  const b = await boot.result
  assert.equal(b.error, undefined, b.error)
  const bootstrap = '10.200.1.1:' + String(b.port)
  const topic = hash(Buffer.from('nat topic')).toString('hex')
  const server = runIn(t, ns + '-a', ['dht', 'server', topic, bootstrap])
  // let the server announce first
  await new Promise((resolve) => setTimeout(resolve, 2000))
  const client = runIn(t, ns + '-b', ['dht', 'client', topic, bootstrap])
  const [s, c] = await Promise.all([server.result, client.result])
  assert.equal(c.error, undefined, JSON.stringify(c) + ' server: ' + JSON.stringify(s))
  assert.equal(s.error, undefined, s.error)
  assert.equal(c.message, 'hello from server')
  assert.equal(s.message, 'hello from client')
})
