// A file's content as a list of extents (types.ts Extent): runs of content
// blocks with byte offsets, and holes. A change builds a new list from the old
// one: the bytes it keeps point at the blocks they are already in, so a write
// stores only what was written, an append only the appended bytes, and a
// truncate nothing.
//
// Inside an extent every block but the last is `blockSize` bytes (one
// ContentWriter run), so a byte of the file maps to its block with arithmetic
// and no seek. Slicing keeps that: a slice starts `skip` bytes into a block of
// the same run.
import type { Extent, FilePatch, Stat } from './types.js'
import { HyperfsError } from '../errors.js'

// The file's extents: its own list, or the one run of a Stat written without one.
export function fileExtents (st: Stat): Extent[] {
  if (st.extents) return st.extents
  if (st.size === 0) return []
  return [{ offset: st.offset, blocks: st.blocks, skip: 0, length: st.size }]
}

export function hole (length: number): Extent {
  return { offset: 0, blocks: 0, skip: 0, length }
}

// Bytes [from, to) of one extent, as an extent over only the blocks they are in.
export function sliceExtent (e: Extent, from: number, to: number, blockSize: number): Extent {
  const length = to - from
  if (e.blocks === 0) return hole(length)
  const at = e.skip + from
  const skip = at % blockSize
  return { offset: e.offset + Math.floor(at / blockSize), blocks: Math.ceil((skip + length) / blockSize), skip, length }
}

// The extents of bytes [start, end) of a file (end within the file).
export function cutExtents (list: Extent[], start: number, end: number, blockSize: number): Extent[] {
  const out: Extent[] = []
  let pos = 0
  for (const e of list) {
    const s = pos
    pos += e.length
    if (pos <= start) continue
    if (s >= end) break
    const from = Math.max(start, s) - s
    const to = Math.min(end, pos) - s
    if (to > from) out.push(from === 0 && to === e.length ? e : sliceExtent(e, from, to, blockSize))
  }
  return out
}

// Joins neighbours that are one run: two holes, or two data extents where the
// second starts at the very byte the first ends (pieces of one write that a
// change split and a later one put back together).
export function joinExtents (list: Extent[], blockSize: number): Extent[] {
  const out: Extent[] = []
  for (const e of list) {
    if (e.length === 0) continue
    const last = out[out.length - 1]
    if (last && last.blocks === 0 && e.blocks === 0) {
      out[out.length - 1] = hole(last.length + e.length)
      continue
    }
    if (last && last.blocks > 0 && e.blocks > 0) {
      const endAt = last.skip + last.length
      if (e.offset === last.offset + Math.floor(endAt / blockSize) && e.skip === endAt % blockSize) {
        const length = last.length + e.length
        out[out.length - 1] = { offset: last.offset, blocks: Math.ceil((last.skip + length) / blockSize), skip: last.skip, length }
        continue
      }
    }
    out.push(e)
  }
  return out
}

export interface PlacedExtent {
  at: number // byte of the file where the extent's bytes go
  extent: Extent
}

// The extents of a file changed as FilePatch describes (types.ts): its first
// `keep` bytes, zeros up to `size`, then each written extent at its place.
export function patchExtents (list: Extent[], oldSize: number, keep: number, size: number, writes: PlacedExtent[], blockSize: number): Extent[] {
  const kept = Math.min(keep, oldSize, size)
  let out = cutExtents(list, 0, kept, blockSize)
  if (size > kept) out.push(hole(size - kept))
  for (const w of writes) {
    const end = w.at + w.extent.length
    out = [...cutExtents(out, 0, w.at, blockSize), w.extent, ...cutExtents(out, end, size, blockSize)]
  }
  return joinExtents(out, blockSize)
}

// The extent holding byte `pos` of the file: its index and the byte of the
// file it starts at (starts: the running sums, from extentStarts).
export function extentStarts (list: Extent[]): number[] {
  const starts: number[] = []
  let pos = 0
  for (const e of list) { starts.push(pos); pos += e.length }
  return starts
}

export function findExtent (starts: number[], pos: number): number {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid] <= pos) lo = mid
    else hi = mid - 1
  }
  return lo
}

// Which neighbours to rewrite as one run each so that `list` keeps at most
// `target` extents: pairs of neighbouring groups are joined cheapest first
// (fewest bytes), but only while a join costs at most `maxBytes`. Returns
// the groups of more than one extent, as [start, end) indexes of `list`.
export function planMerges (list: Extent[], target: number, maxBytes: number): Array<[number, number]> {
  const groups = list.map((e, i) => ({ start: i, end: i + 1, bytes: e.length }))
  while (groups.length > target) {
    let best = -1
    for (let i = 0; i + 1 < groups.length; i++) {
      const cost = groups[i].bytes + groups[i + 1].bytes
      if (cost <= maxBytes && (best < 0 || cost < groups[best].bytes + groups[best + 1].bytes)) best = i
    }
    if (best < 0) break
    const a = groups[best]
    const b = groups[best + 1]
    groups.splice(best, 2, { start: a.start, end: b.end, bytes: a.bytes + b.bytes })
  }
  return groups.filter((g) => g.end - g.start > 1).map((g) => [g.start, g.end])
}

// A patch a file can take (types.ts FilePatch): sizes whole, writes inside the
// new size; EINVAL otherwise. Both formats check it before they store a byte.
export function checkPatch (patch: FilePatch): void {
  const ok = (n: number) => Number.isSafeInteger(n) && n >= 0
  if (!ok(patch.keep) || !ok(patch.size)) throw HyperfsError.EINVAL(`bad patch size ${patch.size} (keep ${patch.keep})`)
  for (const w of patch.writes) {
    if (!ok(w.offset) || !ok(w.length) || w.offset + w.length > patch.size) throw HyperfsError.EINVAL(`bad write of ${w.length} bytes at ${w.offset} in a file of ${patch.size}`)
  }
}
