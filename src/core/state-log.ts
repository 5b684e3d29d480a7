// The state file: what makes appends atomic. Two 4 KiB slots, written in
// turn; each holds `u32 length ‖ payload ‖ H(payload)` (see codec/core-storage).
// On open the valid slot with the higher sequence number wins, so a write torn
// by a crash leaves the previous state in force. A core writes its data and
// tree first and commits here last; only then is an append acknowledged.
import { hash } from '../crypto/index.js'
import { encode, decode, coreState, type CoreState, STATE_SLOT_SIZE, MAX_SIGNATURE } from '../codec/index.js'
import { HyperfsError } from '../errors.js'
import type { StorageFile } from './storage.js'

export type TreeState = Omit<CoreState, 'seq'>

export class StateLog {
  private readonly file: StorageFile
  private seq: number

  private constructor (file: StorageFile, seq: number) {
    this.file = file
    this.seq = seq
  }

  // The newest valid state (length 0 for a new core).
  static async open (file: StorageFile): Promise<{ log: StateLog, state: TreeState }> {
    const size = await file.size()
    if (size === 0) return { log: new StateLog(file, 0), state: { fork: 0, length: 0, byteLength: 0, signature: Buffer.alloc(0) } }
    const buf = await file.read(0, Math.min(size, 2 * STATE_SLOT_SIZE))
    let best: CoreState | null = null
    for (let slot = 0; slot < 2; slot++) {
      const st = decodeSlot(buf, slot * STATE_SLOT_SIZE)
      if (st && (!best || st.seq > best.seq)) best = st
    }
    if (!best) throw HyperfsError.STORAGE_CORRUPT(`${file.name}: no valid state slot`)
    const { seq, ...state } = best
    return { log: new StateLog(file, seq), state }
  }

  async commit (state: TreeState): Promise<void> {
    const seq = this.seq + 1
    const payload = encode(coreState, { seq, ...state })
    if (payload.byteLength > MAX_SIGNATURE) throw HyperfsError.BAD_ARGUMENT('signature too large to store')
    const slot = Buffer.allocUnsafe(4 + payload.byteLength + 32)
    slot.writeUInt32LE(payload.byteLength, 0)
    payload.copy(slot, 4)
    hash(payload).copy(slot, 4 + payload.byteLength)
    await this.file.write((seq % 2) * STATE_SLOT_SIZE, slot)
    this.seq = seq
  }
}

function decodeSlot (buf: Buffer, offset: number): CoreState | null {
  if (buf.byteLength < offset + 4) return null
  const len = buf.readUInt32LE(offset)
  if (len === 0 || offset + 4 + len + 32 > buf.byteLength || len > STATE_SLOT_SIZE - 36) return null
  const payload = buf.subarray(offset + 4, offset + 4 + len)
  if (!hash(payload).equals(buf.subarray(offset + 4 + len, offset + 4 + len + 32))) return null
  try {
    return decode(coreState, payload)
  } catch {
    return null
  }
}
