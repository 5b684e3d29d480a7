// Automatic gc past a history budget (the daemon's --keep-history SIZE). A
// drive we write keeps the content of its older versions until gc frees it;
// with a budget, the daemon frees it by itself once a drive holds more than
// SIZE of it. The oldest versions' content goes first, until what stays is at
// most TARGET_SHARE of the budget, so that the next few writes do not call
// for another gc at once. It is the gc of `hyperfs gc --keep-versions N`,
// with N chosen from the budget: the latest version, pinned content and the
// history metadata always stay (log and /.versions still list).
//
// When: a drive is checked when it is first seen, QUIET_MS after its last
// change (under steady writes, at most MAX_WAIT_MS after the first change
// not yet checked), and at once when the content written since its last
// check passes what is left of the budget. A check is cheap: it adds to an
// upper bound of the history held (the content appended since the last
// check, plus what the changes since then stopped referencing, from one
// diff), and walks the whole history (live-blocks.ts historyProfile) only
// when that bound passes the budget. One check runs at a time, for all drives; its gc takes the same
// lock as `hyperfs gc`. Writes go on meanwhile: a walk only reads, and gc
// holds the content core for each hole it punches, not for the walk. A check
// that fails is logged and shown in info; the next change tries again.
import type { Drive } from '../drive/types.js'
import type { Hypercore } from '../core/hypercore.js'
import { Bitfield } from '../core/bitfield.js'
import { Mutex } from '../core/mutex.js'
import { isHyperfsError, safetyCatch } from '../errors.js'
import { historyProfile, statBlocks, unmarked } from './live-blocks.js'
import type { Logger } from './logger.js'

// ms after a drive's last change before it is checked
export const QUIET_MS = 1000
// ms after the first change not yet checked by which a drive is checked, however busy
export const MAX_WAIT_MS = 10_000
// share of the budget a gc leaves as history
export const TARGET_SHARE = 0.5

export interface AutoGcResult {
  blocks: number
  bytes: number
}

export interface AutoGcServices {
  logger: Logger
  // The drive's content core (null: none yet), opened if need be.
  content: (drive: Drive) => Promise<Hypercore | null>
  // The gc of `hyperfs gc`, keeping every version from `oldestKept` on.
  gc: (drive: Drive, oldestKept: number, signal: AbortSignal) => Promise<AutoGcResult>
  // Blocks of the drive's content (`content`) pins keep (never history to free), or null.
  pinned: (key: string, content: Hypercore) => Promise<Bitfield | null>
}

export interface AutoGcRun {
  at: number // ms since the epoch
  version: number // of the drive when planned
  oldestKept: number // every version from this one on keeps its content
  history: number // bytes of history held before
  kept: number // and after
  blocks: number // freed
  bytes: number
}

export interface AutoGcStatus {
  budget: number
  last: AutoGcRun | null
  error: string | null // why the last check failed, if it did
}

type WrittenDrive = Drive & { metadata: Hypercore, content: Hypercore | null }

interface Tracked {
  drive: WrittenDrive
  key: string
  estimate: number | null // at least the bytes of history held; null: not measured yet
  version: number // of the drive at the last check
  length: number // of its content core then
  byteLength: number
  first: number | null // when the first change not yet checked came
  timer: NodeJS.Timeout | null
  queued: boolean
  last: AutoGcRun | null
  error: string | null
  untrack: () => void
}

export class AutoGc {
  private s: AutoGcServices
  private budget: number
  private drives = new Map<string, Tracked>()
  private lock = new Mutex()
  private stopping = new AbortController()

  constructor (services: AutoGcServices, opts: { budget: number }) {
    this.s = services
    this.budget = opts.budget
  }

  get size (): number {
    return this.budget
  }

  // A new budget applies at each drive's next check; all are checked soon.
  setBudget (budget: number): void {
    this.budget = budget
    for (const t of this.drives.values()) this.poke(t)
  }

  // Watches a drive we write (others have no history of ours to free).
  track (drive: WrittenDrive): void {
    const key = drive.key.toString('hex')
    if (!drive.writable || this.drives.has(key) || this.stopping.signal.aborted) return
    const md = drive.metadata
    const onappend = (): void => this.poke(t)
    const onclose = (): void => t.untrack()
    const t: Tracked = {
      drive, key, estimate: null, version: 0, length: 0, byteLength: 0, first: null, timer: null, queued: false, last: null, error: null,
      untrack: () => {
        md.off('append', onappend)
        md.off('close', onclose)
        if (t.timer) clearTimeout(t.timer)
        t.timer = null
        if (this.drives.get(key) === t) this.drives.delete(key)
      }
    }
    this.drives.set(key, t)
    md.on('append', onappend)
    md.once('close', onclose)
    // measured now, so that the first writes are counted against what it holds
    this.poke(t, true)
  }

  status (key: string): AutoGcStatus {
    const t = this.drives.get(key)
    return { budget: this.budget, last: t?.last ?? null, error: t?.error ?? null }
  }

  // Stops watching; a walk or gc under way is aborted, and waited for.
  async close (): Promise<void> {
    this.stopping.abort()
    for (const t of [...this.drives.values()]) t.untrack()
    await this.lock.run(async () => {})
  }

  private poke (t: Tracked, immediately = false): void {
    if (this.stopping.signal.aborted) return
    const now = Date.now()
    if (t.first === null) t.first = now
    const content = t.drive.content
    const over = content !== null && (t.estimate ?? 0) + content.byteLength - t.byteLength > this.budget
    const due = over || immediately ? now : Math.min(now + QUIET_MS, t.first + MAX_WAIT_MS)
    if (t.timer) clearTimeout(t.timer)
    t.timer = setTimeout(() => this.due(t), Math.max(0, due - now))
    t.timer.unref()
  }

  private due (t: Tracked): void {
    t.timer = null
    t.first = null
    // one check waiting per drive sees every change made before it runs
    if (t.queued) return
    t.queued = true
    this.lock.run(async () => {
      t.queued = false
      await this.check(t)
    }).then(() => { t.error = null }, (err) => {
      if (this.stopping.signal.aborted || isHyperfsError(err, 'SESSION_CLOSED')) return safetyCatch(err)
      t.error = (err as Error).message
      this.s.logger.error(`auto gc ${t.key}: ${(err as Error).stack ?? (err as Error).message}`)
    })
  }

  private async check (t: Tracked): Promise<void> {
    if (this.stopping.signal.aborted || this.drives.get(t.key) !== t) return
    const drive = t.drive
    const content = await this.s.content(drive)
    if (!content) return
    const version = drive.version
    const length = content.length
    const byteLength = content.byteLength
    if (t.estimate !== null) t.estimate += (byteLength - t.byteLength) + await this.dropped(drive, content, t.version, t.length)
    t.version = version
    t.length = length
    t.byteLength = byteLength
    if (t.estimate !== null && t.estimate <= this.budget) return

    const signal = this.stopping.signal
    const profile = await historyProfile(drive, { bound: length, signal })
    const pinned = await this.s.pinned(t.key, content)
    const sizes: number[] = []
    let history = 0
    for (const span of profile.spans) {
      let n = 0
      for (const [s, e] of span.runs) {
        for (const [a, b] of pinned ? unmarked(pinned, s, e) : [[s, e] as [number, number]]) n += await content.heldBytes(a, b)
      }
      sizes.push(n)
      history += n
    }
    if (history <= this.budget) {
      t.estimate = history
      return
    }
    // the oldest version to keep: the first span end past which at most the target stays
    const target = Math.floor(this.budget * TARGET_SHARE)
    let kept = history
    let oldestKept = 1
    for (let i = 0; i < sizes.length && kept > target; i++) {
      kept -= sizes[i]
      oldestKept = profile.spans[i].end
    }
    const r = await this.s.gc(drive, oldestKept, signal)
    t.estimate = kept
    t.last = { at: Date.now(), version: profile.latest, oldestKept, history, kept, blocks: r.blocks, bytes: r.bytes }
    this.s.logger.info(`auto gc ${t.key}: ${history} bytes of history past the budget of ${this.budget}; ` +
      `freed ${r.bytes} bytes (${r.blocks} blocks) that only versions before ${oldestKept} reference, ${kept} bytes of history stay`)
  }

  // Bytes held of the blocks below `bound` that the changes since version
  // `from` stopped referencing where they were (more than is freed when a
  // block is also used elsewhere: this is an upper bound).
  private async dropped (drive: Drive, content: Hypercore, from: number, bound: number): Promise<number> {
    if (from >= drive.version || bound === 0) return 0
    let n = 0
    for await (const d of drive.diff(from)) {
      if (!d.previous) continue
      const gone = new Bitfield()
      for (const [s, e] of statBlocks(d.previous, bound)) gone.setRange(s, e, true)
      if (d.type === 'put') for (const [s, e] of statBlocks(d.value, bound)) gone.setRange(s, e, false)
      for (const [s, e] of [...gone.runs()]) n += await content.heldBytes(s, e)
    }
    return n
  }
}
