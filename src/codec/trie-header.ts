// Block 0 of a trie's core: identifies the core as a hyperfs trie and carries
// opaque bytes for the layer above (the drive keeps its content key there).
//   string protocol ("hyperfs/trie") ‖ optionalBuffer metadata
import { DecodeError } from './decode-error.js'
import { type Codec } from './state.js'
import { string, optionalBuffer } from './primitives.js'

export const TRIE_PROTOCOL = 'hyperfs/trie'

export interface TrieHeader {
  protocol: string
  metadata: Uint8Array | null
}

export const trieHeader: Codec<TrieHeader> = {
  preencode (s, h) {
    string.preencode(s, h.protocol)
    optionalBuffer.preencode(s, h.metadata)
  },
  encode (s, h) {
    string.encode(s, h.protocol)
    optionalBuffer.encode(s, h.metadata)
  },
  decode (s) {
    const protocol = string.decode(s)
    if (protocol !== TRIE_PROTOCOL) throw new DecodeError(`not a trie header (protocol "${protocol.slice(0, 40)}")`)
    return { protocol, metadata: optionalBuffer.decode(s) }
  }
}
