// One error class for the whole project. Every error carries a `code`; callers
// branch on the code, never on the message. Create errors through the factories
// (HyperfsError.ENOENT(path)) so that code and message stay consistent.

export class HyperfsError extends Error {
  readonly code: string

  constructor (code: string, msg?: string, opts?: { cause?: unknown }) {
    super(msg ? `${code}: ${msg}` : code, opts)
    this.code = code
    this.name = 'HyperfsError'
  }

  static from (code: string, msg?: string, cause?: unknown): HyperfsError {
    return new HyperfsError(code, msg, cause === undefined ? undefined : { cause })
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

  // hypercore
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
  static CANNOT_HOLEPUNCH (msg?: string) { return new HyperfsError('CANNOT_HOLEPUNCH', msg) }
  static SERVER_ERROR (msg?: string) { return new HyperfsError('SERVER_ERROR', msg) }
}

export function isHyperfsError (err: unknown, code?: string): err is HyperfsError {
  return err instanceof HyperfsError && (code === undefined || err.code === code)
}
