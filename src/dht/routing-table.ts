// Kademlia routing table (k = 20, docs/wire.md §7.2): one bucket ("row") per length of
// the id prefix shared with our own id, 256 rows for 32-byte ids. A row holds
// at most k nodes, so the whole table is bounded by 256·k entries. Distance is
// XOR compared byte by byte from the first byte. The table only stores; who to
// evict from a full row is the node's decision (it pings the oldest), so a full
// row reports the rejected candidate through `onfull`.

export interface RoutingNode {
  id: Uint8Array
}

export interface RoutingTableOptions<N> {
  k?: number
  onfull?: (candidate: N, row: readonly N[]) => void
}

export const K = 20

export class RoutingTable<N extends RoutingNode> {
  readonly id: Uint8Array
  readonly k: number
  size = 0

  private readonly rows: Array<N[] | undefined>
  private readonly onfull: ((candidate: N, row: readonly N[]) => void) | null

  constructor (id: Uint8Array, opts: RoutingTableOptions<N> = {}) {
    this.id = id
    this.k = opts.k ?? K
    this.rows = new Array(id.byteLength * 8)
    this.onfull = opts.onfull ?? null
  }

  // true if the node is in the table afterwards (added or replaced in place)
  add (node: N): boolean {
    if (equalBytes(node.id, this.id)) return false
    const r = this.rowIndex(node.id)
    let row = this.rows[r]
    if (row === undefined) row = this.rows[r] = []
    const [found, i] = search(row, node.id)
    if (found) {
      row[i] = node
      return true
    }
    if (row.length >= this.k) {
      if (this.onfull !== null) this.onfull(node, row)
      return false
    }
    row.splice(i, 0, node)
    this.size++
    return true
  }

  remove (id: Uint8Array): N | null {
    const row = this.rows[this.rowIndex(id)]
    if (row === undefined) return null
    const [found, i] = search(row, id)
    if (!found) return null
    const [node] = row.splice(i, 1)
    this.size--
    return node
  }

  get (id: Uint8Array): N | null {
    const row = this.rows[this.rowIndex(id)]
    if (row === undefined) return null
    const [found, i] = search(row, id)
    return found ? row[i] : null
  }

  has (id: Uint8Array): boolean {
    return this.get(id) !== null
  }

  random (): N | null {
    if (this.size === 0) return null
    let n = Math.floor(Math.random() * this.size)
    for (const row of this.rows) {
      if (row === undefined) continue
      if (n < row.length) return row[n]
      n -= row.length
    }
    return null
  }

  // The up-to-k nodes closest to target by XOR distance, closest first (exact,
  // unlike a plain row walk). With d = the row target would fall in: row d is
  // closest (it matches target at bit d too), every row above d differs from
  // target first at bit d, and a row i below d differs at bit i, farther the
  // lower i is.
  closest (target: Uint8Array, k = this.k): N[] {
    const out: N[] = []
    const d = this.rowIndex(target)
    for (let i = d; i < this.rows.length; i++) pushRow(this.rows[i], out)
    out.sort((a, b) => compareDistance(target, a.id, b.id))
    if (out.length >= k) return out.slice(0, k)
    for (let i = d - 1; i >= 0 && out.length < k; i--) {
      const row = this.rows[i]
      if (row === undefined || row.length === 0) continue
      const sorted = row.slice().sort((a, b) => compareDistance(target, a.id, b.id))
      for (const n of sorted) {
        if (out.length >= k) break
        out.push(n)
      }
    }
    return out
  }

  toArray (): N[] {
    const out: N[] = []
    for (const row of this.rows) pushRow(row, out)
    return out
  }

  private rowIndex (id: Uint8Array): number {
    for (let i = 0; i < id.byteLength; i++) {
      const x = id[i] ^ this.id[i]
      if (x !== 0) return i * 8 + Math.clz32(x) - 24
    }
    return this.rows.length - 1
  }
}

function pushRow<N> (row: N[] | undefined, out: N[]): void {
  if (row !== undefined) for (const n of row) out.push(n)
}

// <0 if a is closer to target than b
export function compareDistance (target: Uint8Array, a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < target.byteLength; i++) {
    if (a[i] === b[i]) continue
    return (target[i] ^ a[i]) - (target[i] ^ b[i])
  }
  return 0
}

export function equalBytes (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false
  return true
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

function search<N extends RoutingNode> (row: N[], id: Uint8Array): [boolean, number] {
  let l = 0
  let r = row.length - 1
  while (l <= r) {
    const m = (l + r) >> 1
    const c = compareBytes(id, row[m].id)
    if (c === 0) return [true, m]
    if (c < 0) r = m - 1
    else l = m + 1
  }
  return [false, l]
}
