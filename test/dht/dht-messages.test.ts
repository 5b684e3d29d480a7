import { test } from 'node:test'
import assert from 'node:assert/strict'
import { encode, decode, DecodeError } from '../../src/codec/index.js'
import { requestMessage, responseMessage, decodeDhtPacket, type RequestMessage, type ResponseMessage } from '../../src/codec/dht-messages.js'
import { nodeId } from '../../src/dht/node-id.js'
import { randomBytes } from '../../src/crypto/index.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

test('an ephemeral PING to 88.99.3.86:49737 with tid 0x1234 encodes to the docs/wire.md vector', () => {
  const buf = encode(requestMessage, {
    tid: 0x1234, to: { host: '88.99.3.86', port: 49737 }, id: null, token: null,
    internal: true, command: 0, target: null, value: null
  })
  assert.equal(hex(buf), '0304341258630356' + '49c200')
})

test('the node id of 88.99.3.86:49737 is the hash of its 6 address bytes', () => {
  assert.equal(hex(nodeId('88.99.3.86', 49737)), '54d4b9c6441048061f80cf69564cee46a5730adfcd59fbe6c056bb49af771546')
})

test('a request with every optional field round-trips and sets flags 1|2|4|8|16', () => {
  const m: RequestMessage = {
    tid: 65535, to: { host: '127.0.0.1', port: 1 }, id: randomBytes(32), token: randomBytes(32),
    internal: true, command: 300, target: randomBytes(32), value: Buffer.from('hello')
  }
  const buf = encode(requestMessage, m)
  assert.equal(buf[0], 0x03)
  assert.equal(buf[1], 31)
  const p = decodeDhtPacket(buf)
  assert.equal(p.type, 'request')
  assert.deepEqual(p.message, m)
})

test('a response with closer nodes, error and value round-trips; empty closer lists are omitted', () => {
  const m: ResponseMessage = {
    tid: 7, to: { host: '10.0.0.2', port: 4000 }, id: null, token: randomBytes(32),
    closerNodes: [{ host: '1.2.3.4', port: 5 }, { host: '255.255.255.255', port: 65535 }],
    error: 2, value: Buffer.alloc(0)
  }
  const buf = encode(responseMessage, m)
  assert.equal(buf[0], 0x13)
  assert.equal(buf[1], 2 | 4 | 8 | 16)
  const p = decodeDhtPacket(buf)
  assert.equal(p.type, 'response')
  assert.deepEqual(p.message, m)

  const bare = encode(responseMessage, { ...m, token: null, closerNodes: [], error: 0, value: null })
  assert.equal(bare[1], 0)
  assert.equal(bare.byteLength, 10)
  assert.deepEqual(decodeDhtPacket(bare).message, { ...m, token: null, closerNodes: null, error: 0, value: null })
})

test('a response encodes byte-for-byte as laid out in docs/wire.md §7.1', () => {
  const buf = encode(responseMessage, {
    tid: 0x0102, to: { host: '1.2.3.4', port: 0x0506 }, id: null, token: null,
    closerNodes: [{ host: '9.9.9.9', port: 0x0a0b }], error: 1, value: null
  })
  assert.equal(hex(buf), '13' + '0c' + '0201' + '01020304' + '0605' + '01' + '09090909' + '0b0a' + '01')
})

test('trailing bytes after a valid packet are tolerated, as the real decoder does', () => {
  const buf = Buffer.concat([Buffer.from('0304341258630356' + '49c200', 'hex'), Buffer.from([1, 2, 3])])
  const p = decodeDhtPacket(buf)
  assert.equal(p.type, 'request')
  assert.equal(p.message.tid, 0x1234)
})

test('every truncation of valid packets throws DecodeError and nothing else', () => {
  const packets = [
    encode(requestMessage, { tid: 1, to: { host: '1.1.1.1', port: 1 }, id: randomBytes(32), token: randomBytes(32), internal: false, command: 1000, target: randomBytes(32), value: randomBytes(40) }),
    encode(responseMessage, { tid: 1, to: { host: '1.1.1.1', port: 1 }, id: randomBytes(32), token: randomBytes(32), closerNodes: [{ host: '2.2.2.2', port: 2 }], error: 300, value: randomBytes(40) })
  ]
  for (const p of packets) {
    for (let n = 0; n < p.byteLength; n++) {
      assert.throws(() => decodeDhtPacket(p.subarray(0, n)), (e: unknown) => e instanceof DecodeError && e.code === 'DECODE_ERROR', `length ${n}`)
    }
  }
})

test('random and bit-flipped datagrams either decode or throw DecodeError, never anything else', () => {
  const base = encode(responseMessage, { tid: 9, to: { host: '1.1.1.1', port: 1 }, id: null, token: randomBytes(32), closerNodes: [{ host: '2.2.2.2', port: 2 }, { host: '3.3.3.3', port: 3 }], error: 0, value: randomBytes(10) })
  let decoded = 0
  let rejected = 0
  for (let i = 0; i < 5000; i++) {
    let buf: Buffer
    if (i % 2 === 0) {
      buf = randomBytes(1 + (i % 200))
      buf[0] = [0x03, 0x13, buf[0]][i % 3]
    } else {
      buf = Buffer.from(base)
      const flips = 1 + (i % 4)
      for (let f = 0; f < flips; f++) buf[Math.floor(Math.random() * buf.byteLength)] ^= 1 << (i % 8)
    }
    try {
      decodeDhtPacket(buf)
      decoded++
    } catch (err) {
      assert.ok(err instanceof DecodeError, String(err))
      rejected++
    }
  }
  assert.ok(decoded > 0 && rejected > 0)
})

test('a packet with an unknown header byte is rejected', () => {
  assert.throws(() => decodeDhtPacket(Buffer.from('23040000000000000000', 'hex')), DecodeError)
  assert.throws(() => decodeDhtPacket(Buffer.from('02040000000000000000', 'hex')), DecodeError)
})

test('a response that flags an empty closer-node list decodes to a value that re-encodes to itself', () => {
  // header 0x13 (response, version 3) ‖ flags 4 (closerNodes) ‖ tid 0x1234 ‖ to 127.0.0.1:80 ‖ an empty list
  const bytes = Buffer.from('13' + '04' + '3412' + '7f000001' + '5000' + '00', 'hex')
  const m = decode(responseMessage, bytes)
  assert.deepEqual(decode(responseMessage, encode(responseMessage, m)), m)
})
