// The one place where errors become errno numbers for FUSE. Filesystem code
// throws HyperfsError (or lets node's own fs errors through, for the staging
// files); the bridge (bridge.ts) calls toErrno() on whatever was thrown. An
// error this table does not know is a bug somewhere below us: it becomes EIO
// and is logged with its stack so it can be found.
//
// A full disk is ENOSPC wherever it shows: as a node system error (the
// staging files), as EDQUOT (a quota), or wrapped by the storage layer in a
// STORAGE_IO whose cause says so. Programs tell the user "No space left on
// device", not "Input/output error".
import { systemCode } from '../errors.js'

export interface ErrnoLogger {
  error (msg: string): void
}

// Linux values; fuse-native itself only runs on Linux and macOS, and the
// tests that use this only run on Linux.
export const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  EEXIST: 17,
  EXDEV: 18,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  ENOSPC: 28,
  EROFS: 30,
  ERANGE: 34,
  ENAMETOOLONG: 36,
  ENOSYS: 38,
  ENOTEMPTY: 39,
  ELOOP: 40,
  ENODATA: 61,
  EOPNOTSUPP: 95,
  ETIMEDOUT: 110
} as const

export type ErrnoName = keyof typeof ERRNO

// Codes that mean "the bytes could not be had", whatever the reason. The
// kernel and every program understand EIO; few understand ETIMEDOUT on a file.
const UNAVAILABLE = new Set([
  'REQUEST_TIMEOUT',
  'REQUEST_CANCELLED',
  'BLOCK_NOT_AVAILABLE',
  'SESSION_CLOSED',
  'INVALID_PROOF',
  'INVALID_SIGNATURE',
  'STORAGE_CORRUPT',
  'DECODE_ERROR',
  'INVALID_BEE'
])

const ALIASES: Record<string, ErrnoName> = {
  EDQUOT: 'ENOSPC',
  SESSION_NOT_WRITABLE: 'EROFS',
  BAD_ARGUMENT: 'EINVAL',
  INVALID_OPERATION: 'EINVAL',
  INVALID_NAME: 'EINVAL', // a name a drive cannot hold (NUL, '/', '.', '..')
  MOUNT_CYCLE: 'ELOOP',
  WALK_TOO_DEEP: 'ELOOP',
  ENOTSUP: 'EOPNOTSUPP'
}

// Codes that wrap a system error (in `cause`) from the disk under a core.
const WRAPS_SYSTEM_ERROR = new Set(['STORAGE_IO'])
const FULL_DISK = new Set(['ENOSPC', 'EDQUOT'])
const MAX_CAUSE_DEPTH = 8

// Returns a negative errno. Never throws.
export function toErrno (err: unknown, logger: ErrnoLogger, context = ''): number {
  const code = systemCode(err)
  if (Object.hasOwn(ERRNO, code)) return -ERRNO[code as ErrnoName]
  if (WRAPS_SYSTEM_ERROR.has(code) && fullDisk(err)) return -ERRNO.ENOSPC
  if (Object.hasOwn(ALIASES, code)) return -ERRNO[ALIASES[code]]
  if (UNAVAILABLE.has(code)) {
    // expected in a p2p filesystem, but the user only sees "Input/output
    // error", so say here which path and why
    logger.error(`EIO ${context}: ${(err as Error).message}`)
    return -ERRNO.EIO
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err)
  logger.error(`EIO ${context}: unexpected error: ${stack}`)
  return -ERRNO.EIO
}

function fullDisk (err: unknown): boolean {
  let e = (err as { cause?: unknown }).cause
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && e; depth++) {
    if (FULL_DISK.has(systemCode(e))) return true
    e = (e as { cause?: unknown }).cause
  }
  return false
}
