// Noise XX and IK handshakes, byte-compatible with noise-handshake 4 +
// noise-curve-ed (docs/wire.md §5.1, §5.2):
//   XX:  -> e            <- e, ee, s, es        -> s, se
//   IK:  <- s (pre)      -> e, es, s, ss        <- e, ee, se
// Each message ends with encryptAndHash(payload). The prologue is mixed into h
// even when empty. On completion: k1, k2 = split(); the initiator sends with k1,
// and hash = the final 64-byte h.
import sodium from 'sodium-native'
import { HyperfsError } from '../errors.js'
import { keyPair as newKeyPair, type KeyPair } from '../crypto/sign.js'
import { SymmetricState, MAX_NOISE_MESSAGE } from './symmetric-state.js'
import { dh, PKLEN } from './ed25519-dh.js'

export type NoisePattern = 'XX' | 'IK'
type Token = 'e' | 's' | 'ee' | 'es' | 'se' | 'ss'

interface PatternSpec {
  // the responder's static key is known to the initiator before the handshake
  preResponderStatic: boolean
  messages: Token[][]
}

const PATTERNS: Record<NoisePattern, PatternSpec> = {
  XX: { preResponderStatic: false, messages: [['e'], ['e', 'ee', 's', 'es'], ['s', 'se']] },
  IK: { preResponderStatic: true, messages: [['e', 'es', 's', 'ss'], ['e', 'ee', 'se']] }
}

const EMPTY = Buffer.alloc(0)

export interface NoiseOptions {
  prologue?: Uint8Array
  // the responder's static key; required for IK on the initiator side
  remoteStaticKey?: Uint8Array | null
  // fixed ephemeral key pair, for test vectors only
  ephemeralKeyPair?: KeyPair
}

export class NoiseState extends SymmetricState {
  readonly pattern: NoisePattern
  readonly isInitiator: boolean
  readonly protocolName: Buffer
  complete = false
  tx: Buffer | null = null
  rx: Buffer | null = null
  hash: Buffer | null = null

  private readonly s: KeyPair
  private e: KeyPair | null
  private readonly ownsEphemeral: boolean
  private rs: Buffer | null = null
  private re: Buffer | null = null
  private step = 0
  private failed = false
  private readonly messages: Token[][]

  constructor (pattern: NoisePattern, isInitiator: boolean, staticKeyPair: KeyPair | null, opts: NoiseOptions = {}) {
    super()
    const spec = PATTERNS[pattern]
    if (!spec) throw HyperfsError.BAD_ARGUMENT('unknown noise pattern ' + String(pattern))
    this.pattern = pattern
    this.isInitiator = isInitiator
    this.messages = spec.messages
    this.s = staticKeyPair ?? newKeyPair()
    this.e = opts.ephemeralKeyPair ?? null
    this.ownsEphemeral = this.e === null
    this.protocolName = Buffer.from(`Noise_${pattern}_Ed25519_ChaChaPoly_BLAKE2b`)

    this.initialiseSymmetric(this.protocolName)
    this.mixHash(opts.prologue ?? EMPTY)

    if (spec.preResponderStatic) {
      if (isInitiator) {
        const rs = opts.remoteStaticKey
        if (!rs || rs.byteLength !== PKLEN) throw HyperfsError.BAD_ARGUMENT(`${pattern} initiator needs the remote static key`)
        this.rs = Buffer.from(rs)
        this.mixHash(this.rs)
      } else {
        this.mixHash(this.s.publicKey)
      }
    }
  }

  get publicKey (): Buffer {
    return this.s.publicKey
  }

  // The peer's static key: known up front (IK initiator) or learnt in the handshake.
  get remotePublicKey (): Buffer | null {
    return this.rs
  }

  // True when the next handshake message is ours to send.
  get isOurTurn (): boolean {
    return !this.complete && (this.step % 2 === 0) === this.isInitiator
  }

  send (payload: Uint8Array = EMPTY): Buffer {
    if (this.failed || this.complete) throw HyperfsError.HANDSHAKE_FAILED('handshake is not in progress')
    if (!this.isOurTurn) throw HyperfsError.HANDSHAKE_FAILED('not our turn to send')
    try {
      const parts: Buffer[] = []
      for (const token of this.messages[this.step]) {
        if (token === 'e') {
          if (this.e === null) this.e = newKeyPair()
          this.mixHash(this.e.publicKey)
          parts.push(this.e.publicKey)
        } else if (token === 's') {
          parts.push(this.encryptAndHash(this.s.publicKey))
        } else {
          this.mixDH(token)
        }
      }
      parts.push(this.encryptAndHash(payload))
      const out = Buffer.concat(parts)
      if (out.byteLength > MAX_NOISE_MESSAGE) throw new RangeError('noise message over 65535 bytes')
      this.advance()
      return out
    } catch (err) {
      throw this.fail(err)
    }
  }

  // Returns the decrypted payload. Any failure (short message, bad MAC, bad
  // point) ends the handshake with HANDSHAKE_FAILED.
  recv (message: Uint8Array): Buffer {
    if (this.failed || this.complete) throw HyperfsError.HANDSHAKE_FAILED('handshake is not in progress')
    if (this.isOurTurn) throw HyperfsError.HANDSHAKE_FAILED('not our turn to receive')
    try {
      if (message.byteLength > MAX_NOISE_MESSAGE) throw new RangeError('noise message over 65535 bytes')
      let offset = 0
      const take = (n: number): Buffer => {
        if (offset + n > message.byteLength) throw new RangeError('handshake message too short')
        const b = Buffer.from(message.subarray(offset, offset + n))
        offset += n
        return b
      }
      for (const token of this.messages[this.step]) {
        if (token === 'e') {
          this.re = take(PKLEN)
          this.mixHash(this.re)
        } else if (token === 's') {
          const rs = this.decryptAndHash(take(this.hasKey ? PKLEN + 16 : PKLEN))
          // IK responders learn the key here; an IK initiator never reaches this token
          this.rs = rs
        } else {
          this.mixDH(token)
        }
      }
      const payload = this.decryptAndHash(message.subarray(offset))
      this.advance()
      return payload
    } catch (err) {
      throw this.fail(err)
    }
  }

  private mixDH (token: Token): void {
    const useLocalStatic = token === 'ss' || (token === 'se' && this.isInitiator) || (token === 'es' && !this.isInitiator)
    const useRemoteStatic = token === 'ss' || (token === 'es' && this.isInitiator) || (token === 'se' && !this.isInitiator)
    const local = useLocalStatic ? this.s : this.e
    const remote = useRemoteStatic ? this.rs : this.re
    if (local === null || remote === null) throw new Error('missing key for ' + token)
    const shared = dh(remote, local)
    this.mixKeyMaterial(shared)
    sodium.sodium_memzero(shared)
  }

  private advance (): void {
    this.step++
    if (this.step < this.messages.length) return
    const [k1, k2] = this.split()
    this.tx = this.isInitiator ? k1 : k2
    this.rx = this.isInitiator ? k2 : k1
    this.hash = Buffer.from(this.digest)
    this.complete = true
    this.clearSymmetric()
    if (this.e && this.ownsEphemeral) sodium.sodium_memzero(this.e.secretKey)
    this.e = null
    this.re = null
  }

  private fail (err: unknown): HyperfsError {
    this.failed = true
    if (err instanceof HyperfsError) return err
    return HyperfsError.from('HANDSHAKE_FAILED', (err as Error)?.message ?? String(err), err)
  }
}
