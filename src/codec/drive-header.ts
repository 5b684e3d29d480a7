// The drive's part of the metadata core's header (block 0, inside the trie
// header's metadata bytes): which core holds the file bytes and how they are cut.
//   string protocol ("hyperfs/drive") ‖ fixed32 contentKey ‖ uint blockSize
// Every file's content is cut into blockSize blocks (the last one shorter), so a
// reader maps a byte offset to a block with arithmetic, with no seek round trip.
import { DecodeError } from './decode-error.js'
import { type Codec } from './state.js'
import { uint, string, fixed32 } from './primitives.js'

export const DRIVE_PROTOCOL = 'hyperfs/drive'

export interface DriveHeader {
  contentKey: Buffer
  blockSize: number
}

export const driveHeader: Codec<DriveHeader> = {
  preencode (s, h) {
    string.preencode(s, DRIVE_PROTOCOL)
    fixed32.preencode(s, h.contentKey)
    uint.preencode(s, h.blockSize)
  },
  encode (s, h) {
    string.encode(s, DRIVE_PROTOCOL)
    fixed32.encode(s, h.contentKey)
    uint.encode(s, h.blockSize)
  },
  decode (s) {
    const p = string.decode(s)
    if (p !== DRIVE_PROTOCOL) throw new DecodeError(`not a drive header (protocol "${p.slice(0, 40)}")`)
    const contentKey = Buffer.from(fixed32.decode(s))
    const blockSize = uint.decode(s)
    if (blockSize < 1 || blockSize > 16 * 1024 * 1024) throw new DecodeError(`bad block size ${blockSize}`)
    return { contentKey, blockSize }
  }
}
