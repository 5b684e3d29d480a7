// What the two drive formats (hyperdrive.ts: Hypertrie; hyperdrive13.ts:
// Hyperbee) do alike over their two cores: a log core of entries (the
// metadata or db core) and a content core of file bytes (content or blobs).
// Opening once, loading the content core once, closing, warnings about
// skipped entries, the read-only check, and the watch loop over appends are
// here; each format says how it opens, and what changed between versions.
import type { Hypercore } from '../core/hypercore.js'
import type { Mutex } from '../core/mutex.js'
import { HyperfsError, safetyCatch } from '../errors.js'
import { pathString } from './drive-path.js'
import type { WatchEvent } from './types.js'

// warnings about skipped entries per drive, before they go quiet
const MAX_WARNINGS = 32

// What a drive and all its checkouts share (each format adds its own).
export interface FormatState {
  opts: { onwarning?: (msg: string) => void }
  loading: Promise<unknown> | null // the content core, once asked for
  opening: Promise<void> | null
  meta: Mutex // serialises read-modify-write of entries
  warnings: number
  closed: boolean
}

export abstract class FormatBase {
  protected abstract readonly s: FormatState
  protected abstract readonly checkedOut: boolean
  abstract get metadata (): Hypercore
  abstract get content (): Hypercore | null
  abstract get version (): number

  get key (): Buffer { return this.metadata.key! }
  get discoveryKey (): Buffer { return this.metadata.discoveryKey! }
  get writable (): boolean { return !this.checkedOut && this.metadata.writable }
  get id (): string { return this.key.toString('hex') + '@' + (this.checkedOut ? this.version : 'latest') }

  ready (): Promise<void> {
    if (!this.s.opening) this.s.opening = this.open()
    return this.s.opening
  }

  protected abstract open (): Promise<void>

  // Runs `load` (which opens the content core) once for the drive and its
  // checkouts; a failed load is tried again by the next caller.
  protected loadOnce<T> (load: () => Promise<T>): Promise<T> {
    if (!this.s.loading) {
      const p = load()
      this.s.loading = p
      p.catch(() => { if (this.s.loading === p) this.s.loading = null })
    }
    return this.s.loading as Promise<T>
  }

  // Closes both cores; a checkout leaves them to its drive.
  async close (): Promise<void> {
    if (this.checkedOut || this.s.closed) return
    this.s.closed = true
    try { await this.s.opening } catch (err) { safetyCatch(err) }
    try { await this.s.loading } catch (err) { safetyCatch(err) }
    await Promise.all([this.metadata.close(), this.content?.close()])
  }

  // Tells the daemon's log about an entry skipped as invalid, up to MAX_WARNINGS.
  protected warn (msg: string): void {
    const n = this.s.warnings++
    if (!this.s.opts.onwarning || n > MAX_WARNINGS) return
    const drive = `drive ${this.key.toString('hex').slice(0, 16)}…`
    if (n === MAX_WARNINGS) this.s.opts.onwarning(`${drive}: more entries skipped; no more warnings for this drive`)
    else this.s.opts.onwarning(`${drive}: ${msg}`)
  }

  protected assertWritable (): void {
    if (!this.writable) throw HyperfsError.EROFS(this.checkedOut ? 'a checkout is read-only' : 'this drive is read-only here')
  }

  // Whether versions `from` to `to` of the drive changed something at or
  // under `comps`.
  protected abstract changedUnder (from: number, to: number, comps: string[]): Promise<boolean>

  // One event per new version that changed something at or under `comps`.
  // Ends when the signal aborts or the drive closes; a checkout never changes.
  async * watch (comps: string[], opts: { signal?: AbortSignal }): AsyncIterable<WatchEvent> {
    await this.ready()
    if (this.checkedOut) return
    const log = this.metadata
    let wake: (() => void) | null = null
    const poke = () => { const w = wake; wake = null; w?.() }
    log.on('append', poke)
    log.on('close', poke)
    opts.signal?.addEventListener('abort', poke)
    try {
      let seen = log.length
      while (!opts.signal?.aborted && !this.s.closed && !log.closed) {
        if (log.length > seen) {
          const now = log.length
          const changed = await this.changedUnder(seen, now, comps)
          seen = now
          if (changed) yield { version: now, path: pathString(comps) }
          continue
        }
        await new Promise<void>((resolve) => { wake = resolve })
      }
    } finally {
      log.off('append', poke)
      log.off('close', poke)
      opts.signal?.removeEventListener('abort', poke)
    }
  }
}
