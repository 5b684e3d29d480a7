// Between a binding and the filesystem (go-fuse's fs/bridge.go). Every kernel
// request a binding hands over goes through call(), which guarantees four
// things whichever binding serves the mount:
//   - the kernel gets exactly one answer,
//   - within a bounded time (an op that overruns answers EIO and is logged:
//     a FUSE request that never returns hangs the caller in D state),
//   - at once, with no promise or timer, when the filesystem answers
//     synchronously (a cached stat, read-ahead bytes already in memory):
//     those are most ops, and each costs a round trip through this thread,
//   - errors become errno only through toErrno() (errno.ts).
import type { FuseFilesystem, FuseOp, FuseRequests, FuseResult, Logger, MaybePromise } from './api.js'
import { Deadlines } from './deadlines.js'
import { ERRNO, toErrno } from './errno.js'

export interface FuseBridgeOptions {
  opTimeout: number // ms any op may take before it answers EIO
  commitTimeout: number // the same for the ops that upload a whole file (COMMIT_OPS)
}

// Ops that may upload a whole file to the drive, so they get commitTimeout.
const COMMIT_OPS: ReadonlySet<FuseOp> = new Set<FuseOp>(['flush', 'fsync', 'release', 'truncate', 'rename'])
const MIN_TICK = 10
const MAX_TICK = 1000

export class FuseBridge implements FuseRequests {
  readonly #fs: FuseFilesystem
  readonly #log: Logger
  readonly #opts: FuseBridgeOptions
  readonly #deadlines: Deadlines

  constructor (services: { filesystem: FuseFilesystem, logger: Logger }, opts: FuseBridgeOptions) {
    this.#fs = services.filesystem
    this.#log = services.logger
    this.#opts = opts
    // a tenth of the shortest timeout, so an overrun answers close to it
    this.#deadlines = new Deadlines({ tick: Math.max(MIN_TICK, Math.min(MAX_TICK, Math.min(opts.opTimeout, opts.commitTimeout) / 10)) })
  }

  // Ops still waiting for the filesystem.
  get pending (): number {
    return this.#deadlines.size
  }

  call<K extends FuseOp> (op: K, path: string, args: Parameters<FuseFilesystem[K]>, ok: (value: FuseResult<K>) => void, fail: (errno: number) => void): void {
    let result: MaybePromise<FuseResult<K>>
    try {
      result = (this.#fs[op] as (...a: unknown[]) => MaybePromise<FuseResult<K>>).apply(this.#fs, args)
    } catch (err) {
      fail(toErrno(err, this.#log, `${op} ${path}`))
      return
    }
    if (!(result instanceof Promise)) {
      ok(result)
      return
    }
    const timeout = COMMIT_OPS.has(op) ? this.#opts.commitTimeout : this.#opts.opTimeout
    let answered = false
    const cancel = this.#deadlines.add(timeout, () => {
      if (answered) return
      answered = true
      this.#log.error(`EIO ${op} ${path}: no result within ${timeout} ms`)
      fail(-ERRNO.EIO)
    })
    result.then((value) => {
      cancel()
      if (answered) return
      answered = true
      ok(value)
    }, (err: unknown) => {
      cancel()
      if (answered) return
      answered = true
      fail(toErrno(err, this.#log, `${op} ${path}`))
    })
  }

  // Forgets pending deadlines: after an unmount nobody is left to answer.
  close (): void {
    this.#deadlines.clear()
  }
}
