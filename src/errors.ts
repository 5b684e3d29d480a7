// One error class for the whole project. Every error carries a `code` from the
// closed set ErrorCode; callers branch on the code with isHyperfsError(err, CODE),
// never on the message or with a string comparison. Create errors through the
// factories (HyperfsError.ENOENT(path)) so that code and message stay consistent.
// Modelled on hyperdht's lib/errors.js (one static factory per code).

export const ERROR_CODES = [
  // filesystem (errno names: src/fuse/errno.ts maps them, once)
  'ENOENT', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'EEXIST', 'EROFS', 'EINVAL', 'ELOOP', 'EXDEV', 'EBUSY',
  'EBADF', 'ENODATA', 'EOPNOTSUPP', 'EPERM', 'ENOSPC', 'ENAMETOOLONG', 'EIO',
  // hypercore and storage
  'BAD_ARGUMENT', 'SESSION_NOT_WRITABLE', 'SESSION_CLOSED', 'BLOCK_NOT_AVAILABLE', 'INVALID_PROOF',
  'INVALID_SIGNATURE', 'INVALID_MANIFEST', 'INVALID_OPERATION', 'STORAGE_CORRUPT', 'STORAGE_LOCKED',
  'STORAGE_EMPTY', 'STORAGE_IO', 'STORAGE_INSECURE',
  // drives
  'DRIVE_NOT_FOUND', 'INVALID_NAME', 'MOUNT_CYCLE', 'WALK_TOO_DEEP', 'INVALID_BEE',
  'DOWNLOAD_INCOMPLETE',
  // network
  'REQUEST_CANCELLED', 'REQUEST_TIMEOUT', 'REQUEST_DESTROYED', 'QUERY_FAILED', 'PROTOCOL_ERROR',
  'HANDSHAKE_FAILED', 'INVALID_CAPABILITY', 'MESSAGE_TOO_LARGE', 'DECODE_ERROR', 'PEER_NOT_FOUND',
  'PEER_CONNECTION_FAILED', 'CANNOT_HOLEPUNCH', 'SERVER_ERROR', 'PEER_TIMEOUT', 'LISTEN_FAILED',
  // daemon and CLI
  'BAD_ADDRESS', 'BAD_KEY', 'CONTROL_SOCKET', 'DAEMON_GONE', 'DAEMON_NOT_RUNNING', 'DAEMON_RUNNING',
  'DAEMON_START_FAILED', 'DAEMON_STOPPING', 'DAEMON_UNREACHABLE', 'UNKNOWN_METHOD', 'FUSE_FAILED'
] as const

export type ErrorCode = typeof ERROR_CODES[number]

const KNOWN = new Set<string>(ERROR_CODES)

export class HyperfsError extends Error {
  readonly code: ErrorCode

  constructor (code: ErrorCode, msg?: string, opts?: { cause?: unknown }) {
    super(msg ? `${code}: ${msg}` : code, opts)
    this.code = code
    this.name = 'HyperfsError'
  }

  static from (code: ErrorCode, msg?: string, cause?: unknown): HyperfsError {
    return new HyperfsError(code, msg, cause === undefined ? undefined : { cause })
  }

  /** An error that crossed a process boundary (the control socket) as { code, message }. */
  static revive (code: string, msg: string): HyperfsError {
    return KNOWN.has(code) ? new HyperfsError(code as ErrorCode, msg) : new HyperfsError('EIO', `${code}: ${msg}`)
  }

  // filesystem
  static ENOENT (msg?: string) { return new HyperfsError('ENOENT', msg) }
  static ENOTDIR (msg?: string) { return new HyperfsError('ENOTDIR', msg) }
  static EISDIR (msg?: string) { return new HyperfsError('EISDIR', msg) }
  static ENOTEMPTY (msg?: string) { return new HyperfsError('ENOTEMPTY', msg) }
  static EEXIST (msg?: string) { return new HyperfsError('EEXIST', msg) }
  static EROFS (msg?: string) { return new HyperfsError('EROFS', msg) }
  static EINVAL (msg?: string) { return new HyperfsError('EINVAL', msg) }
  static ELOOP (msg?: string) { return new HyperfsError('ELOOP', msg) }
  static EXDEV (msg?: string) { return new HyperfsError('EXDEV', msg) }
  static EBUSY (msg?: string) { return new HyperfsError('EBUSY', msg) }
  static EBADF (msg?: string) { return new HyperfsError('EBADF', msg) }
  static ENODATA (msg?: string) { return new HyperfsError('ENODATA', msg) }
  static EOPNOTSUPP (msg?: string) { return new HyperfsError('EOPNOTSUPP', msg) }
  static EPERM (msg?: string) { return new HyperfsError('EPERM', msg) }
  static ENOSPC (msg?: string) { return new HyperfsError('ENOSPC', msg) }
  static ENAMETOOLONG (msg?: string) { return new HyperfsError('ENAMETOOLONG', msg) }

  // hypercore and storage
  static BAD_ARGUMENT (msg?: string) { return new HyperfsError('BAD_ARGUMENT', msg) }
  static SESSION_NOT_WRITABLE (msg?: string) { return new HyperfsError('SESSION_NOT_WRITABLE', msg) }
  static SESSION_CLOSED (msg?: string) { return new HyperfsError('SESSION_CLOSED', msg) }
  static BLOCK_NOT_AVAILABLE (msg?: string) { return new HyperfsError('BLOCK_NOT_AVAILABLE', msg) }
  static INVALID_PROOF (msg?: string) { return new HyperfsError('INVALID_PROOF', msg) }
  static INVALID_SIGNATURE (msg?: string) { return new HyperfsError('INVALID_SIGNATURE', msg) }
  static INVALID_MANIFEST (msg?: string) { return new HyperfsError('INVALID_MANIFEST', msg) }
  static INVALID_OPERATION (msg?: string) { return new HyperfsError('INVALID_OPERATION', msg) }
  static STORAGE_CORRUPT (msg?: string) { return new HyperfsError('STORAGE_CORRUPT', msg) }
  static STORAGE_LOCKED (msg?: string) { return new HyperfsError('STORAGE_LOCKED', msg) }
  static STORAGE_EMPTY (msg?: string) { return new HyperfsError('STORAGE_EMPTY', msg) }
  static STORAGE_INSECURE (msg?: string) { return new HyperfsError('STORAGE_INSECURE', msg) }

  // drives
  static INVALID_NAME (msg?: string) { return new HyperfsError('INVALID_NAME', msg) }
  static MOUNT_CYCLE (msg?: string) { return new HyperfsError('MOUNT_CYCLE', msg) }
  static WALK_TOO_DEEP (msg?: string) { return new HyperfsError('WALK_TOO_DEEP', msg) }
  /** A Hyperbee's blocks decode but do not form a B-tree: a pointer out of range, a loop, keys out of order. */
  static INVALID_BEE (msg?: string) { return new HyperfsError('INVALID_BEE', msg) }
  static DOWNLOAD_INCOMPLETE (msg?: string) { return new HyperfsError('DOWNLOAD_INCOMPLETE', msg) }

  // network
  static REQUEST_CANCELLED (msg?: string) { return new HyperfsError('REQUEST_CANCELLED', msg) }
  static REQUEST_TIMEOUT (msg?: string) { return new HyperfsError('REQUEST_TIMEOUT', msg) }
  static REQUEST_DESTROYED (msg?: string) { return new HyperfsError('REQUEST_DESTROYED', msg) }
  static QUERY_FAILED (msg?: string) { return new HyperfsError('QUERY_FAILED', msg) }
  static PROTOCOL_ERROR (msg?: string) { return new HyperfsError('PROTOCOL_ERROR', msg) }
  static HANDSHAKE_FAILED (msg?: string) { return new HyperfsError('HANDSHAKE_FAILED', msg) }
  static INVALID_CAPABILITY (msg?: string) { return new HyperfsError('INVALID_CAPABILITY', msg) }
  static MESSAGE_TOO_LARGE (msg?: string) { return new HyperfsError('MESSAGE_TOO_LARGE', msg) }
  static DECODE_ERROR (msg?: string) { return new HyperfsError('DECODE_ERROR', msg) }
  static PEER_NOT_FOUND (msg?: string) { return new HyperfsError('PEER_NOT_FOUND', msg) }
  static PEER_CONNECTION_FAILED (msg?: string) { return new HyperfsError('PEER_CONNECTION_FAILED', msg) }
  static PEER_TIMEOUT (msg?: string) { return new HyperfsError('PEER_TIMEOUT', msg) }
  static CANNOT_HOLEPUNCH (msg?: string) { return new HyperfsError('CANNOT_HOLEPUNCH', msg) }
  static SERVER_ERROR (msg?: string) { return new HyperfsError('SERVER_ERROR', msg) }
}

/** True when err is ours and, if codes are given, carries one of them. */
export function isHyperfsError (err: unknown, ...codes: ErrorCode[]): err is HyperfsError {
  return err instanceof HyperfsError && (codes.length === 0 || codes.includes(err.code))
}

/** The `code` of a Node system error (ENOENT, EPIPE, ELOCKED…), or '' for anything else. */
export function systemCode (err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : ''
}

/**
 * For a catch that drops an error on purpose: it rethrows programming errors, which
 * a silent catch would hide, and drops the rest (as Holepunch's safety-catch does).
 */
export function safetyCatch (err: unknown): void {
  if (err instanceof TypeError || err instanceof RangeError || err instanceof ReferenceError ||
      err instanceof SyntaxError || err instanceof EvalError) throw err
}

/**
 * Marks a promise that nobody may await (a prefetch the reader stopped wanting) as
 * handled, so that it does not become an unhandled rejection; whoever does await it
 * still sees the error.
 */
export function handled<T> (p: Promise<T>): Promise<T> {
  p.catch(noop)
  return p
}

function noop (): void {}
