// A link that goes silent and comes back: TCP delays bytes, it does not lose
// them, so after the outage the same connection carries on. Whatever timed
// out meanwhile must be asked again, of the same peer when it is the only one.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, connect as tcpConnect, type Socket } from 'node:net'
import { connect, writer, reader, blocks } from '../helpers/replication.js'
import { tcpRelay } from '../net/tcp-relay.js'
import type { Hypercore } from '../../src/core/hypercore.js'

const REQUEST_TIMEOUT = 300

async function serve (t: any, core: Hypercore): Promise<number> {
  const sockets: Socket[] = []
  const server = createServer((sock) => { sockets.push(sock); sock.pipe(core.replicate(false)).pipe(sock) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const s of sockets) s.destroy(); server.close() })
  return (server.address() as any).port
}

function dial (t: any, core: Hypercore, port: number): Socket {
  const sock = tcpConnect(port, '127.0.0.1')
  sock.on('error', () => {})
  sock.pipe(core.replicate(true)).pipe(sock)
  t.after(() => sock.destroy())
  return sock
}

test('a block asked for during an outage, and wanted ever since, arrives once the link is back', async (t) => {
  const data = blocks(64, 1024)
  const w = await writer(t, data)
  const r = await reader(t, w.key!, { requestTimeout: REQUEST_TIMEOUT })
  const relay = await tcpRelay(t, await serve(t, w))
  dial(t, r, relay.port)
  await r.update()
  assert.ok((await r.get(0, { timeout: 5000 }))!.equals(data[0]))

  relay.down()
  // a reader that keeps retrying: the block is wanted without a gap
  let stop = false
  const retrying = (async () => {
    const tries = []
    while (!stop && tries.length < 100) {
      tries.push(r.get(7, { timeout: 3 * REQUEST_TIMEOUT }).catch(() => null))
      await new Promise((resolve) => setTimeout(resolve, REQUEST_TIMEOUT / 2))
    }
    await Promise.all(tries)
  })()
  await new Promise((resolve) => setTimeout(resolve, 4 * REQUEST_TIMEOUT))
  relay.up()
  const got = await r.get(7, { timeout: 10 * REQUEST_TIMEOUT }).finally(() => { stop = true })
  await retrying
  assert.ok(got!.equals(data[7]))
})

test('a seek started during an outage resolves once the link is back', async (t) => {
  const data = blocks(64, 1024)
  const w = await writer(t, data)
  const r = await reader(t, w.key!, { requestTimeout: REQUEST_TIMEOUT })
  const relay = await tcpRelay(t, await serve(t, w))
  dial(t, r, relay.port)
  await r.update()
  relay.down()
  const seek = r.seek(40 * 1024 + 5, { timeout: 20 * REQUEST_TIMEOUT })
  await new Promise((resolve) => setTimeout(resolve, 3 * REQUEST_TIMEOUT))
  relay.up()
  assert.deepEqual(await seek, [40, 5])
})

test('gets for one block that all time out leave it unwanted', async (t) => {
  const data = blocks(16)
  const w = await writer(t, data)
  const r = await reader(t, w.key!)
  const link = connect(t, w, r)
  await r.update()
  link.a.destroy()
  link.b.destroy()
  const gets = [r.get(3, { timeout: 100 }), r.get(3, { timeout: 150 }), r.get(3, { timeout: 200 })]
  for (const g of gets) await assert.rejects(g, { code: 'REQUEST_TIMEOUT' })
  connect(t, w, r)
  // block 5 is asked for after 3 would have been: once it is here, a
  // leftover want for 3 would have been answered too
  assert.ok((await r.get(5, { timeout: 5000 }))!.equals(data[5]))
  await r.get(6, { timeout: 5000 })
  assert.equal(r.has(3), false, 'nobody wants block 3 any more')
})

// a guard, not a fix: the get's own timeout is what bounds it, whatever the link does
test('a get in flight when its only peer dies, or goes silent, rejects with REQUEST_TIMEOUT', { timeout: 30_000 }, async (t) => {
  const data = blocks(64, 1024)
  const w = await writer(t, data)
  const r = await reader(t, w.key!)
  const relay = await tcpRelay(t, await serve(t, w))
  const sock = dial(t, r, relay.port)
  await r.update()
  relay.down()
  await assert.rejects(r.get(20, { timeout: 500 }), { code: 'REQUEST_TIMEOUT' })
  const got = r.get(21, { timeout: 500 })
  sock.destroy()
  await assert.rejects(got, { code: 'REQUEST_TIMEOUT' })
})
