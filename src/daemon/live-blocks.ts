// Which content blocks a drive's versions reference, found through the Drive
// interface alone (drive/types.ts): a file's Stat names its runs of content
// blocks, each extent's [offset, offset + blocks), or for an entry without
// extents the one run [offset, offset + blocks). gc frees what only older versions
// reference; pins keep what a path references now.
//
// Every entry of every version was put at some version, so the puts of the
// history are everything any version references; the entries of version v
// are those listed in a checkout of v. What the last N versions reference is
// then the tree of the oldest of them plus every put after it. Blocks that no
// version references yet (a file being written, whose entry is not put yet)
// are in neither, and gc leaves them alone.
//
// Runs are clamped to `bound` (the content core's length): a hostile writer's
// Stat can name any range, and must not make us mark or free blocks past it.
import type { Drive, Stat } from '../drive/types.js'
import { S_IFMT, S_IFREG, S_IFDIR } from '../drive/types.js'
import { MAX_PATH_DEPTH } from '../drive/drive-path.js'
import { Bitfield } from '../core/bitfield.js'
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
  if (st.extents) for (const x of st.extents) add(x.offset, x.blocks)
  else add(st.offset, st.blocks)
  return runs
}

// Marks in `into` the blocks of the files at or under `path` (symlinks and
// mounted drives are not followed: their bytes are not in this drive's content).
export async function treeBlocks (drive: Drive, path: string, into: Bitfield, bound: number, signal?: AbortSignal): Promise<void> {
  // a path through a mounted drive names that drive's blocks, none of ours
  const comps = path.split('/').filter(Boolean)
  for (let i = 1; i < comps.length; i++) if ((await drive.lstat('/' + comps.slice(0, i).join('/'))).mount) return
  const st = await drive.lstat(path)
  if (st.mount) return
  if ((st.mode & S_IFMT) !== S_IFDIR) {
    for (const [s, e] of statBlocks(st, bound)) into.setRange(s, e, true)
    return
  }
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_PATH_DEPTH) throw HyperfsError.WALK_TOO_DEEP(`${dir}: more than ${MAX_PATH_DEPTH} folders deep`)
    if (signal?.aborted) throw HyperfsError.REQUEST_CANCELLED('the walk was aborted')
    for await (const e of drive.readdir(dir)) {
      if (e.stat.mount) continue
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
// version from `oldestKept` on (a plan made earlier, while the drive moves on).
export async function gcPlan (drive: Drive, opts: { keepVersions: number, oldestKept?: number, bound: number, signal?: AbortSignal }): Promise<GcPlan> {
  const latest = drive.version
  const oldestKept = Math.min(latest, Math.max(1, opts.oldestKept ?? latest - Math.max(1, opts.keepVersions) + 1))
  const keep = new Bitfield()
  const free = new Bitfield()
  await treeBlocks(oldestKept === latest ? drive : drive.checkout(oldestKept), '/', keep, opts.bound, opts.signal)
  for await (const h of drive.history({ lt: latest + 1 })) {
    if (opts.signal?.aborted) throw HyperfsError.REQUEST_CANCELLED('gc was aborted')
    if (h.type !== 'put' || !h.value) continue
    for (const [s, e] of statBlocks(h.value, opts.bound)) (h.version > oldestKept ? keep : free).setRange(s, e, true)
  }
  for (const [s, e] of [...keep.runs()]) free.setRange(s, e, false)
  return { latest, oldestKept, keep, free }
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
// history. A put of path P at version p references its blocks from p until
// the next put or del of P (version r), or for good when there is none: a
// block is freed by a gc that keeps the versions from K on exactly when every
// such span naming it ends at or before K (the rule of gcPlan, seen from the
// other side). Each block held by no version of the latest is listed once,
// under the highest end of the spans that name it; spans come sorted by end.
export interface HistoryProfile {
  latest: number
  live: Bitfield // blocks the latest version references
  spans: Array<{ end: number, runs: Array<[number, number]> }>
}

export async function historyProfile (drive: Drive, opts: { bound: number, signal?: AbortSignal }): Promise<HistoryProfile> {
  const latest = drive.version
  const current = new Map<string, Array<[number, number]>>()
  const ended: Array<{ end: number, runs: Array<[number, number]> }> = []
  for await (const h of drive.history({ lt: latest + 1 })) {
    if (opts.signal?.aborted) throw HyperfsError.REQUEST_CANCELLED('the walk was aborted')
    const before = current.get(h.name)
    if (before) {
      ended.push({ end: h.version, runs: before })
      current.delete(h.name)
    }
    const runs = h.type === 'put' && h.value ? statBlocks(h.value, opts.bound) : []
    if (runs.length > 0) current.set(h.name, runs)
  }
  const live = new Bitfield()
  for (const runs of current.values()) for (const [s, e] of runs) live.setRange(s, e, true)
  // latest end first: a block goes to the first span that names it
  const named = new Bitfield()
  for (const [s, e] of live.runs()) named.setRange(s, e, true)
  ended.sort((a, b) => b.end - a.end)
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
