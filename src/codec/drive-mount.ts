// A mount record: what is mounted at a path of a drive.
//   uint kind (0 drive, 1 core) ‖ fixed32 key ‖ uint pinned (0 = follow the
//   latest version, else version + 1)
import { DecodeError } from './decode-error.js'
import { type Codec } from './state.js'
import { uint, fixed32 } from './primitives.js'

export interface DriveMountRecord {
  key: Buffer
  version: number | null
  kind: 'drive' | 'core'
}

export const driveMount: Codec<DriveMountRecord> = {
  preencode (s, m) {
    uint.preencode(s, m.kind === 'core' ? 1 : 0)
    fixed32.preencode(s, m.key)
    uint.preencode(s, m.version === null ? 0 : m.version + 1)
  },
  encode (s, m) {
    uint.encode(s, m.kind === 'core' ? 1 : 0)
    fixed32.encode(s, m.key)
    uint.encode(s, m.version === null ? 0 : m.version + 1)
  },
  decode (s) {
    const kind = uint.decode(s)
    if (kind > 1) throw new DecodeError(`unknown mount kind ${kind}`)
    const key = Buffer.from(fixed32.decode(s))
    const v = uint.decode(s)
    return { kind: kind === 1 ? 'core' : 'drive', key, version: v === 0 ? null : v - 1 }
  }
}
