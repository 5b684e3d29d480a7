// core.get() for a block that may be remote, asked again when one attempt goes
// unanswered. A request can be lost below us without anyone noticing (today:
// the replicator cancels an answered request by its id after the id was
// reused for the next request, and the new one is dropped silently), and
// the block would then wait for the whole timeout.
//
// So each remote block has one shared fetch per core here, whoever asks for
// it: the core sees one waiter, which gives up after an attempt window
// (ATTEMPT_MS, doubling) so that the core forgets the lost request and the
// next attempt asks afresh. Each caller still waits no longer than its own
// timeout and stops on its own signal; the fetch stops once nobody waits.
// A block already local costs one has() check more than core.get().
import type { Hypercore, GetOptions } from '../core/hypercore.js'
import { HyperfsError } from '../errors.js'

const ATTEMPT_MS = 500

interface SharedFetch {
  promise: Promise<Buffer>
  waiters: number
}

const fetches = new WeakMap<Hypercore, Map<number, SharedFetch>>()

export async function patientGet (core: Hypercore, index: number, opts: GetOptions = {}): Promise<Buffer | null> {
  if (opts.wait === false || core.has(index)) return core.get(index, opts)
  let byIndex = fetches.get(core)
  if (!byIndex) { byIndex = new Map(); fetches.set(core, byIndex) }
  let f = byIndex.get(index)
  if (!f) {
    const shared: SharedFetch = { promise: null as unknown as Promise<Buffer>, waiters: 0 }
    shared.promise = attempts(core, index, shared).finally(() => byIndex.delete(index))
    shared.promise.catch(() => {})
    byIndex.set(index, shared)
    f = shared
  }
  f.waiters++
  try {
    return await bounded(f.promise, index, opts)
  } finally {
    f.waiters--
  }
}

async function attempts (core: Hypercore, index: number, f: SharedFetch): Promise<Buffer> {
  for (let attempt = ATTEMPT_MS; ; attempt = Math.min(attempt * 2, 8000)) {
    // yield once so that the first caller is counted before we look
    await Promise.resolve()
    if (f.waiters === 0) throw HyperfsError.REQUEST_CANCELLED(`nobody waits for block ${index} any more`)
    try {
      return (await core.get(index, { timeout: attempt }))!
    } catch (err) {
      if ((err as { code?: string }).code !== 'REQUEST_TIMEOUT') throw err
    }
  }
}

function bounded (p: Promise<Buffer>, index: number, opts: GetOptions): Promise<Buffer> {
  const { timeout, signal } = opts
  if (!signal && !(timeout && timeout > 0)) return p
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null
    const onabort = (): void => finish(() => reject(HyperfsError.REQUEST_CANCELLED(`get(${index}) was aborted`)))
    const finish = (fn: () => void): void => {
      if (timer) clearTimeout(timer)
      signal?.removeEventListener('abort', onabort)
      fn()
    }
    if (signal?.aborted) return onabort()
    signal?.addEventListener('abort', onabort, { once: true })
    if (timeout && timeout > 0) {
      timer = setTimeout(() => finish(() => reject(HyperfsError.REQUEST_TIMEOUT(`block ${index} did not arrive within ${timeout} ms`))), timeout)
    }
    p.then((b) => finish(() => resolve(b)), (err) => finish(() => reject(err)))
  })
}
