// Daemons that know nothing of each other but a local DHT find each other by
// the drive's discovery key: A seeds, B reads or mounts by key alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTestnet } from '../../src/dht/bootstrap-node.js'
import { FUSE_SKIP, eventually, lastLine, run, sandbox, type Sandbox } from '../cli/cli-harness.js'

// A creates a drive from `files` and seeds it on the DHT at `bootstrap`.
async function seedOverDht (box: Sandbox, bootstrap: string, files: Record<string, Buffer | string>): Promise<string> {
  const src = join(box.dir, 'src')
  mkdirSync(src, { recursive: true })
  for (const [name, data] of Object.entries(files)) writeFileSync(join(src, name), data)
  const a = box.node('a')
  const created = await a.hyperfs(['create', src, '--bootstrap', bootstrap, '--host', '127.0.0.1'])
  assert.equal(created.code, 0, created.stderr)
  const link = lastLine(created.stdout)
  const seed = a.spawn(['seed', link, '--bootstrap', bootstrap, '--host', '127.0.0.1'])
  await eventually('A seeds', () => /seeding hyper:\/\//.test(seed.output()))
  return link
}

test('a drive seeded on one daemon is found over a local DHT by another, with no peer address', { timeout: 120_000 }, async (t) => {
  const testnet = await createTestnet(5, { host: '127.0.0.1' })
  t.after(() => testnet.destroy())
  const bootstrap = testnet.bootstrap.map((b: { host: string, port: number }) => `${b.host}:${b.port}`).join(',')
  const box = sandbox(t)
  const link = await seedOverDht(box, bootstrap, { 'hello.txt': 'found you over the DHT\n' })

  const b = box.node('b')
  const cat = await b.hyperfs(['cat', link, '/hello.txt', '--bootstrap', bootstrap, '--host', '127.0.0.1', '--timeout', '30000'], { timeout: 60_000 })
  assert.equal(cat.code, 0, cat.stderr)
  assert.equal(cat.stdout, 'found you over the DHT\n')
  const status = JSON.parse((await b.hyperfs(['daemon', 'status', '--json', '--bootstrap', bootstrap])).stdout)
  assert.equal(status.network.dht, 'on')
  assert.equal(status.network.mdns, 'off')
  // a connection found on the swarm counts like one dialled by address
  assert.ok(status.network.swarmPeers >= 1)
  assert.ok(status.network.connections >= status.network.swarmPeers, JSON.stringify(status.network))
  const human = await b.hyperfs(['daemon', 'status', '--bootstrap', bootstrap])
  assert.match(human.stdout, /connections: [1-9]/)
})

test('with HYPERFS_LOCAL_ONLY a daemon refuses the public DHT and MDNS', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  // the harness adds --no-mdns and --no-dht; ask for the DHT without a bootstrap
  const r = await a.hyperfs(['daemon', 'start', '--dht'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr + r.stdout, /HYPERFS_LOCAL_ONLY/)
})

test('a lone hyperfs dht-node is enough: a drive seeded on one daemon mounts by key on another', { skip: FUSE_SKIP, timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const node = box.node('dht').spawn(['dht-node', '--port', '0', '--host', '127.0.0.1', '--json'])
  let bootstrap = ''
  await eventually('the dht node is up', () => {
    const m = /\{"host":"([\d.]+)","port":(\d+)\}/.exec(node.output())
    if (m) bootstrap = `${m[1]}:${m[2]}`
    return bootstrap !== ''
  })
  const data = randomBytes(3 * 1024 * 1024 + 5)
  const link = await seedOverDht(box, bootstrap, { 'video.bin': data })

  const b = box.node('b')
  const m = box.mountpoint('m')
  const mounted = await b.hyperfs(['mount', link, m, '--bootstrap', bootstrap, '--host', '127.0.0.1', '--timeout', '30000'], { timeout: 60_000 })
  assert.equal(mounted.code, 0, mounted.stderr)
  const sum = await run('sha256sum', [join(m, 'video.bin')])
  assert.equal(sum.code, 0, sum.stderr)
  assert.equal(sum.stdout.split(' ')[0], createHash('sha256').update(data).digest('hex'))
  assert.equal((await b.hyperfs(['unmount', m])).code, 0)
})
