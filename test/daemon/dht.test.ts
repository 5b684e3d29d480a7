// Two daemons that know nothing of each other but a local DHT testnet find
// each other by the drive's discovery key: A seeds, B reads by key alone.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createTestnet } from '../../src/dht/bootstrap-node.js'
import { eventually, lastLine, sandbox } from '../cli/cli-harness.js'

test('a drive seeded on one daemon is found over a local DHT by another, with no peer address', { timeout: 120_000 }, async (t) => {
  const testnet = await createTestnet(5, { host: '127.0.0.1' })
  t.after(() => testnet.destroy())
  const bootstrap = testnet.bootstrap.map((b: { host: string, port: number }) => `${b.host}:${b.port}`).join(',')
  const box = sandbox(t)
  const src = join(box.dir, 'src')
  mkdirSync(src, { recursive: true })
  writeFileSync(join(src, 'hello.txt'), 'found you over the DHT\n')

  const a = box.node('a')
  const created = await a.hyperfs(['create', src, '--bootstrap', bootstrap, '--host', '127.0.0.1'])
  assert.equal(created.code, 0, created.stderr)
  const link = lastLine(created.stdout)
  const seed = a.spawn(['seed', link, '--bootstrap', bootstrap, '--host', '127.0.0.1'])
  await eventually('A seeds', () => /seeding hyper:\/\//.test(seed.output()))

  const b = box.node('b')
  const cat = await b.hyperfs(['cat', link, '/hello.txt', '--bootstrap', bootstrap, '--host', '127.0.0.1', '--timeout', '30000'], { timeout: 60_000 })
  assert.equal(cat.code, 0, cat.stderr)
  assert.equal(cat.stdout, 'found you over the DHT\n')
  const status = JSON.parse((await b.hyperfs(['daemon', 'status', '--json', '--bootstrap', bootstrap])).stdout)
  assert.equal(status.network.dht, 'on')
  assert.equal(status.network.mdns, 'off')
})

test('with HYPERFS_LOCAL_ONLY a daemon refuses the public DHT and MDNS', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  // the harness adds --no-mdns and --no-dht; ask for the DHT without a bootstrap
  const r = await a.hyperfs(['daemon', 'start', '--dht'])
  assert.notEqual(r.code, 0)
  assert.match(r.stderr + r.stdout, /HYPERFS_LOCAL_ONLY/)
})
