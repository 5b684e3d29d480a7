// Which blocks are present: a paged bitmap, bit i = block i, LSB first within
// each little-endian 32-bit word (the same bit order as the `bitfield` wire
// message). Pages are 4 KiB (32768 blocks); absent pages are all zero. Dirty
// pages are persisted by the owner at page offsets of the bitfield file.

export const PAGE_BITS = 32768
const PAGE_WORDS = PAGE_BITS / 32
export const PAGE_BYTES = PAGE_BITS / 8

function popcount (x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24
}

function ctz (x: number): number {
  return 31 - Math.clz32(x & -x)
}

class Page {
  words = new Uint32Array(PAGE_WORDS)
  count = 0
}

export class Bitfield {
  private pages = new Map<number, Page>()
  private dirty = new Set<number>()
  private maxPage = -1
  // a cap on pages (what a peer tells us of itself is kept within it)
  private readonly pageLimit: number

  constructor (opts: { maxPages?: number } = {}) {
    this.pageLimit = opts.maxPages ?? Infinity
  }

  private newPage (pi: number): Page | null {
    if (this.pages.size >= this.pageLimit) return null
    const p = new Page()
    this.pages.set(pi, p)
    if (pi > this.maxPage) this.maxPage = pi
    return p
  }

  get (i: number): boolean {
    const p = this.pages.get(Math.floor(i / PAGE_BITS))
    if (!p) return false
    const b = i % PAGE_BITS
    return (p.words[b >>> 5] & (1 << (b & 31))) !== 0
  }

  set (i: number, value: boolean): void {
    this.setRange(i, i + 1, value)
  }

  // sets [start, end)
  setRange (start: number, end: number, value: boolean): void {
    while (start < end) {
      const pi = Math.floor(start / PAGE_BITS)
      const pageStart = pi * PAGE_BITS
      const pageEnd = Math.min(end, pageStart + PAGE_BITS)
      let p = this.pages.get(pi)
      if (!p) {
        if (!value) { start = pageEnd; continue }
        p = this.newPage(pi) ?? undefined
        if (!p) return // over the page cap: forget the rest
      }
      let b = start - pageStart
      const e = pageEnd - pageStart
      while (b < e) {
        const w = b >>> 5
        const lo = b & 31
        const hi = Math.min(32, lo + (e - b))
        const mask = hi - lo === 32 ? 0xffffffff : (((1 << (hi - lo)) - 1) << lo) >>> 0
        const before = p.words[w]
        const after = value ? (before | mask) >>> 0 : (before & ~mask) >>> 0
        if (after !== before) {
          p.count += popcount(after) - popcount(before)
          p.words[w] = after
        }
        b += hi - lo
      }
      this.dirty.add(pi)
      start = pageEnd
    }
  }

  // Replaces 32-bit words from bit `start` (a multiple of 32) with `words`,
  // LSB first: the `bitfield` wire message's layout.
  setWords (start: number, words: Uint32Array): void {
    for (let k = 0; k < words.length; k++) {
      const bit = start + k * 32
      const pi = Math.floor(bit / PAGE_BITS)
      let p = this.pages.get(pi)
      if (!p) {
        if (words[k] === 0) continue
        p = this.newPage(pi) ?? undefined
        if (!p) return
      }
      const w = (bit % PAGE_BITS) >>> 5
      const before = p.words[w]
      if (before === words[k]) continue
      p.count += popcount(words[k]) - popcount(before)
      p.words[w] = words[k]
      this.dirty.add(pi)
    }
  }

  // first set bit at or after `from`, or -1
  firstSet (from: number): number {
    let pi = Math.floor(from / PAGE_BITS)
    let b = from - pi * PAGE_BITS
    for (; pi <= this.maxPage; pi++, b = 0) {
      const p = this.pages.get(pi)
      if (!p || p.count === 0) continue
      for (let w = b >>> 5; w < PAGE_WORDS; w++) {
        let word = p.words[w]
        if (w === b >>> 5) word = (word & (0xffffffff << (b & 31))) >>> 0
        if (word !== 0) return pi * PAGE_BITS + w * 32 + ctz(word)
      }
    }
    return -1
  }

  // last set bit before `before`, or -1
  lastSet (before: number): number {
    let pi = Math.min(Math.floor((before - 1) / PAGE_BITS), this.maxPage)
    if (before <= 0 || pi < 0) return -1
    let b = Math.min(before - 1 - pi * PAGE_BITS, PAGE_BITS - 1)
    for (; pi >= 0; pi--, b = PAGE_BITS - 1) {
      const p = this.pages.get(pi)
      if (!p || p.count === 0) continue
      for (let w = b >>> 5; w >= 0; w--) {
        let word = p.words[w]
        if (w === b >>> 5) word = (word & (0xffffffff >>> (31 - (b & 31)))) >>> 0
        if (word !== 0) return pi * PAGE_BITS + w * 32 + 31 - Math.clz32(word)
      }
    }
    return -1
  }

  // first clear bit at or after `from` (there always is one)
  firstUnset (from: number): number {
    let pi = Math.floor(from / PAGE_BITS)
    let b = from - pi * PAGE_BITS
    for (;; pi++, b = 0) {
      const p = this.pages.get(pi)
      if (!p || p.count < PAGE_BITS) {
        if (!p) return pi * PAGE_BITS + b
        for (let w = b >>> 5; w < PAGE_WORDS; w++) {
          let word = ~p.words[w] >>> 0
          if (w === b >>> 5) word = (word & (0xffffffff << (b & 31))) >>> 0
          if (word !== 0) return pi * PAGE_BITS + w * 32 + ctz(word)
        }
      }
    }
  }

  // number of set bits in [start, end)
  count (start: number, end: number): number {
    let n = 0
    let i = this.firstSet(start)
    while (i !== -1 && i < end) {
      const j = Math.min(end, this.firstUnset(i))
      n += j - i
      i = this.firstSet(j)
    }
    return n
  }

  // maximal runs [start, end) of set bits overlapping [from, to)
  * runs (from = 0, to = Infinity): Generator<[number, number]> {
    let i = this.firstSet(from)
    while (i !== -1 && i < to) {
      const j = this.firstUnset(i)
      yield [i, Math.min(j, to)]
      i = this.firstSet(j)
    }
  }

  // 32-bit words covering [start, start + 32·n), start a multiple of 32
  words (start: number, n: number): Uint32Array {
    const out = new Uint32Array(n)
    for (let k = 0; k < n; k++) {
      const bit = start + k * 32
      const p = this.pages.get(Math.floor(bit / PAGE_BITS))
      if (p) out[k] = p.words[(bit % PAGE_BITS) >>> 5]
    }
    return out
  }

  // ---- persistence ----

  takeDirty (): Array<{ offset: number, data: Buffer }> {
    const out: Array<{ offset: number, data: Buffer }> = []
    for (const pi of [...this.dirty].sort((a, b) => a - b)) {
      const p = this.pages.get(pi)
      const data = p ? Buffer.from(p.words.buffer, p.words.byteOffset, PAGE_BYTES) : Buffer.alloc(PAGE_BYTES)
      out.push({ offset: pi * PAGE_BYTES, data: Buffer.from(data) })
    }
    this.dirty.clear()
    return out
  }

  static fromBuffer (buf: Uint8Array): Bitfield {
    const bf = new Bitfield()
    const pagesIn = Math.ceil(buf.byteLength / PAGE_BYTES)
    for (let pi = 0; pi < pagesIn; pi++) {
      const chunk = buf.subarray(pi * PAGE_BYTES, Math.min(buf.byteLength, (pi + 1) * PAGE_BYTES))
      const p = new Page()
      const dv = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      for (let w = 0; w * 4 + 4 <= chunk.byteLength; w++) {
        const v = dv.getUint32(w * 4, true)
        p.words[w] = v
        p.count += popcount(v)
      }
      if (p.count > 0) {
        bf.pages.set(pi, p)
        bf.maxPage = pi
      }
    }
    return bf
  }
}
