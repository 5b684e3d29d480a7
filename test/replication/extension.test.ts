// Replication extensions (message 9) between two of our cores: registerExtension,
// send to one peer, broadcast, the empty name that repeats the last one, and
// messages that are dropped (a name nobody registered, bytes that do not decode).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, writer, reader, waitFor } from '../helpers/replication.js'
import { string, uint, raw } from '../../src/codec/primitives.js'

const MAX_WAIT_MS = 5000

// Resolves with the next `n` messages an extension hears.
function inbox<T> () {
  const got: Array<{ m: T, peer: unknown }> = []
  let wake: (() => void) | null = null
  return {
    onmessage: (m: T, peer: unknown) => { got.push({ m, peer }); wake?.() },
    got,
    async next (n: number): Promise<Array<{ m: T, peer: unknown }>> {
      const end = Date.now() + MAX_WAIT_MS
      while (got.length < n && Date.now() < end) await new Promise<void>((resolve) => { wake = resolve; setTimeout(resolve, 50) })
      return got.slice(0, n)
    }
  }
}

test('extension messages reach the peer under their name, each with its encoding, and a reply goes back to the peer that asked', async (t) => {
  const a = await writer(t, ['x'])
  const b = await reader(t, a.key!)
  const aText = inbox<string>()
  const aNums = inbox<number>()
  const bText = inbox<string>()
  const bNums = inbox<number>()
  const bRaw = inbox<Buffer>()
  const extA = a.registerExtension('text', { encoding: string, onmessage: aText.onmessage })
  const numsA = a.registerExtension('nums', { encoding: uint, onmessage: aNums.onmessage })
  b.registerExtension('text', { encoding: string, onmessage: bText.onmessage })
  const numsB = b.registerExtension('nums', { encoding: uint, onmessage: bNums.onmessage })
  b.registerExtension('raw', { onmessage: bRaw.onmessage })
  const added = waitFor(a.replicator, 'peer-add')
  connect(t, a, b)
  await added
  // the same name twice in a row (the second goes with an empty name), then another, then the first again
  extA.broadcast('hello')
  extA.broadcast('again')
  numsA.broadcast(300)
  extA.broadcast('third')
  a.registerExtension('raw').broadcast(Buffer.from('bytes'))
  assert.deepEqual((await bText.next(3)).map((x) => x.m), ['hello', 'again', 'third'])
  assert.deepEqual((await bNums.next(1)).map((x) => x.m), [300])
  assert.deepEqual((await bRaw.next(1)).map((x) => x.m.toString()), ['bytes'])
  // a reply to the peer a message came from
  numsB.send(7, bNums.got[0].peer as any)
  assert.deepEqual((await aNums.next(1)).map((x) => x.m), [7])
  assert.equal(aText.got.length, 0)
})

test('a message for a name nobody registered, one that does not decode, or one for a destroyed extension is dropped, and the connection stays', async (t) => {
  const a = await writer(t, ['x', 'y'])
  const b = await reader(t, a.key!)
  const heard = inbox<number>()
  const done = inbox<string>()
  const numsB = b.registerExtension('nums', { encoding: uint, onmessage: heard.onmessage })
  b.registerExtension('done', { encoding: string, onmessage: done.onmessage })
  const added = waitFor(a.replicator, 'peer-add')
  connect(t, a, b)
  await added
  a.registerExtension('unknown').broadcast(Buffer.from('nobody listens'))
  // 0xfd announces a 2-byte varint that is not there
  a.registerExtension('nums', { encoding: raw }).broadcast(Buffer.from([0xfd]))
  const nums = a.registerExtension('nums', { encoding: uint }) // the same name again: new handlers, same extension
  nums.broadcast(42)
  a.registerExtension('done', { encoding: string }).broadcast('first')
  assert.deepEqual((await done.next(1)).map((x) => x.m), ['first'])
  assert.deepEqual(heard.got.map((x) => x.m), [42])
  numsB.destroy()
  nums.broadcast(43)
  a.registerExtension('done', { encoding: string }).broadcast('second')
  assert.deepEqual((await done.next(2)).map((x) => x.m), ['first', 'second'])
  assert.deepEqual(heard.got.map((x) => x.m), [42], 'a destroyed extension hears nothing')
  assert.equal((await b.get(1, { timeout: MAX_WAIT_MS }))!.toString(), 'y', 'replication goes on')
})
