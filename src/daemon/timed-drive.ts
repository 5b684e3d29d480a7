// A request's --timeout, applied to the drive it works on. A drive waits for
// a block that is not held here as long as the daemon was told at start-up
// (the store's timeout); a command may ask for less or more, and that wait
// travels with its request. So each lookup the request makes (a stat, one
// step of a listing or of the history) is bounded by the request's wait, and
// reads get it as their own timeout. The drive is otherwise untouched: the
// same object, seen through a Proxy, so `instanceof` and getters still work.
// A lookup given up on here goes on in the background until the store's own
// timeout, which is harmless: nothing waits for it.
import type { Drive } from '../drive/types.js'
import { HyperfsError, safetyCatch } from '../errors.js'

const LOOKUPS = new Set<PropertyKey>(['stat', 'lstat', 'readlink', 'info', 'getxattr', 'listxattr'])
const LISTINGS = new Set<PropertyKey>(['readdir', 'history', 'diff'])

export function timedDrive<T extends Drive> (drive: T, ms: number): T {
  return new Proxy(drive, {
    get (target, prop) {
      const value = Reflect.get(target, prop, target)
      if (typeof value !== 'function') return value
      const fn = value as (...args: unknown[]) => any
      if (LOOKUPS.has(prop)) {
        return (...args: unknown[]) => bounded(fn.apply(target, args), ms, `${String(prop)} ${String(args[0] ?? '')}`)
      }
      if (LISTINGS.has(prop)) {
        return (...args: unknown[]) => boundedSteps(fn.apply(target, args), ms, `${String(prop)} ${String(args[0] ?? '')}`)
      }
      if (prop === 'read') {
        return (path: string, opts: Record<string, unknown> = {}) => fn.call(target, path, { timeout: ms, ...opts })
      }
      if (prop === 'checkout') return (...args: unknown[]) => timedDrive(fn.apply(target, args), ms)
      return fn.bind(target)
    }
  })
}

function timeoutError (what: string, ms: number): HyperfsError {
  return HyperfsError.REQUEST_TIMEOUT(`${what.trim()}: no peer sent what it needs within ${ms} ms (--timeout)`)
}

function bounded<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(timeoutError(what, ms)), ms) })
  return Promise.race([p, late]).finally(() => clearTimeout(timer))
}

async function * boundedSteps<T> (it: AsyncIterable<T>, ms: number, what: string): AsyncIterable<T> {
  const iterator = it[Symbol.asyncIterator]()
  let finished = false
  try {
    while (true) {
      const step = await bounded(iterator.next(), ms, what)
      if (step.done) { finished = true; return }
      yield step.value
    }
  } finally {
    // a step given up on is still running inside the iterator: return() would wait for it
    if (!finished) void Promise.resolve(iterator.return?.()).catch(safetyCatch)
  }
}
