import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../src/replication/peer.js'

function peer (): Peer {
  return new Peer({ core: {} } as any, {} as any)
}

test('the request window starts at 32 and grows with the round trip to a far peer', () => {
  const near = peer()
  assert.equal(near.window, 32)
  near.rtt = 20
  assert.equal(near.window, 32)
  const far = peer()
  far.rtt = 200 // four 50 ms steps: 16 × 4
  assert.equal(far.window, 64)
  far.rtt = 10_000
  assert.equal(far.window, 512, 'bounded')
})
