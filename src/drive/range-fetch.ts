// Fetches block ranges of one core for Drive#download: the bytes held are
// counted as blocks arrive, and a core that gets no block of the ranges for
// `timeout` ms fails with REQUEST_TIMEOUT instead of waiting forever (a range
// download waits for as long as no peer has the blocks). Ranges go to
// core.download() a few at a time: the replicator pipelines the blocks of a
// range, so a folder of small files costs no round trip per file.
//
// The replicator keeps the abort listener of a range download on the signal
// it is given, so each range gets a signal of its own, linked to the fetch's
// only while the range runs: a long download adds no listener per range to
// the caller's signal.
import type { Hypercore } from '../core/hypercore.js'
import { HyperfsError } from '../errors.js'

// ranges handed to the replicator at once (each holds one listener on the fetch's signal)
const RANGES_IN_FLIGHT = 4

export type BlockRange = [number, number] // [start, end) block indexes

export interface FetchOptions {
  signal?: AbortSignal
  timeout: number // ms without a block of the ranges; 0 waits forever
  onblock?: (bytes: number) => void // a block of the ranges arrived
}

// Sorted, with overlapping and touching ranges joined.
export function mergeRanges (ranges: BlockRange[]): BlockRange[] {
  const sorted = ranges.filter(([s, e]) => e > s).sort((a, b) => a[0] - b[0])
  const out: BlockRange[] = []
  for (const [s, e] of sorted) {
    const last = out[out.length - 1]
    if (last && s <= last[1]) last[1] = Math.max(last[1], e)
    else out.push([s, e])
  }
  return out
}

// Resolves when every block of the ranges is held here.
export async function fetchRanges (core: Hypercore, wanted: BlockRange[], opts: FetchOptions): Promise<void> {
  const ranges = mergeRanges(wanted)
  const stop = new AbortController()
  const cancel = (): void => stop.abort(HyperfsError.REQUEST_CANCELLED('download aborted'))
  if (opts.signal?.aborted) cancel()
  opts.signal?.addEventListener('abort', cancel, { once: true })

  let last = Date.now()
  let timer: NodeJS.Timeout | null = null
  const check = (): void => {
    const idle = Date.now() - last
    if (idle < opts.timeout) { timer = setTimeout(check, opts.timeout - idle); return }
    const n = core.peers
    stop.abort(HyperfsError.REQUEST_TIMEOUT(`no block arrived for ${opts.timeout} ms (${n} connected peer${n === 1 ? ' has' : 's have'} this core)`))
  }
  if (opts.timeout > 0) timer = setTimeout(check, opts.timeout)
  const ondownload = (index: number, bytes: number): void => {
    if (!within(ranges, index)) return
    last = Date.now()
    opts.onblock?.(bytes)
  }
  core.replicator.on('download', ondownload)

  let next = 0
  const worker = async (): Promise<void> => {
    while (next < ranges.length && !stop.signal.aborted) {
      const [start, end] = ranges[next++]
      try {
        await fetchRange(core, start, end, stop.signal)
      } catch (err) {
        if (!stop.signal.aborted) stop.abort(err) // the other workers stop too
        return
      }
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(RANGES_IN_FLIGHT, ranges.length) }, worker))
    if (stop.signal.aborted) throw stop.signal.reason
  } finally {
    if (timer) clearTimeout(timer)
    core.replicator.off('download', ondownload)
    opts.signal?.removeEventListener('abort', cancel)
  }
}

async function fetchRange (core: Hypercore, start: number, end: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) throw signal.reason
  const own = new AbortController()
  const onabort = (): void => own.abort(signal.reason)
  signal.addEventListener('abort', onabort, { once: true })
  try {
    await core.download({ start, end, signal: own.signal })
  } finally {
    signal.removeEventListener('abort', onabort)
  }
}

// is block `index` in one of the sorted, disjoint ranges?
function within (ranges: BlockRange[], index: number): boolean {
  let lo = 0
  let hi = ranges.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if (index < ranges[mid][0]) hi = mid - 1
    else if (index >= ranges[mid][1]) lo = mid + 1
    else return true
  }
  return false
}
