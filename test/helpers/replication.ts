import type { TestContext } from 'node:test'
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage } from '../../src/core/storage.js'
import type { Proof } from '../../src/core/merkle-tree.js'

// Connects two cores over an in-memory pipe, both ways; torn down with the test.
export function connect (t: TestContext, a: Hypercore, b: Hypercore, aIsInitiator = true): { a: any, b: any } {
  const s1 = a.replicate(aIsInitiator)
  const s2 = b.replicate(!aIsInitiator)
  s1.pipe(s2).pipe(s1)
  t.after(() => { s1.destroy(); s2.destroy() })
  return { a: s1, b: s2 }
}

export async function writer (t: TestContext, blocks: Array<Buffer | string>): Promise<Hypercore> {
  const core = new Hypercore(new MemoryStorage())
  if (blocks.length) await core.append(blocks)
  else await core.ready()
  t.after(() => core.close())
  return core
}

export async function reader (t: TestContext, key: Buffer, opts = {}): Promise<Hypercore> {
  const core = new Hypercore(new MemoryStorage(), key, opts)
  await core.ready()
  t.after(() => core.close())
  return core
}

export function blocks (n: number, size = 32): Buffer[] {
  return Array.from({ length: n }, (_, i) => {
    const b = Buffer.alloc(size, i & 0xff)
    b.write('block ' + i)
    return b
  })
}

export function waitFor (emitter: { once: (e: string, f: (...a: any[]) => void) => void }, event: string): Promise<any[]> {
  return new Promise((resolve) => emitter.once(event, (...args: any[]) => resolve(args)))
}

// A full copy of `w` that lies: every block it serves has its first byte flipped.
export async function liar (t: TestContext, w: Hypercore): Promise<Hypercore> {
  const evil = await reader(t, w.key!)
  connect(t, w, evil)
  await evil.update()
  await evil.download({ start: 0, end: w.length })
  const honest = evil.proof.bind(evil)
  evil.proof = async (req) => {
    const p: Proof = await honest(req)
    if (p.block?.value) { p.block.value = Buffer.from(p.block.value); p.block.value[0] ^= 1 }
    return p
  }
  return evil
}
