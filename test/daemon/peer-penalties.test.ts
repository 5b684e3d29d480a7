// Peers that sent data that does not verify are shut out for a while that
// doubles with each fault in a row, in a table that stays bounded; a swarm
// peer that lies is refused by its Noise key, dialling or dialled.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PeerPenalties, FAULT_BACKOFF_MIN, FAULT_BACKOFF_MAX } from '../../src/daemon/peer-penalties.js'
import { openNetwork } from '../../src/daemon/peer-network.js'
import type { Logger } from '../../src/daemon/logger.js'
import { createTestnet } from '../../src/dht/bootstrap-node.js'
import { Swarm } from '../../src/swarm/swarm.js'
import { Store } from '../../src/store/store.js'
import { isPeerFault } from '../../src/replication/replicator.js'
import { writer, blocks, liar } from '../helpers/replication.js'
import { onTeardown } from '../swarm/teardown.js'

const WAIT_STEP = 50
const WAIT_STEPS = 400 // 20 s at most for any condition below

async function until (what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < WAIT_STEPS && !cond(); i++) await new Promise((resolve) => setTimeout(resolve, WAIT_STEP))
  assert.ok(cond(), what)
}

test('each fault in a row doubles the shut-out, up to its cap, and it ends by itself', () => {
  let now = 1_000_000
  const p = new PeerPenalties({ now: () => now })
  assert.equal(p.refuses('a'), false)
  assert.equal(p.record('a').until, now + FAULT_BACKOFF_MIN)
  assert.equal(p.record('a').until, now + 2 * FAULT_BACKOFF_MIN)
  assert.equal(p.record('a').until, now + 4 * FAULT_BACKOFF_MIN)
  for (let i = 0; i < 40; i++) p.record('a')
  assert.equal(p.record('a').until, now + FAULT_BACKOFF_MAX)
  assert.equal(p.refuses('a'), true)
  assert.equal(p.refuses('b'), false)
  assert.deepEqual(p.active(), ['a'])
  now += FAULT_BACKOFF_MAX
  assert.equal(p.refuses('a'), false)
  assert.deepEqual(p.active(), [])
})

test('a flood of lying identities does not grow the table past its bound; the shut-out ending first goes', () => {
  let now = 0
  const p = new PeerPenalties({ now: () => now })
  for (let i = 0; i < 3; i++) p.record('repeat') // shut out longest
  for (let i = 0; i < 10_000; i++) { now++; p.record('id' + i) }
  assert.ok(p.size <= 4096, `${p.size} entries`)
  assert.equal(p.refuses('repeat'), true)
  assert.equal(p.refuses('id9999'), true)
  assert.equal(p.refuses('id0'), false)
})

function memoryLogger (): Logger & { lines: string[] } {
  const lines: string[] = []
  return { lines, info: (m) => lines.push('info ' + m), warn: (m) => lines.push('warn ' + m), error: (m) => lines.push('error ' + m) }
}

test('a swarm peer that sends blocks that do not verify is logged and refused by its key, and is not reconnected', { timeout: 90_000 }, async (t) => {
  const testnet = await createTestnet(4, { host: '127.0.0.1' })
  onTeardown(t, () => testnet.destroy())
  const data = blocks(32)
  const w = await writer(t, data)
  const evil = await liar(t, w)
  const liarSwarm = new Swarm({ bootstrap: testnet.bootstrap, host: '127.0.0.1', mdns: false })
  onTeardown(t, () => liarSwarm.destroy())
  let liarConnections = 0
  liarSwarm.on('connection', (s) => { liarConnections++; evil.replicate(s) })
  await liarSwarm.join(evil.discoveryKey as Buffer, { server: true, client: false }).flushed()

  const store = Store.memory()
  onTeardown(t, () => store.close())
  const core = await store.get({ key: w.key! })
  const logger = memoryLogger()
  const network = await openNetwork({
    storage: '/nonexistent',
    listen: [],
    peers: [],
    host: '127.0.0.1',
    bootstrap: testnet.bootstrap.map((b) => ({ host: b.host, port: b.port })),
    dht: true,
    mdns: false,
    timeout: 5000,
    idleExit: 0
  }, { replicate: (stream, isInitiator) => { store.replicate(stream, { isInitiator }) }, logger })
  onTeardown(t, () => network.close())
  network.join(core.discoveryKey as Buffer, { server: false, client: true })

  // the read fails with the liar's fault (after its timeout); the shut-out
  // starts at the fault, so it is checked while the read still waits
  const read = assert.rejects(core.get(3, { timeout: 10_000 }), (err) => isPeerFault(err))
  const liarKey = liarSwarm.publicKey.toString('hex')
  await until('the liar is shut out', () => network.status().swarmPenalised.includes(liarKey))
  assert.ok(logger.lines.some((l) => l.startsWith('warn') && l.includes(`swarm peer ${liarKey.slice(0, 16)}`) && /does not verify/.test(l)), logger.lines.join('\n'))
  await until('the lying connection is gone', () => network.status().swarmPeers === 0)

  // dialled again at once while it is shut out: refused, so no new
  // connection (the first fault's shut-out is 5 s)
  const before = liarConnections
  network.redialNow()
  await new Promise((resolve) => setTimeout(resolve, 1500))
  assert.equal(liarConnections, before)
  assert.ok(network.status().swarmPenalised.includes(liarKey))
  await read
})
