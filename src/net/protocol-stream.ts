// The encrypted, multiplexed stream cores replicate over. Given a boolean it
// makes a secret-stream over a bridge and returns the bridge's outer end (pipe
// it to the peer); given a duplex it wraps it in a secret-stream; given one of
// our secret-streams it uses it as is. One Mux per secret-stream, shared by
// every core replicated over it. Matches hypercore's 5 s keepalive, and
// declares the peer dead after SILENCE_TIMEOUT without a byte from it: TCP
// keeps a connection 'established' through an outage and retransmits with a
// backoff of up to two minutes, so a dead link is redialled instead.
import type { Duplex } from 'node:stream'
import { SecretStream } from './secret-stream.js'
import { Mux } from './mux.js'
import { bridge } from './bridge.js'
import type { KeyPair } from '../crypto/index.js'
import { HyperfsError } from '../errors.js'

// an idle side sends an empty frame this often (hypercore's value)
export const KEEP_ALIVE = 5000
// two keepalive periods: one late keepalive is tolerated, a silent link is not
export const SILENCE_TIMEOUT = 2 * KEEP_ALIVE

export interface ProtocolStreamOptions {
  keyPair?: KeyPair
  // for a raw transport (TCP socket, UDX stream): which side dialled
  isInitiator?: boolean
  keepAlive?: number | false
  // ms without a byte from the peer before the stream is destroyed; false when
  // the remote may send no keepalives
  timeout?: number | false
}

export interface ProtocolStream {
  outer: Duplex // what the caller pipes or holds
  secret: SecretStream
  mux: Mux
}

export function protocolStream (isInitiator: boolean | Duplex, opts: ProtocolStreamOptions = {}): ProtocolStream {
  let secret: SecretStream
  let outer: Duplex
  if (isInitiator instanceof SecretStream) {
    secret = isInitiator
    outer = secret
  } else if (typeof isInitiator === 'boolean') {
    const [inner, out] = bridge()
    secret = new SecretStream(isInitiator, inner, { keyPair: opts.keyPair })
    outer = out
    ;(outer as any).noiseStream = secret
    secret.on('close', () => { if (!out.destroyed) out.destroy() })
    out.on('close', () => { if (!secret.destroyed) secret.destroy() })
    out.on('error', () => {})
  } else {
    const raw = isInitiator
    const existing = (raw as any).noiseStream
    if (existing instanceof SecretStream) {
      secret = existing
    } else {
      if (typeof opts.isInitiator !== 'boolean') throw HyperfsError.BAD_ARGUMENT('a raw stream needs opts.isInitiator')
      secret = new SecretStream(opts.isInitiator, raw, { keyPair: opts.keyPair })
      ;(raw as any).noiseStream = secret
    }
    outer = raw
  }
  if (opts.keepAlive !== false) {
    secret.setKeepAlive(typeof opts.keepAlive === 'number' ? opts.keepAlive : KEEP_ALIVE)
    if (opts.timeout !== false) secret.setTimeout(typeof opts.timeout === 'number' ? opts.timeout : SILENCE_TIMEOUT)
  }
  secret.on('error', () => {}) // surfaced through 'close' and the caller's own listeners
  return { outer, secret, mux: Mux.from(secret) }
}
