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
// be listed block by block. Only a part that is a whole block is listed as it
// is; the rest is written again, joined with small neighbours (below the
// block size) into blocks of at most the block size, so that a one-byte write
// costs about one block, not three. Appends list only the new bytes; once a
// map holds more than `softSmall` small blocks, small neighbours are joined
// too (a few bytes appended at a time cost a rewrite of a block now and then).
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

// The map of a file made of `parts`: whole blocks listed as they are, the
// rest as new bytes joined with small neighbours (see the top of this file).
export function planMap (parts: Part[], blockSize: number, softSmall: number): MapItem[] {
  const items: MapItem[] = parts.map((p) => isWhole(p) ? { kind: 'block', index: p.index, length: p.length } : { kind: 'new', parts: [p], length: p.length })
  const joined = join(items, blockSize, false)
  return smallCount(joined, blockSize) > softSmall ? join(joined, blockSize, true) : joined
}

// Neighbours both below the block size, and together within it, become one
// new item, when one of them is new anyway (or, compacting, always).
function join (items: MapItem[], blockSize: number, compacting: boolean): MapItem[] {
  const out: MapItem[] = []
  for (const x of items) {
    const last = out[out.length - 1]
    if (last && last.length < blockSize && x.length < blockSize && last.length + x.length <= blockSize &&
      (compacting || last.kind === 'new' || x.kind === 'new')) {
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

// Blocks below the block size the map will list (a new item's last block may be one).
export function smallCount (items: MapItem[], blockSize: number): number {
  let n = 0
  for (const x of items) if (x.length % blockSize !== 0) n++
  return n
}

// Entries the map will list: a new item is written in blocks of blockSize.
export function entryCount (items: MapItem[], blockSize: number): number {
  let n = 0
  for (const x of items) n += x.kind === 'block' ? 1 : Math.ceil(x.length / blockSize)
  return n
}
