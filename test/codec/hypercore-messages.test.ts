import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  handshake, syncMessage, requestMessage, cancelMessage, dataMessage, noDataMessage,
  wantMessage, unwantMessage, bitfieldMessage, rangeMessage, extensionMessage,
  hypercoreMessages, MESSAGE_TYPE, NO_DATA_REASON, uint, encode, decode, state, DecodeError,
  type Codec, type Sync, type Request, type Data
} from '../../src/codec/index.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')
const h = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex')

function roundTrip<T> (codec: Codec<T>, value: T, bytes: string): void {
  assert.equal(hex(encode(codec, value)), bytes.replace(/\s+/g, ''))
  assert.deepEqual(decode(codec, h(bytes)), value)
}

const sync0: Sync = { fork: 0, length: 0, remoteLength: 0, canUpgrade: false, uploading: false, downloading: false, hasManifest: false, allowPush: false }
const request0: Request = { id: 0, fork: 0, block: null, hash: null, seek: null, upgrade: null, manifest: false, priority: 0 }
const data0: Data = { request: 0, fork: 0, block: null, hash: null, seek: null, upgrade: null, manifest: null }

test('the message table lists the ten codecs in wire type order', () => {
  assert.deepEqual(hypercoreMessages, [
    syncMessage, requestMessage, cancelMessage, dataMessage, noDataMessage,
    wantMessage, unwantMessage, bitfieldMessage, rangeMessage, extensionMessage
  ])
  assert.equal(hypercoreMessages[MESSAGE_TYPE.DATA], dataMessage)
  assert.equal(hypercoreMessages[MESSAGE_TYPE.EXTENSION], extensionMessage)
})

test('the channel handshake is a seeks flag and the 32-byte capability', () => {
  const cap = Buffer.alloc(32, 0x5a)
  roundTrip(handshake, { seeks: true, capability: cap }, '01' + hex(cap))
  roundTrip(handshake, { seeks: false, capability: cap }, '00' + hex(cap))
  assert.throws(() => decode(handshake, h('01' + '00'.repeat(31))), DecodeError)
})

test('the decoded capability does not alias the frame it came from', () => {
  const frame = h('01' + '11'.repeat(32))
  const { capability } = decode(handshake, frame)
  frame.fill(0)
  assert.equal(hex(capability), '11'.repeat(32))
})

test('the writer batch of the fact sheet holds sync {length 2, flags 0x0f} and range {0, 2}', () => {
  // 00 00 batch, 01 channel, then `uint len ‖ uint type ‖ payload` entries
  const batch = h('00 00 01 05 00 0f 00 02 00 04 08 00 00 02')
  const s = state(batch, 3)
  const got: unknown[] = []
  while (s.start < s.end) {
    const len = uint.decode(s)
    const entry = state(batch, s.start, s.start + len)
    s.start += len
    const type = uint.decode(entry)
    got.push([type, decode(hypercoreMessages[type] as Codec<unknown>, entry.buffer.subarray(entry.start, entry.end))])
  }
  assert.deepEqual(got, [
    [0, { ...sync0, length: 2, canUpgrade: true, uploading: true, downloading: true, hasManifest: true }],
    [8, { drop: false, start: 0, length: 2 }]
  ])
})

test('sync writes its five flags, then fork, length and remote length', () => {
  roundTrip(syncMessage, { ...sync0, uploading: true, downloading: true, canUpgrade: true }, '07 00 00 00')
  roundTrip(syncMessage, { ...sync0, allowPush: true, fork: 1, length: 10, remoteLength: 9 }, '10 01 0a 09')
})

test('uint fields use the shortest varint at every boundary', () => {
  const cases: Array<[number, string]> = [
    [252, 'fc'],
    [253, 'fdfd00'],
    [65535, 'fdffff'],
    [65536, 'fe00000100'],
    [2 ** 32 - 1, 'feffffffff'],
    [2 ** 32, 'ff0000000001000000'],
    [2 ** 53 - 1, 'ffffffffffffff1f00']
  ]
  for (const [n, bytes] of cases) {
    roundTrip(syncMessage, { ...sync0, fork: n, length: n, remoteLength: n }, '00' + bytes.repeat(3))
  }
})

test('over-long varints decode leniently to the same value', () => {
  assert.deepEqual(decode(cancelMessage, h('fe07000000')), { request: 7 })
  assert.deepEqual(decode(cancelMessage, h('ff0700000000000000')), { request: 7 })
})

test('a uint above 2^53-1 is a decode error', () => {
  assert.throws(() => decode(cancelMessage, h('ff0000000000002000')), DecodeError)
})

test('the fact-sheet block request frame asks for block 1 with one node at priority 1', () => {
  // channel 1, type 1 (request), then the payload
  const frame = h('01 01 21 01 00 01 01 01')
  assert.equal(frame[1], MESSAGE_TYPE.REQUEST)
  const req: Request = { ...request0, id: 1, block: { index: 1, nodes: 1 }, priority: 1 }
  assert.deepEqual(decode(requestMessage, frame.subarray(2)), req)
  assert.equal(hex(encode(requestMessage, req)), '210100010101')
})

test('a request writes its parts in flag order: block, hash, seek, upgrade, priority', () => {
  const req: Request = {
    id: 3,
    fork: 2,
    block: { index: 5, nodes: 2 },
    hash: { index: 9, nodes: 0 },
    seek: { bytes: 1000, padding: 4 },
    upgrade: { start: 0, length: 10 },
    manifest: true,
    priority: 2
  }
  roundTrip(requestMessage, req, '3f 03 02  05 02  09 00  fde803 04  00 0a  02')
  roundTrip(requestMessage, { ...request0, id: 1, manifest: true, upgrade: { start: 0, length: 2 } }, '18 01 00 00 02')
})

test('a zero priority sets no flag and writes nothing', () => {
  roundTrip(requestMessage, { ...request0, id: 1 }, '00 01 00')
})

test('a data reply to a 5-byte block with one sibling is 45 bytes, 47 with channel and type', () => {
  const sibling = { index: 0, size: 5, hash: Buffer.alloc(32, 0xcc) }
  const d: Data = { ...data0, request: 1, block: { index: 1, value: Buffer.from('hello'), nodes: [sibling] } }
  const bytes = encode(dataMessage, d)
  assert.equal(bytes.length, 45)
  assert.equal(hex(bytes), '0101000105' + hex(Buffer.from('hello')) + '010005' + 'cc'.repeat(32))
  assert.deepEqual(decode(dataMessage, bytes), d)
})

test('a data upgrade carries nodes, additional nodes and the signature blob', () => {
  const n = (index: number) => ({ index, size: index * 10, hash: Buffer.alloc(32, index) })
  const sig = Buffer.alloc(68, 0xee)
  const d: Data = {
    ...data0,
    request: 2,
    fork: 1,
    hash: { index: 3, nodes: [n(3)] },
    seek: { bytes: 300, nodes: [] },
    upgrade: { start: 0, length: 4, nodes: [n(3)], additionalNodes: [n(9), n(12)], signature: sig }
  }
  // uint index ‖ uint size ‖ hash; every value here fits one varint byte
  const node = (i: number) => hex(Buffer.from([i, i * 10])) + hex(n(i).hash)
  const expected = '0e 02 01' +
    '03 01' + node(3) +
    'fd2c01 00' +
    '00 04 01' + node(3) + '02' + node(9) + node(12) + '44' + hex(sig)
  roundTrip(dataMessage, d, expected)
})

test('an empty upgrade signature is written as 00 and so decodes as null', () => {
  const u = { start: 0, length: 1, nodes: [], additionalNodes: [], signature: Buffer.alloc(0) }
  const bytes = encode(dataMessage, { ...data0, upgrade: u })
  assert.equal(hex(bytes), '08000000010000' + '00')
  assert.equal(decode(dataMessage, bytes).upgrade?.signature, null)
})

test('a data message can carry the manifest alone', () => {
  const ns = Buffer.alloc(32, 1)
  const pk = Buffer.alloc(32, 2)
  const m = { version: 1, hash: 'blake2b' as const, allowPatch: false, quorum: 1, signers: [{ signature: 'ed25519' as const, namespace: ns, publicKey: pk }], prologue: null, linked: null, userData: null }
  roundTrip(dataMessage, { ...data0, request: 4, manifest: m }, '10 04 00' + '010000010100' + hex(ns) + hex(pk))
})

test('cancel is the request id alone', () => {
  roundTrip(cancelMessage, { request: 300 }, 'fd2c01')
})

test('noData always writes its flags, and a frame without them means no reason', () => {
  roundTrip(noDataMessage, { request: 5, reason: NO_DATA_REASON.NOT_AVAILABLE }, '05 01 01')
  roundTrip(noDataMessage, { request: 5, reason: 0 }, '05 00')
  assert.deepEqual(decode(noDataMessage, h('05')), { request: 5, reason: 0 })
  assert.throws(() => decode(noDataMessage, h('05 01')), DecodeError)
})

test('want flags are written only when non-zero and read only if bytes remain', () => {
  // a compat 2^21-block batch
  roundTrip(wantMessage, { start: 2 ** 21, length: 2 ** 21, any: false }, 'fe00002000 fe00002000')
  roundTrip(wantMessage, { start: 0, length: 4096, any: true }, '00 fd0010 01')
  roundTrip(unwantMessage, { start: 0, length: 4096, any: true }, '00 fd0010 01')
  assert.deepEqual(decode(wantMessage, h('00 01 00')), { start: 0, length: 1, any: false })
  assert.throws(() => decode(wantMessage, h('00')), DecodeError)
})

test('bitfield is a start and little-endian 32-bit words', () => {
  roundTrip(bitfieldMessage, { start: 32, bitfield: Uint32Array.from([1, 0x80000000]) }, '20 02 01000000 00000080')
  roundTrip(bitfieldMessage, { start: 0, bitfield: new Uint32Array(0) }, '00 00')
  assert.throws(() => decode(bitfieldMessage, h('00 02 01000000 000000')), DecodeError)
})

test('a bitfield decoded at an odd offset is still read word by word', () => {
  const frame = h('aa 20 01 04030201')
  const { bitfield } = decode(bitfieldMessage, frame.subarray(1))
  assert.deepEqual(Array.from(bitfield), [0x01020304])
})

test('range omits the length when it is 1 and flags drop separately', () => {
  roundTrip(rangeMessage, { drop: false, start: 0, length: 2 }, '00 00 02')
  roundTrip(rangeMessage, { drop: true, start: 5, length: 1 }, '03 05')
  roundTrip(rangeMessage, { drop: true, start: 7, length: 0 }, '01 07 00')
})

test('extension is a name and the rest of the frame', () => {
  roundTrip(extensionMessage, { name: 'x', message: Buffer.from('hi') }, '01 78 6869')
  roundTrip(extensionMessage, { name: '', message: Buffer.alloc(0) }, '00')
  roundTrip(extensionMessage, { name: 'é', message: Buffer.from([0]) }, '02 c3a9 00')
})

test('message decoders leave trailing bytes to the caller, as protomux does', () => {
  assert.throws(() => decode(cancelMessage, h('01 02')), /trailing/)
  assert.deepEqual(decode(cancelMessage, h('01 02'), true), { request: 1 })
})
