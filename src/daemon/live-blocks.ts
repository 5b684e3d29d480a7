// Which content blocks a drive's versions reference, found through the Drive
// interface alone (drive/types.ts): a file's Stat names its runs of content
// blocks, each extent's [offset, offset + blocks), or for an entry without
// extents the one run [offset, offset + blocks). gc frees what only older versions
// reference; pins keep what a path references now.
//
// A hyperdrive13 file changed in part is read through a block map: its
// Stat names the blocks the map lists (extents) and the map's own blocks
// (blockMap), and both are the file's, kept and freed with it. An old
// version whose map gc freed still lists (the format records the size with
// the map) but names only the map's blocks: what it listed and no newer
// version lists was freed with it.
//
// Every entry of every version was put at some version, so the puts of the
// history are everything any version references: a put references its
// blocks from its version until the next change of its path (a span; see
// historySpans). What the versions from K on reference is then what the
// spans that have not ended by K name. Blocks that no version references yet
// (a file being written, whose entry is not put yet) are in no span, and gc
// leaves them alone.
//
// What a drive retains (types.ts retain: the base of a file open for writing
// through a mount, which may be an old version by now) is live too.
//
// Runs are clamped to `bound` (the content core's length): a hostile writer's
// Stat can name any range, and must not make us mark or free blocks past it.
import type { Drive, MountInfo, Stat } from '../drive/types.js'
import { S_IFMT, S_IFREG, S_IFDIR } from '../drive/types.js'
import { MAX_PATH_DEPTH } from '../drive/drive-path.js'
import { Bitfield } from '../core/bitfield.js'
import type { Hypercore } from '../core/hypercore.js'
import { HyperfsError } from '../errors.js'

// The one place that maps an entry to its content blocks.
export function statBlocks (st: Stat, bound: number): Array<[number, number]> {
  if ((st.mode & S_IFMT) !== S_IFREG || st.mount) return []
  const runs: Array<[number, number]> = []
  const add = (offset: number, blocks: number): void => {
    if (blocks <= 0) return
    const s = Math.min(Math.max(0, offset), bound)
    const e = Math.min(offset + blocks, bound)
    if (s < e) runs.push([s, e])
  }
  if (st.blockMap) add(st.blockMap.offset, st.blockMap.blocks)
  if (st.extents) for (const x of st.extents) add(x.offset, x.blocks)
  else if (!st.blockMap) add(st.offset, st.blocks)
  return runs
}

// Marks in `into` the blocks of the files at or under `path` (symlinks are
// not followed). A drive mounted on the way or under it holds its bytes in
// its own content: it is handed to `onMount` with the path left inside it,
// and not walked here.
export type OnMount = (mount: MountInfo, rest: string) => void

export async function treeBlocks (drive: Drive, path: string, into: Bitfield, bound: number, opts: { signal?: AbortSignal, onMount?: OnMount } = {}): Promise<void> {
  const onMount = opts.onMount ?? (() => {})
  const comps = path.split('/').filter(Boolean)
  for (let i = 1; i < comps.length; i++) {
    const m = (await drive.lstat('/' + comps.slice(0, i).join('/'))).mount
    if (m) { onMount(m, '/' + comps.slice(i).join('/')); return }
  }
  const st = await drive.lstat(path)
  if (st.mount) { onMount(st.mount, '/'); return }
  if ((st.mode & S_IFMT) !== S_IFDIR) {
    for (const [s, e] of statBlocks(st, bound)) into.setRange(s, e, true)
    return
  }
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_PATH_DEPTH) throw HyperfsError.WALK_TOO_DEEP(`${dir}: more than ${MAX_PATH_DEPTH} folders deep`)
    if (opts.signal?.aborted) throw HyperfsError.REQUEST_CANCELLED('the walk was aborted')
    for await (const e of drive.readdir(dir)) {
      if (e.stat.mount) { onMount(e.stat.mount, '/'); continue }
      const child = dir === '/' ? '/' + e.name : dir + '/' + e.name
      if ((e.stat.mode & S_IFMT) === S_IFDIR) await walk(child, depth + 1)
      else for (const [s, e2] of statBlocks(e.stat, bound)) into.setRange(s, e2, true)
    }
  }
  await walk(path, 0)
}

export interface GcPlan {
  latest: number // the version the plan was made at
  oldestKept: number
  keep: Bitfield // blocks the kept versions reference
  free: Bitfield // blocks only older versions reference
}

// What gc may free when the last `keepVersions` versions are kept, or every
// version from `oldestKept` on (a plan made earlier, while the drive moves on):
// the blocks of the spans that end at or before it, but those a span still
// open then names. Not from a checkout of oldestKept: a hyperdrive13 version
// inside a batch (a write of several entries) has no tree of its own, and
// what it would list is a fragment; the spans give every version from
// oldestKept on, whatever its place.
export async function gcPlan (drive: Drive, opts: { keepVersions: number, oldestKept?: number, bound: number, signal?: AbortSignal }): Promise<GcPlan> {
  const latest = drive.version
  const oldestKept = Math.min(latest, Math.max(1, opts.oldestKept ?? latest - Math.max(1, opts.keepVersions) + 1))
  const keep = new Bitfield()
  const free = new Bitfield()
  const walk = await historySpans(drive, { latest, bound: opts.bound, signal: opts.signal })
  for (const runs of walk.open) for (const [s, e] of runs) keep.setRange(s, e, true)
  for (const span of walk.ended) for (const [s, e] of span.runs) (span.end > oldestKept ? keep : free).setRange(s, e, true)
  keepRetained(drive, keep, opts.bound)
  for (const [s, e] of [...keep.runs()]) free.setRange(s, e, false)
  return { latest, oldestKept, keep, free }
}

// Frees the blocks of `free` below `bound`, run by run. What a file opened
// for writing meanwhile retains stays (its base): before each run, gc waits
// for the holds being looked up to know their blocks (Drive#retainSettled).
// A hold that begins later names a version at least as new as the plan's,
// whose blocks the plan keeps.
export async function clearFree (drive: Drive, content: Hypercore, free: Bitfield, bound: number, signal?: AbortSignal): Promise<{ blocks: number, bytes: number, punched: boolean }> {
  const result = { blocks: 0, bytes: 0, punched: true }
  for (let at = 0; at < bound;) {
    if (signal?.aborted) throw HyperfsError.REQUEST_CANCELLED('gc was aborted')
    await drive.retainSettled?.()
    keepRetained(drive, free, bound, false)
    const s = free.firstSet(at)
    if (s < 0 || s >= bound) break
    const e = Math.min(bound, free.firstUnset(s))
    const r = await content.clear(s, e)
    result.blocks += r.blocks
    result.bytes += r.bytes
    if (!r.punched) result.punched = false
    at = e
  }
  return result
}

// Marks what the drive retains now (types.ts retain) as kept; with
// `value` false, takes it out of a set of blocks to free instead.
export function keepRetained (drive: Drive, into: Bitfield, bound: number, value = true): void {
  for (const st of drive.retained?.() ?? []) for (const [s, e] of statBlocks(st, bound)) into.setRange(s, e, value)
}

interface HistorySpans {
  ended: Array<{ end: number, runs: Array<[number, number]> }>
  open: Array<Array<[number, number]>> // spans no later version ends: the latest references them
}

// The history up to `latest` as spans: a put of a file (or link) at path P
// references its blocks from its version until the next put of a file at P
// or del of P (the span's end), or for good. Files and folders are told
// apart: a hyperdrive13 drive keeps a folder's marker beside a file of the
// same name (a real writer can make both) and both list under that name, so
// a folder put ends no file's span, and a del of a name that is both (it
// could be either) ends neither: a block kept too long is the safe side.
async function historySpans (drive: Drive, opts: { latest: number, bound: number, signal?: AbortSignal }): Promise<HistorySpans> {
  const files = new Map<string, Array<[number, number]>>() // the file at each path, and its runs
  const folders = new Set<string>()
  const ended: HistorySpans['ended'] = []
  const end = (name: string, version: number): void => {
    const runs = files.get(name)
    if (!runs) return
    files.delete(name)
    if (runs.length > 0) ended.push({ end: version, runs })
  }
  for await (const h of drive.history({ lt: opts.latest + 1 })) {
    if (opts.signal?.aborted) throw HyperfsError.REQUEST_CANCELLED('the walk was aborted')
    if (h.type === 'del') {
      if (files.has(h.name) && folders.has(h.name)) continue
      end(h.name, h.version)
      folders.delete(h.name)
    } else if (h.value && (h.value.mode & S_IFMT) === S_IFDIR) {
      folders.add(h.name)
    } else if (h.value) {
      end(h.name, h.version)
      files.set(h.name, statBlocks(h.value, opts.bound))
    }
  }
  return { ended, open: [...files.values()] }
}

// Takes out of `free` what versions after `since` reference (a gc that
// planned while the drive moved on).
export async function keepNewer (drive: Drive, since: number, free: Bitfield, bound: number): Promise<void> {
  for await (const h of drive.history({ gte: since + 1 })) {
    if (h.type !== 'put' || !h.value) continue
    for (const [s, e] of statBlocks(h.value, bound)) free.setRange(s, e, false)
  }
}

// Which blocks each choice of kept versions frees, from one walk of the
// history (historySpans): a block is freed by a gc that keeps the versions
// from K on exactly when every span naming it ends at or before K (the rule
// of gcPlan, seen from the other side). Each block held by no version of the
// latest is listed once, under the highest end of the spans that name it;
// spans come sorted by end.
export interface HistoryProfile {
  latest: number
  live: Bitfield // blocks the latest version references
  spans: Array<{ end: number, runs: Array<[number, number]> }>
}

export async function historyProfile (drive: Drive, opts: { bound: number, signal?: AbortSignal }): Promise<HistoryProfile> {
  const latest = drive.version
  const walk = await historySpans(drive, { latest, bound: opts.bound, signal: opts.signal })
  const live = new Bitfield()
  for (const runs of walk.open) for (const [s, e] of runs) live.setRange(s, e, true)
  // latest end first: a block goes to the first span that names it
  const named = new Bitfield()
  for (const [s, e] of live.runs()) named.setRange(s, e, true)
  const ended = walk.ended.slice().sort((a, b) => b.end - a.end)
  const spans: HistoryProfile['spans'] = []
  for (const span of ended) {
    const runs: Array<[number, number]> = []
    for (const [s, e] of span.runs) {
      for (const r of unmarked(named, s, e)) runs.push(r)
      named.setRange(s, e, true)
    }
    if (runs.length > 0) spans.push({ end: span.end, runs })
  }
  spans.reverse()
  return { latest, live, spans }
}

// The runs of [start, end) not marked in `marked`.
export function unmarked (marked: Bitfield, start: number, end: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let i = marked.get(start) ? marked.firstUnset(start) : start
  while (i < end) {
    const next = marked.firstSet(i)
    const stop = next === -1 || next > end ? end : next
    out.push([i, stop])
    if (stop >= end) break
    i = marked.firstUnset(stop)
  }
  return out
}
