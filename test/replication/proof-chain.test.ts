// Proof chains (src/replication/proof-chain.ts): blocks asked together come
// with proofs that do not repeat each other's nodes, and a short proof whose
// first link fails is asked again, without blaming the peer, whether its
// answer came before or after that failure.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { Hypercore } from '../../src/core/hypercore.js'
import type { ProofRequest, Proof } from '../../src/core/merkle-tree.js'
import { HyperfsError } from '../../src/errors.js'
import { connect, writer, reader, blocks } from '../helpers/replication.js'

type Bend = (req: ProofRequest, honest: () => Promise<Proof>) => Promise<Proof>

// A full copy of `source` whose answers go through `bend`.
async function copy (t: any, source: Hypercore, bend: Bend): Promise<Hypercore> {
  const c = await reader(t, source.key!)
  connect(t, source, c)
  await c.update()
  await c.download({ start: 0, end: source.length })
  const honest = c.proof.bind(c)
  c.proof = (req) => bend(req, () => honest(req))
  return c
}

// Counts the tree nodes a core's block proofs carry.
function countNodes (core: Hypercore): { nodes: number, blocks: number } {
  const n = { nodes: 0, blocks: 0 }
  const honest = core.proof.bind(core)
  core.proof = async (req) => {
    const p = await honest(req)
    if (p.block) { n.blocks++; n.nodes += p.block.nodes.length }
    return p
  }
  return n
}

const never = new Promise<never>(() => {})
const notHere = () => Promise.reject(HyperfsError.BLOCK_NOT_AVAILABLE('dropped here'))

test('blocks asked together come with proofs that share no tree nodes', async (t) => {
  const data = blocks(256)
  const w = await writer(t, data)
  const sent = countNodes(w)
  const r = await reader(t, w.key!)
  connect(t, w, r)
  await r.update()
  const got = await Promise.all(data.map((_, i) => r.get(i, { timeout: 5000 })))
  for (let i = 0; i < data.length; i++) assert.ok(got[i]!.equals(data[i]), 'block ' + i)
  assert.equal(sent.blocks, 256)
  // a tree of 256 leaves has 255 nodes besides the root each proof must reach:
  // one sibling per node at most, where proofs asked alone carry ~8 each
  assert.ok(sent.nodes <= 255, `${sent.nodes} nodes for 256 blocks`)
})

test('a short proof whose first link is answered with noData is asked again in full, and the peer stays', async (t) => {
  const data = blocks(16)
  const w = await writer(t, data)
  const b = await copy(t, w, (req, honest) => req.block?.index === 0 ? notHere() : honest())
  const r = await reader(t, w.key!)
  connect(t, b, r)
  await r.update()
  let errors = 0
  r.replicator.on('peer-error', () => errors++)
  const zero = r.get(0, { timeout: 500 }).then(() => 'got', (err) => err.code)
  const one = r.get(1, { timeout: 5000 }) // leaf 2 comes with block 0's proof: block 1's stops there
  assert.ok((await one)!.equals(data[1]))
  assert.equal(await zero, 'REQUEST_TIMEOUT')
  assert.equal(errors, 0)
  assert.equal(r.peers, 1)
})

test('an answer that arrives before the one it relies on waits for it', async (t) => {
  const data = blocks(16)
  const w = await writer(t, data)
  let late: (() => void) | null = null
  const b = await copy(t, w, async (req, honest) => {
    if (req.block?.index === 0) await new Promise<void>((resolve) => { late = resolve })
    return honest()
  })
  const sent = countNodes(b)
  const r = await reader(t, w.key!)
  connect(t, b, r)
  await r.update()
  const gets = [r.get(0, { timeout: 5000 }), r.get(1, { timeout: 5000 }), r.get(2, { timeout: 5000 })]
  while (sent.blocks < 2) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.equal(r.has(1), false, 'block 1 waits for block 0')
  late!()
  const got = await Promise.all(gets)
  for (let i = 0; i < 3; i++) assert.ok(got[i]!.equals(data[i]))
  assert.equal(sent.blocks, 3, 'nothing asked twice')
  assert.equal(r.peers, 1)
})

// Block 1's request goes out after block 0's, in a frame of its own (a
// responder answers a batch of requests in one batch), and relies on it.
async function askInTurn (r: Hypercore, b: { asked: number }, timeouts: [number, number]) {
  const zero = r.get(0, { timeout: timeouts[0] }).then(() => 'got', (err) => err.code)
  while (b.asked < 1) await new Promise((resolve) => setTimeout(resolve, 5))
  return { zero, one: r.get(1, { timeout: timeouts[1] }) }
}

test('an answer waiting on a request that then fails or times out is asked again, and the peer stays', async (t) => {
  for (const fail of ['noData', 'timeout'] as const) {
    const data = blocks(16)
    const w = await writer(t, data)
    let late: (() => void) | null = null
    const b = { asked: 0 }
    const core = await copy(t, w, async (req, honest) => {
      if (req.block?.index !== 0) return honest()
      b.asked++
      if (fail === 'timeout') return never
      await new Promise<void>((resolve) => { late = resolve })
      return notHere()
    })
    const sent = countNodes(core)
    const r = await reader(t, w.key!, { requestTimeout: fail === 'timeout' ? 300 : 10_000 })
    connect(t, core, r)
    await r.update()
    let errors = 0
    r.replicator.on('peer-error', () => errors++)
    const { zero, one } = await askInTurn(r, b, [1000, 5000])
    while (sent.blocks < 1) await new Promise((resolve) => setTimeout(resolve, 5))
    assert.equal(r.has(1), false, `${fail}: block 1 waits for block 0`)
    if (late) (late as () => void)()
    assert.ok((await one)!.equals(data[1]), fail)
    assert.equal(sent.blocks, 2, `${fail}: block 1 was sent again, in full`)
    assert.equal(await zero, 'REQUEST_TIMEOUT')
    assert.equal(errors, 0, fail)
    assert.equal(r.peers, 1, fail)
  }
})

test('answers waiting on a peer that goes away are asked of another peer', async (t) => {
  const data = blocks(16)
  const w = await writer(t, data)
  const b = { asked: 0 }
  const core = await copy(t, w, (req, honest) => {
    if (req.block?.index !== 0) return honest()
    b.asked++
    return never
  })
  const sent = countNodes(core)
  const r = await reader(t, w.key!)
  const link = connect(t, core, r)
  await r.update()
  const { zero, one } = await askInTurn(r, b, [5000, 5000])
  while (sent.blocks < 1) await new Promise((resolve) => setTimeout(resolve, 5))
  assert.equal(r.has(1), false)
  connect(t, w, r)
  link.a.destroy()
  link.b.destroy()
  assert.equal(await zero, 'got')
  assert.ok((await one)!.equals(data[1]))
})

test('answers waiting on a request the peer never answers count against its window', async (t) => {
  const data = blocks(2048, 64)
  const w = await writer(t, data)
  const b = { asked: 0 }
  const core = await copy(t, w, (req, honest) => {
    if (req.block?.index !== 0) return honest()
    b.asked++
    return never
  })
  const sent = countNodes(core)
  const r = await reader(t, w.key!, { requestTimeout: 0 }) // nothing times out
  connect(t, core, r)
  await r.update()
  r.get(0).catch(() => {}) // asked alone; every later proof hangs off its climb to the root
  while (b.asked < 1) await new Promise((resolve) => setTimeout(resolve, 5))
  // asked in waves, each wave a new chance to send more
  for (let start = 1; start < 2048; start += 128) {
    for (let i = start; i < start + 128 && i < 2048; i++) r.get(i).catch(() => {})
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  let last = -1
  while (sent.blocks !== last) { last = sent.blocks; await new Promise((resolve) => setTimeout(resolve, 200)) }
  const peer = r.replicator.peers[0]
  assert.ok(sent.blocks <= 512, `${sent.blocks} answers taken while the first link is missing`)
  assert.ok(peer.pending <= peer.window)
  assert.equal(r.has(1), false)
})
