// Merkle tree node as it travels in proofs and multisig patches:
// uint index (flat-tree index) ‖ uint size (data bytes beneath) ‖ fixed32 hash.
import { type Codec, type State } from './state.js'
import { uint, fixed32, array } from './primitives.js'

export interface TreeNode {
  index: number
  size: number
  hash: Buffer
}

export const treeNode: Codec<TreeNode> = {
  preencode (s, n) {
    uint.preencode(s, n.index)
    uint.preencode(s, n.size)
    fixed32.preencode(s, n.hash)
  },
  encode (s, n) {
    uint.encode(s, n.index)
    uint.encode(s, n.size)
    fixed32.encode(s, n.hash)
  },
  decode (s: State) {
    const index = uint.decode(s)
    const size = uint.decode(s)
    // fixed32 slices the state's Buffer, so the result is a Buffer
    const hash = fixed32.decode(s) as Buffer
    return { index, size, hash }
  }
}

export const treeNodeArray: Codec<TreeNode[]> = array(treeNode)
