// Flat-tree index math: block i is node 2i (leaves even, parents odd). depth(n)
// is the count of trailing 1-bits; index(d, o) = (2o+1)·2^d − 1. Indices go far
// past 2^32, so everything is plain arithmetic on doubles, never bitwise ops.

export function index (depth: number, offset: number): number {
  return (2 * offset + 1) * 2 ** depth - 1
}

export function depth (n: number): number {
  let d = 0
  while (n % 2 === 1) { n = (n - 1) / 2; d++ }
  return d
}

export function offset (n: number, d = depth(n)): number {
  if (n % 2 === 0) return n / 2
  return ((n + 1) / 2 ** d - 1) / 2
}

export function parent (n: number): number {
  const d = depth(n)
  return index(d + 1, Math.floor(offset(n, d) / 2))
}

export function sibling (n: number): number {
  const d = depth(n)
  const o = offset(n, d)
  return index(d, o % 2 === 0 ? o + 1 : o - 1)
}

// sibling() and parent() of the node at `depth` and `offset`, for a caller
// that walks up and keeps both (no depth to count again at each step)
export function siblingAt (depth: number, offset: number): number {
  return index(depth, offset % 2 === 0 ? offset + 1 : offset - 1)
}

export function parentAt (depth: number, offset: number): number {
  return index(depth + 1, Math.floor(offset / 2))
}

export function children (n: number): [number, number] | null {
  if (n % 2 === 0) return null
  const d = depth(n)
  const o = offset(n, d) * 2
  return [index(d - 1, o), index(d - 1, o + 1)]
}

export function leftSpan (n: number): number {
  if (n % 2 === 0) return n
  const d = depth(n)
  return offset(n, d) * 2 ** (d + 1)
}

export function rightSpan (n: number): number {
  if (n % 2 === 0) return n
  const d = depth(n)
  return (offset(n, d) + 1) * 2 ** (d + 1) - 2
}

export function countLeaves (n: number): number {
  return 2 ** depth(n)
}

export function isLeftChild (n: number): boolean {
  return offset(n) % 2 === 0
}

// The roots of a tree whose leaves cover [0, index), ascending. Pass 2·length.
export function fullRoots (idx: number): number[] {
  if (idx % 2 === 1) throw new Error('fullRoots takes an even index (2·length)')
  const result: number[] = []
  let tmp = idx / 2
  let covered = 0
  let factor = 1
  while (factor * 2 <= tmp) factor *= 2
  while (tmp > 0) {
    while (factor > tmp) factor /= 2
    result.push(covered + factor - 1)
    covered += 2 * factor
    tmp -= factor
  }
  return result
}

// true if tree node `n` lies within the subtree of `root`
export function contains (root: number, n: number): boolean {
  return n >= leftSpan(root) && n <= rightSpan(root)
}
