// A peer that lies gets dropped with a coded error, nothing it sent is stored,
// and the reader gets the block from an honest peer instead.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { protocolStream } from '../../src/net/protocol-stream.js'
import { handshake as handshakeCodec, raw, encode, requestMessage, rangeMessage, bitfieldMessage, HYPERCORE_PROTOCOL } from '../../src/codec/index.js'
import { replicationCapability, randomBytes } from '../../src/crypto/index.js'
import type { Proof } from '../../src/core/merkle-tree.js'
import { connect, writer, reader, blocks, waitFor } from '../helpers/replication.js'

// A full copy of `source` whose answers are bent by `tamper`.
async function liar (t: any, source: Hypercore, tamper: (p: Proof) => void): Promise<Hypercore> {
  const evil = await reader(t, source.key!)
  connect(t, source, evil)
  await evil.update()
  await evil.download({ start: 0, end: source.length })
  const honest = evil.proof.bind(evil)
  evil.proof = async (req) => { const p = await honest(req); tamper(p); return p }
  return evil
}

test('a peer sending a block that does not match its proof is dropped, and another peer serves it', async (t) => {
  const data = blocks(64)
  const w = await writer(t, data)
  const evil = await liar(t, w, (p) => { if (p.block?.value) { p.block.value = Buffer.from(p.block.value); p.block.value[0] ^= 1 } })
  const r = await reader(t, w.key!)
  const errored = waitFor(r.replicator, 'peer-error')
  const dropped = waitFor(r.replicator, 'peer-remove')
  connect(t, evil, r)
  await r.update() // the liar tells the truth about the tree
  const got = r.get(10, { timeout: 5000 })
  const [err] = await errored
  assert.equal(err.code, 'INVALID_PROOF')
  await dropped
  assert.equal(r.has(10), false)
  connect(t, w, r)
  assert.ok((await got)!.equals(data[10]))
  assert.equal(r.peers, 1)
})

test('a peer sending a bad upgrade signature is dropped and nothing is stored', async (t) => {
  const w = await writer(t, blocks(20))
  const evil = await liar(t, w, (p) => { if (p.upgrade?.signature) { p.upgrade.signature = Buffer.from(p.upgrade.signature); p.upgrade.signature[5] ^= 1 } })
  const r = await reader(t, w.key!)
  const errored = waitFor(r.replicator, 'peer-error')
  const dropped = waitFor(r.replicator, 'peer-remove')
  connect(t, evil, r)
  const [err] = await errored
  assert.equal(err.code, 'INVALID_SIGNATURE')
  await dropped
  assert.equal(r.length, 0)
  assert.equal(r.peers, 0)
})

test('a peer that sends a foreign manifest is dropped', async (t) => {
  const w = await writer(t, blocks(4))
  const other = await writer(t, blocks(1))
  const evil = await liar(t, w, (p) => { if (p.manifest) p.manifest = other.manifest })
  const r = await reader(t, w.key!)
  const errored = waitFor(r.replicator, 'peer-error')
  connect(t, evil, r)
  const [err] = await errored
  assert.equal(err.code, 'INVALID_MANIFEST')
  assert.equal(r.length, 0)
})

// A hand-made peer speaking hypercore/alpha through our mux, to send what no
// honest implementation would.
async function rawPeer (t: any, target: Hypercore, capability: (hash: Buffer, isInitiator: boolean) => Buffer) {
  const ours = protocolStream(true)
  const theirs = target.replicate(false)
  ours.outer.pipe(theirs).pipe(ours.outer)
  t.after(() => { ours.outer.destroy(); theirs.destroy() })
  await ours.secret.opened
  const received: number[] = []
  const ch = ours.mux.createChannel({
    protocol: HYPERCORE_PROTOCOL,
    id: target.discoveryKey!,
    handshake: handshakeCodec,
    messages: Array.from({ length: 10 }, (_, type) => ({ encoding: raw, onmessage: () => { received.push(type) } }))
  })!
  ch.open({ seeks: true, capability: capability(ours.secret.handshakeHash!, true) })
  // the target hangs up on us: its end of the pipe closes
  const closed = new Promise<void>((resolve) => theirs.once('close', () => { ours.outer.destroy(); resolve() }))
  return { ch, received, closed, secret: ours.secret }
}

test('a peer that knows only the discovery key gets nothing and is disconnected', async (t) => {
  const w = await writer(t, blocks(8))
  const errored = waitFor(w.replicator, 'peer-error')
  const peer = await rawPeer(t, w, () => randomBytes(32))
  peer.ch.messages[1].send(Buffer.from([0x08, 0x01, 0x00, 0x00, 0x08])) // an upgrade request
  const [err] = await errored
  assert.equal(err.code, 'INVALID_CAPABILITY')
  await peer.closed
  assert.deepEqual(peer.received, [], 'the writer sent nothing on the channel')
  assert.equal(w.peers, 0)
})

test('malformed message bytes end the connection with a coded error', async (t) => {
  const w = await writer(t, blocks(8))
  const peer = await rawPeer(t, w, (hash, isInitiator) => replicationCapability(isInitiator, w.key!, hash))
  await waitFor(w.replicator, 'peer-add')
  const stream = w.replicator.peers[0].mux.stream as any
  const destroyed = new Promise<any>((resolve) => stream.once('close', () => resolve(stream.errored)))
  peer.ch.messages[1].send(Buffer.from([0xff, 0xff, 0xff])) // a request that cannot decode
  await peer.closed
  assert.equal((await destroyed)?.code, 'DECODE_ERROR')
  assert.equal(w.peers, 0)
})

// Resolves when the hand-made peer receives a message of `type`; fails after 5 s.
function receives (t: any, peer: { received: number[] }, type: number, what: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const check = setInterval(() => { if (peer.received.includes(type)) { clearInterval(check); resolve() } }, 5)
    const limit = setTimeout(() => { clearInterval(check); reject(new Error(`no ${what} within 5 s`)) }, 5000)
    t.after(() => { clearInterval(check); clearTimeout(limit) })
  })
}

function blockRequest (id: number, index: number, nodes: number): Buffer {
  return encode(requestMessage, { id, fork: 0, block: { index, nodes }, hash: null, seek: null, upgrade: null, manifest: false, priority: 0 })
}

test('a request for an impossible proof is answered with noData and the connection stays up', async (t) => {
  const w = await writer(t, blocks(4))
  const peer = await rawPeer(t, w, (hash, isInitiator) => replicationCapability(isInitiator, w.key!, hash))
  await waitFor(w.replicator, 'peer-add')
  const answered = receives(t, peer, 4, 'noData')
  peer.ch.messages[1].send(blockRequest(7, 2, 200)) // far more nodes than the tree has
  await answered
  assert.equal(w.peers, 1)
  assert.equal(peer.secret.destroyed, false)
})

test('absurd range and bitfield claims cost bounded memory and the peer still gets answers', async (t) => {
  const w = await writer(t, blocks(4))
  const peer = await rawPeer(t, w, (hash, isInitiator) => replicationCapability(isInitiator, w.key!, hash))
  await waitFor(w.replicator, 'peer-add')
  peer.ch.messages[8].send(encode(rangeMessage, { drop: false, start: 1, length: 2 ** 50 }))
  peer.ch.messages[7].send(encode(bitfieldMessage, { start: 2 ** 48, bitfield: new Uint32Array(4).fill(0xffffffff) }))
  // the writer still answers: a request for block 2 gets data (type 3)
  const answered = receives(t, peer, 3, 'data')
  peer.ch.messages[1].send(blockRequest(1, 2, 0))
  await answered
  assert.equal(w.peers, 1)
})
