// CRC-32 (zlib's, IEEE 802.3) for the checksum sidecar (checksums.ts):
// native/hyperfs_crc.c where `npm run build:native` built it (carry-less
// multiplies, about 3× node:zlib's byte tables here), else node:zlib's
// crc32. Both give the same value for the same bytes, so a sidecar written
// with one is read with the other. HYPERFS_CRC=zlib forces the fallback (the
// tests run the checksum suite both ways).
import { createRequire } from 'node:module'
import { crc32 as zlibCrc32 } from 'node:zlib'

export type Crc32 = (bytes: Uint8Array) => number

export interface NativeCrc {
  crc32: (bytes: Uint8Array, value?: number) => number
  crc32Tables: (bytes: Uint8Array, value?: number) => number // without the carry-less multiplies
  clmul: boolean // whether crc32 uses them on this CPU
}

// Where `npm run build:native` puts the addon, from dist/src/core/.
const ADDON = '../../../native/build/hyperfs_crc.node'

const crc32Zlib: Crc32 = (bytes) => zlibCrc32(bytes)

// The addon, or why it did not load.
export function loadNativeCrc (): { addon: NativeCrc } | { error: Error } {
  try {
    return { addon: createRequire(import.meta.url)(ADDON) as NativeCrc }
  } catch (err) {
    return { error: err as Error }
  }
}

function chosen (): NativeCrc | null {
  if (process.env.HYPERFS_CRC === 'zlib') return null
  const loaded = loadNativeCrc()
  return 'addon' in loaded ? loaded.addon : null
}

const native = chosen()

export const crc32: Crc32 = native ? native.crc32 : crc32Zlib
export const crc32Native: boolean = native !== null
