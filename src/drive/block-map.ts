// A hyperdrive13 file changed in part, as a block map (docs/hyperdrive13.md
// §5): the file's bytes are the blobs blocks its map lists, in order, each
// one whole (a real reader reads every listed block whole, and skips bytes
// only at the start and end of a range it was asked for). So a change keeps
// the old blocks it leaves whole and lists them again; the bytes written are
// new blocks; what a change cuts out of an old block (the part of it a write
// or a truncate left), and zeros past the old end, go into new blocks too.
//
// A file is planned as a list of parts: runs of bytes inside one blobs block,
// or zeros, or (OLD_BYTES) a run of the old file's bytes where its blob cannot
// be listed block by block (then the file is written whole). Only a part that
// is a whole block is listed as it is. The rest is written again, cut at page
// boundaries of the file: the first write of a page into a 64 KiB block costs
// the block, written again as pages; a later write of one of those pages
// replaces it and costs a page (sqlite writes 4 KiB pages in place). A whole
// block inside a page that is written again joins it (a one-byte write costs
// its page, not a 1-byte block beside two pieces). Appends list only the new
// bytes; once a map holds more than `softSmall` blocks under a page, small
// neighbours are joined (a few bytes appended at a time cost a rewrite of a
// block now and then).
//
// `length` bytes, `skip` bytes into blobs block `index` of `blockLength` bytes;
// or zeros (index ZERO); or bytes [skip, skip + length) of the old file (OLD_BYTES)
export interface Part {
  index: number
  skip: number
  length: number
  blockLength: number
}

export const ZERO = -1
export const OLD_BYTES = -2

export type MapItem =
  | { kind: 'block', index: number, length: number } // an existing block, listed whole
  | { kind: 'new', parts: Part[], length: number } // bytes to write as new blocks

export function zeros (length: number): Part {
  return { index: ZERO, skip: 0, length, blockLength: length }
}

export function isWhole (p: Part): boolean {
  return p.index >= 0 && p.skip === 0 && p.length === p.blockLength
}

// Each block whole, in order.
export function blockParts (blocks: Array<{ index: number, byteLength: number }>): Part[] {
  return blocks.filter((b) => b.byteLength > 0).map((b) => ({ index: b.index, skip: 0, length: b.byteLength, blockLength: b.byteLength }))
}

// The parts of bytes [start, end) of a file made of `list`.
export function cutParts (list: Part[], start: number, end: number): Part[] {
  const out: Part[] = []
  let pos = 0
  for (const p of list) {
    const s = pos
    pos += p.length
    if (pos <= start) continue
    if (s >= end) break
    const from = Math.max(start, s) - s
    const to = Math.min(end, pos) - s
    if (to > from) out.push(from === 0 && to === p.length ? p : { ...p, skip: p.skip + from, length: to - from })
  }
  return out
}

// The parts of a file changed as FilePatch describes (types.ts): its first
// `keep` bytes, zeros up to `size`, then each write's parts at its offset.
export function patchParts (list: Part[], oldSize: number, keep: number, size: number, writes: Array<{ at: number, parts: Part[] }>): Part[] {
  const kept = Math.min(keep, oldSize, size)
  let out = cutParts(list, 0, kept)
  if (size > kept) out.push(zeros(size - kept))
  for (const w of writes) {
    const length = w.parts.reduce((n, p) => n + p.length, 0)
    out = [...cutParts(out, 0, w.at), ...w.parts, ...cutParts(out, w.at + length, size)]
  }
  return out.filter((p) => p.length > 0)
}

export interface PlanOptions {
  blockSize: number // of the blocks written (and the most bytes joined into one)
  page: number // rewritten bytes are cut at file offsets that are multiples of this
  softSmall: number // blocks under `page` bytes a map lists before small neighbours are joined
}

// The map of a file made of `parts` (see the top of this file); null when
// some of it is OLD_BYTES (the file is then written whole). Bytes written
// again are cut at page boundaries of the file, so that a later write of a
// page (what databases do) replaces a block instead of cutting one; whole
// blocks that lie inside a page with such bytes join them.
export function planMap (parts: Part[], o: PlanOptions): MapItem[] | null {
  if (parts.some((p) => p.index === OLD_BYTES)) return null
  const starts: number[] = []
  let pos = 0
  for (const p of parts) { starts.push(pos); pos += p.length }
  const cut = parts.map((p) => !isWhole(p))
  const again = cut.slice()
  for (let i = 0; i < parts.length; i++) {
    if (cut[i]) continue
    const lo = Math.floor(starts[i] / o.page) * o.page
    const hi = lo + o.page
    if (starts[i] + parts[i].length > hi) continue // not inside one page
    for (let j = i - 1; j >= 0 && starts[j] + parts[j].length > lo && !again[i]; j--) if (cut[j]) again[i] = true
    for (let j = i + 1; j < parts.length && starts[j] < hi && !again[i]; j++) if (cut[j]) again[i] = true
  }
  const items: MapItem[] = []
  let cur: Part[] = []
  let curLength = 0
  const emit = (): void => {
    if (curLength > 0) items.push({ kind: 'new', parts: cur, length: curLength })
    cur = []
    curLength = 0
  }
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]
    if (!again[i]) {
      emit()
      items.push({ kind: 'block', index: p.index, length: p.length })
      continue
    }
    let at = starts[i]
    let from = 0
    while (from < p.length) {
      const boundary = (Math.floor(at / o.page) + 1) * o.page
      let n = Math.min(p.length - from, boundary - at)
      // a long run of zeros: whole pages of it are one item (one block of zeros listed again)
      if (p.index === ZERO && curLength === 0 && at % o.page === 0 && p.length - from >= o.page) n = Math.floor((p.length - from) / o.page) * o.page
      cur.push({ ...p, skip: p.skip + from, length: n })
      curLength += n
      at += n
      from += n
      if (at % o.page === 0) emit()
    }
  }
  emit()
  return smallCount(items, o.page) > o.softSmall ? compact(items, o) : items
}

// Neighbours below the block size, within it together, one of them below a
// page, become one new item (appends of a few bytes each, joined).
function compact (items: MapItem[], o: PlanOptions): MapItem[] {
  const out: MapItem[] = []
  for (const x of items) {
    const last = out[out.length - 1]
    if (last && last.length < o.blockSize && x.length < o.blockSize && last.length + x.length <= o.blockSize &&
      (last.length < o.page || x.length < o.page)) {
      out[out.length - 1] = { kind: 'new', parts: [...partsOf(last), ...partsOf(x)], length: last.length + x.length }
    } else {
      out.push(x)
    }
  }
  return out
}

function partsOf (item: MapItem): Part[] {
  return item.kind === 'new' ? item.parts : [{ index: item.index, skip: 0, length: item.length, blockLength: item.length }]
}

// Blocks below a page the map will list (new items are a page at most, but runs of zeros).
export function smallCount (items: MapItem[], page: number): number {
  let n = 0
  for (const x of items) if (x.length < page) n++
  return n
}

// Entries the map will list: a new item is written in blocks of blockSize.
export function entryCount (items: MapItem[], blockSize: number): number {
  let n = 0
  for (const x of items) n += x.kind === 'block' ? 1 : Math.ceil(x.length / blockSize)
  return n
}
