// Replication extensions (message 9) between our core and a real hypercore@11:
// the wire framing (name ‖ raw, an empty name for a repeat, the default
// `buffer` encoding inside the raw part) must match both ways.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { string } from '../../src/codec/primitives.js'
import { tmpDir } from '../helpers/tmp.js'
import { oracle } from '../helpers/oracle.js'

const RealHypercore = oracle('hypercore')
const c = oracle('compact-encoding')
const MAX_WAIT_MS = 5000

async function until (f: () => boolean): Promise<boolean> {
  const end = Date.now() + MAX_WAIT_MS
  while (!f() && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 10))
  return f()
}

for (const ourRole of [true, false]) {
  test(`extension messages pass both ways between our core and a real one, names repeated and interleaved (ours initiator: ${ourRole})`, async (t) => {
    const ours = new Hypercore(new MemoryStorage())
    await ours.append(['block'])
    t.after(() => ours.close())
    const real = new RealHypercore(tmpDir(t), ours.key)
    await real.ready()
    t.after(() => real.close())

    const ourBytes: string[] = []
    const ourText: string[] = []
    const realBytes: string[] = []
    const realText: string[] = []
    let realPeer: unknown = null
    const ourRaw = ours.registerExtension('bytes', { onmessage: (m) => ourBytes.push(m.toString()) })
    const ourStr = ours.registerExtension('text', { encoding: string, onmessage: (m, peer) => { ourText.push(m); if (m === 'ping') ourStr.send('pong', peer) } })
    const theirRaw = real.registerExtension('bytes', { onmessage: (m: Buffer, peer: unknown) => { realBytes.push(m.toString()); realPeer = peer } })
    const theirStr = real.registerExtension('text', { encoding: c.string, onmessage: (m: string) => realText.push(m) })

    const a = ours.replicate(ourRole)
    const b = real.replicate(!ourRole)
    a.pipe(b).pipe(a)
    t.after(() => { a.destroy(); b.destroy() })
    assert.ok((await real.get(0)).equals(Buffer.from('block')))
    assert.ok(await until(() => ours.peers === 1))

    ourRaw.broadcast(Buffer.from('one'))
    ourRaw.broadcast(Buffer.from('two'))
    ourStr.broadcast('three')
    ourRaw.broadcast(Buffer.from('four'))
    assert.ok(await until(() => realBytes.length === 3 && realText.length === 1), `the real core heard ${realBytes} / ${realText}`)
    assert.deepEqual(realBytes, ['one', 'two', 'four'])
    assert.deepEqual(realText, ['three'])

    theirRaw.send(Buffer.from('back'), realPeer)
    theirRaw.broadcast(Buffer.from('again'))
    theirStr.broadcast('ping')
    theirRaw.broadcast(Buffer.from('last'))
    assert.ok(await until(() => ourBytes.length === 3 && realText.length === 2), `we heard ${ourBytes} / ${ourText}`)
    assert.deepEqual(ourBytes, ['back', 'again', 'last'])
    assert.deepEqual(ourText, ['ping'])
    assert.deepEqual(realText, ['three', 'pong'], 'our reply to the real peer that asked')
  })
}
