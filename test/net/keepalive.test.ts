// Keepalives and the silence timeout: a peer that sends nothing at all for
// the timeout (keepalives included) is declared dead, one that is merely idle
// is not. The link runs through a relay that can go silent, as in an outage.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { SecretStream } from '../../src/net/secret-stream.js'
import { protocolStream } from '../../src/net/protocol-stream.js'
import { closedWith } from './helpers.js'
import { tcpRelay } from './tcp-relay.js'

const KEEP_ALIVE = 50
const TIMEOUT = 1000

async function relayedPair (t: any): Promise<{ a: net.Socket, b: net.Socket, relay: Awaited<ReturnType<typeof tcpRelay>> }> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const relay = await tcpRelay(t, (server.address() as net.AddressInfo).port)
  const a = net.connect(relay.port, '127.0.0.1')
  const b = await accepted
  a.on('error', () => {})
  b.on('error', () => {})
  t.after(() => { a.destroy(); b.destroy(); server.close() })
  return { a, b, relay }
}

test('an idle stream with keepalives stays up, and one whose link goes silent is destroyed with PEER_TIMEOUT', { timeout: 60_000 }, async (t) => {
  const { a: ra, b: rb, relay } = await relayedPair(t)
  const opts = { keepAlive: KEEP_ALIVE, timeout: TIMEOUT }
  const a = new SecretStream(true, ra, opts)
  const b = new SecretStream(false, rb, opts)
  a.on('error', () => {})
  b.on('error', () => {})
  t.after(() => { a.destroy(); b.destroy() })
  assert.equal(await a.opened, true)
  await new Promise((resolve) => setTimeout(resolve, 2 * TIMEOUT))
  assert.equal(a.destroyed || b.destroyed, false, 'keepalives carried the idle stream past its timeout')
  const closed = [closedWith(a), closedWith(b)]
  relay.down()
  for (const err of await Promise.all(closed)) assert.equal((err as { code?: string } | null)?.code, 'PEER_TIMEOUT')
})

test('a protocol stream declares a silent peer dead by default', { timeout: 60_000 }, async (t) => {
  const { a: ra, b: rb, relay } = await relayedPair(t)
  const a = protocolStream(ra, { isInitiator: true })
  const b = protocolStream(rb, { isInitiator: false })
  t.after(() => { a.secret.destroy(); b.secret.destroy() })
  assert.equal(await a.secret.opened, true)
  const closed = closedWith(a.secret)
  relay.down()
  assert.equal(((await closed) as { code?: string } | null)?.code, 'PEER_TIMEOUT')
})
