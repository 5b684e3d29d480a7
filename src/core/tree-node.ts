// A Merkle tree node: `index` is the flat-tree index, `size` the number of data
// bytes beneath it, `hash` its BLAKE2b-256 hash.
export interface TreeNode {
  index: number
  size: number
  hash: Buffer
}
