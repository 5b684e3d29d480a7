// Two daemons on 127.0.0.1, B reaching A with --peer through a relay that
// goes silent the way a dropped link does (TCP holds the bytes; nothing
// arrives). B must declare the connection dead, redial, and read again once
// the link is back, with no restart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { eventually, lastLine, sandbox } from '../cli/cli-harness.js'
import { tcpRelay } from '../net/tcp-relay.js'

function sha256 (b: string): string {
  return createHash('sha256').update(b).digest('hex')
}

test('after a silent outage longer than the silence timeout, a --peer is redialled and reads resume without a restart', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const src = join(box.dir, 'src')
  mkdirSync(src, { recursive: true })
  const big = randomBytes(256 * 1024).toString('hex') + '\n' // text: the CLI's output is read as a string
  writeFileSync(join(src, 'big.txt'), big)
  writeFileSync(join(src, 'small.txt'), 'small\n')
  const a = box.node('a')
  const created = await a.hyperfs(['create', src, '--listen', '127.0.0.1:0'])
  assert.equal(created.code, 0, created.stderr)
  const link = lastLine(created.stdout)
  const listening: string = JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout).network.listening[0]
  const relay = await tcpRelay(t, Number(listening.split(':').pop()))

  const b = box.node('b')
  const first = await b.hyperfs(['cat', link, '/small.txt', '--peer', `127.0.0.1:${relay.port}`, '--timeout', '10000'])
  assert.equal(first.code, 0, first.stderr)
  assert.equal(first.stdout, 'small\n')

  relay.down()
  // B dials again only once it has given the silent connection up
  const before = relay.accepted()
  await eventually('B declares the silent connection dead and redials', () => relay.accepted() > before, 60_000)
  relay.up()
  const after = await b.hyperfs(['cat', link, '/big.txt', '--timeout', '10000'])
  assert.equal(after.code, 0, after.stderr)
  assert.equal(sha256(after.stdout), sha256(big))
})
