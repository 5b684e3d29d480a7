// The one factory of drive formats. A drive's first block says which format
// it is in: the Hypertrie header (codec/trie-header.ts, a compact-encoding
// string "hyperfs/trie") or the Hyperbee header of a hyperdrive@13 drive
// (codec/bee-node.ts, protobuf, whose first byte is 0x0a). The two cannot be
// mistaken for each other: a trie header starts with the string's length, 12.
// A drive with no block yet (a new drive whose writer has written nothing, or
// one no peer has sent) is taken as the default, the Hypertrie drive.
import type { Hypercore } from '../core/hypercore.js'
import type { Store } from '../store/store.js'
import { decode } from '../codec/state.js'
import { trieHeader } from '../codec/trie-header.js'
import { beeHeader, BEE_PROTOCOL } from '../codec/bee-node.js'
import { HyperfsError, safetyCatch } from '../errors.js'
import { Hyperdrive, type HyperdriveOptions } from './hyperdrive.js'
import { Hyperdrive13 } from './hyperdrive13.js'
import type { RoutedDrive } from './routed-drive.js'
import type { DriveFormatName } from './drive-format.js'

export const DRIVE_FORMATS: readonly DriveFormatName[] = ['hypertrie', 'hyperdrive13']

// The format of a drive whose first block is `block`; DECODE_ERROR when it is
// the first block of neither.
export function formatOf (block: Buffer): DriveFormatName {
  try {
    decode(trieHeader, block)
    return 'hypertrie'
  } catch (err) {
    safetyCatch(err) // not a trie header: try the next
  }
  try {
    if (decode(beeHeader, block).protocol === BEE_PROTOCOL) return 'hyperdrive13'
  } catch (err) {
    safetyCatch(err)
  }
  throw HyperfsError.DECODE_ERROR('the first block of this core is not the header of a drive (neither a Hypertrie nor a Hyperbee)')
}

// The format of the drive on `metadata`, from its first block (fetched from
// peers within `timeout` when it is not held here).
export async function detectFormat (metadata: Hypercore, timeout: number): Promise<DriveFormatName> {
  await metadata.ready()
  if (metadata.length === 0) return 'hypertrie'
  const block = await metadata.get(0, { timeout })
  return formatOf(block!)
}

// A drive of format `kind` on `metadata`, its other cores from `store`.
export function openFormat (kind: DriveFormatName, metadata: Hypercore, store: Store, opts: HyperdriveOptions): RoutedDrive {
  if (kind === 'hypertrie') {
    return new Hyperdrive({ metadata, content: (contentKey) => store.get({ key: contentKey, role: 'content' }) }, opts)
  }
  return new Hyperdrive13({
    db: metadata,
    blobs: (key, o) => store.get({ key, role: 'content', ...(o.manifest ? { manifest: o.manifest } : {}), ...(o.keyPair ? { keyPair: o.keyPair } : {}) })
  }, opts)
}
