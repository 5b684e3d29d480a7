// How an append reaches the disk: its data write may still be running (a
// large one goes to the thread pool, storage.ts) while the blocks are hashed
// and the tree nodes written; the state slot, which makes the append durable
// and acknowledged, is written only after both landed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import { HyperfsError, isHyperfsError } from '../../src/errors.js'
import { SpyStorage } from '../helpers/spy-storage.js'

const MAX_TURNS = 50 // turns of the event loop a test waits for something to happen

function blocks (n: number, seed: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.alloc(1000 + i, (seed * 7 + i) & 0xff))
}

function turn (): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

async function until (what: string, ok: () => boolean): Promise<void> {
  for (let i = 0; i < MAX_TURNS && !ok(); i++) await turn()
  assert.ok(ok(), `${what} did not happen`)
}

// Holds the data file's writes until release() is called.
function holdData (spy: SpyStorage): { release: () => void } {
  let release!: () => void
  const gate = new Promise<void>((resolve) => { release = resolve })
  spy.hold = (name) => name === 'data' ? gate : undefined
  return { release }
}

test('an append writes its tree nodes while its data write is in flight, and its state only after the data landed', async (t) => {
  const spy = new SpyStorage(new MemoryStorage())
  const core = new Hypercore(spy)
  t.after(() => core.close())
  await core.append(blocks(2, 0))
  spy.events.length = 0
  const { release } = holdData(spy)
  const list = blocks(4, 1)
  let acked = false
  const appended = core.append(list).then((r) => { acked = true; return r })
  await until('the tree write', () => spy.events.includes('tree wrote'))
  // the blocks were hashed into tree nodes while the data write was held
  assert.deepEqual(spy.events.filter((e) => e.startsWith('data') || e.startsWith('state')), ['data write 4006'])
  for (let i = 0; i < 5; i++) await turn()
  assert.ok(!spy.events.some((e) => e.startsWith('state')), 'no state before the data landed')
  assert.ok(!acked && core.length === 2)
  release()
  assert.deepEqual(await appended, { length: 6, byteLength: 2001 + 4006 })
  const at = (prefix: string): number => spy.events.findIndex((e) => e.startsWith(prefix))
  assert.ok(at('data wrote') > at('tree wrote') && at('state write') > at('data wrote'), spy.events.join(', '))
  for (let i = 0; i < 4; i++) assert.ok((await core.get(2 + i))!.equals(list[i]))
})

test('an append whose tree write fails waits for its data write to land before it fails, and the next append goes to the same place', async (t) => {
  const spy = new SpyStorage(new MemoryStorage())
  const core = new Hypercore(spy)
  t.after(() => core.close())
  await core.append(blocks(2, 0))
  const { release } = holdData(spy)
  const inner = spy.hold!
  spy.hold = (name, bytes) => {
    if (name === 'tree') throw HyperfsError.from('STORAGE_IO', 'tree: no space left')
    return inner(name, bytes)
  }
  let failed: unknown = null
  const appended = core.append(blocks(3, 1)).catch((err) => { failed = err })
  await until('the tree write', () => spy.events.some((e) => e.startsWith('tree write')))
  for (let i = 0; i < 5; i++) await turn()
  // with the data write still running, a failure now would let the next
  // append write where this one's bytes are still to land
  assert.equal(failed, null, 'the append failed while its data write was in flight')
  release()
  await appended
  assert.ok(isHyperfsError(failed, 'STORAGE_IO'), String(failed))
  assert.ok(spy.events.includes('data wrote'))
  assert.equal(core.length, 2)

  spy.hold = null
  const next = blocks(3, 2)
  await core.append(next)
  for (let i = 0; i < 3; i++) assert.ok((await core.get(2 + i))!.equals(next[i]))
  assert.deepEqual((await core.verify()).corrupt, [])
})
