// An encrypted, message-preserving duplex over any byte stream, wire-compatible
// with @hyperswarm/secret-stream 6 (docs/wire.md §5.3, §5.4):
//   every raw frame is uint24le(length) ‖ body
//   1. Noise XX with empty payloads (skipped when started from a finished handshake)
//   2. each side sends one plain 56-byte frame: H[handshakeHash](NS_INITIATOR or
//      NS_RESPONDER, the sender's role) ‖ its crypto_secretstream header (24 bytes)
//   3. every write is then one crypto_secretstream_xchacha20poly1305 frame:
//      uint24le(n + 17) ‖ push(plaintext, tag MESSAGE), and each received frame is
//      exactly one 'data' chunk; a keepalive is an empty write.
import { Duplex } from 'node:stream'
import sodium from 'sodium-native'
import { HyperfsError } from '../errors.js'
import { keyPair as newKeyPair, type KeyPair } from '../crypto/sign.js'
import { namespace } from '../crypto/hash.js'
import { NoiseState, type NoisePattern } from './noise.js'
import { MAX_NOISE_MESSAGE } from './symmetric-state.js'

const [NS_INITIATOR, NS_RESPONDER] = namespace('hyperswarm/secret-stream', 3)

const HEADERBYTES: number = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES // 24
const ABYTES: number = sodium.crypto_secretstream_xchacha20poly1305_ABYTES // 17
const STATEBYTES: number = sodium.crypto_secretstream_xchacha20poly1305_STATEBYTES
const TAG_MESSAGE: number = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
const IDHEADERBYTES = 32 + HEADERBYTES
const MAX_FRAME = 0xffffff
// the largest plaintext one write can carry
export const MAX_MESSAGE = MAX_FRAME - ABYTES
// writev coalesces frames into one raw write up to about this size
const COALESCE_BYTES = 4 * 1024 * 1024

const PHASE_HANDSHAKE = 0
const PHASE_ID = 1
const PHASE_DATA = 2

const EMPTY = Buffer.alloc(0)

export interface HandshakeResult {
  tx: Uint8Array
  rx: Uint8Array
  hash: Uint8Array
  publicKey: Uint8Array
  remotePublicKey: Uint8Array
}

export interface SecretStreamOptions {
  keyPair?: KeyPair
  // The peer's expected static key. With XX a different key fails the handshake
  // (the real package does not check this); with IK it is required.
  remotePublicKey?: Uint8Array | null
  pattern?: NoisePattern
  // start from a finished handshake (hyperdht's IK): go straight to the id frame
  handshake?: HandshakeResult
  // send an empty encrypted frame when nothing was written for this many ms
  keepAlive?: number
  // drop received empty messages even with keepAlive off
  filterZeroByteMessages?: boolean
  // destroy with PEER_TIMEOUT when nothing arrives for this many ms
  timeout?: number
}

type WriteCallback = (err?: Error | null) => void

export class SecretStream extends Duplex {
  readonly isInitiator: boolean
  readonly rawStream: Duplex
  // lets code that receives an outer stream find the encrypted one (hypercore does this)
  readonly noiseStream: SecretStream = this
  publicKey: Buffer | null = null
  remotePublicKey: Buffer | null
  handshakeHash: Buffer | null = null
  connected = false
  keepAlive = 0
  timeout = 0
  rawBytesRead = 0
  rawBytesWritten = 0
  // one slot for whoever layers on top (Mux.from keeps its mux here)
  userData: unknown = null
  readonly opened: Promise<boolean>

  private noise: NoiseState | null = null
  private readonly expectedRemoteKey: Buffer | null
  private phase = PHASE_HANDSHAKE
  private pushState: Buffer | null = null
  private pullState: Buffer | null = null
  private readonly tag = Buffer.alloc(1)
  private filterEmpty: boolean

  // frame parser
  private headerBytes = 0
  private frameLength = 0
  private partial: Buffer | null = null
  private partialFill = 0
  private parsing = false
  private readonly reentrant: Buffer[] = []

  // writes made before the handshake finished (Node issues one at a time)
  private queuedWrite: { chunks: Buffer[], cb: WriteCallback } | null = null
  private drainCallback: WriteCallback | null = null
  private rawPaused = false
  private rawCorked = false
  private readonly uncorkRaw = (): void => {
    this.rawCorked = false
    this.rawStream.uncork()
  }
  private rawEnded = false
  private finalled = false

  private resolveOpened: ((v: boolean) => void) | null = null
  private keepAliveTimer: NodeJS.Timeout | null = null
  private timeoutTimer: NodeJS.Timeout | null = null

  constructor (isInitiator: boolean, rawStream: Duplex, opts: SecretStreamOptions = {}) {
    // Object mode on the readable side keeps one message per chunk even for
    // consumers that call read() and lets empty messages through.
    super({ readableObjectMode: true, readableHighWaterMark: 256, writableHighWaterMark: 256 * 1024, allowHalfOpen: true })
    if (typeof isInitiator !== 'boolean') throw HyperfsError.BAD_ARGUMENT('isInitiator must be a boolean')
    this.isInitiator = isInitiator
    this.rawStream = rawStream
    this.expectedRemoteKey = opts.remotePublicKey ? Buffer.from(opts.remotePublicKey) : null
    this.remotePublicKey = this.expectedRemoteKey
    this.filterEmpty = !!opts.filterZeroByteMessages || (opts.keepAlive ?? 0) > 0
    this.opened = new Promise((resolve) => { this.resolveOpened = resolve })

    rawStream.on('data', (chunk: Buffer) => this.onRawData(chunk))
    rawStream.on('end', () => this.onRawEnd())
    rawStream.on('error', (err: Error) => this.destroy(err))
    rawStream.on('close', () => this.onRawClose())
    rawStream.on('drain', () => this.onRawDrain())

    if (opts.handshake) {
      const h = opts.handshake
      this.setupSecretStream(h.tx, h.rx, h.hash, h.publicKey, h.remotePublicKey)
    } else {
      const pattern = opts.pattern ?? 'XX'
      this.noise = new NoiseState(pattern, isInitiator, opts.keyPair ?? newKeyPair(), {
        remoteStaticKey: pattern === 'IK' ? this.expectedRemoteKey : null
      })
      this.publicKey = this.noise.publicKey
      if (this.noise.isOurTurn) this.writeRaw(frameOf(this.noise.send()))
    }

    if (opts.keepAlive) this.setKeepAlive(opts.keepAlive)
    if (opts.timeout) this.setTimeout(opts.timeout)
  }

  static keyPair (seed?: Uint8Array): KeyPair {
    return newKeyPair(seed)
  }

  // The 32-byte id a side sends in its first post-handshake frame.
  static id (handshakeHash: Uint8Array, isInitiator: boolean, out: Buffer = Buffer.allocUnsafe(32)): Buffer {
    sodium.crypto_generichash(out, isInitiator ? NS_INITIATOR : NS_RESPONDER, handshakeHash)
    return out
  }

  // An empty frame goes out whenever nothing was written for `ms`, so a
  // peer with a silence timeout (setTimeout) hears from us while we are idle.
  setKeepAlive (ms: number): void {
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer)
    this.keepAliveTimer = null
    this.keepAlive = ms > 0 ? ms : 0
    if (this.keepAlive === 0 || this.destroyed) return
    this.filterEmpty = true
    this.keepAliveTimer = setTimeout(() => this.onKeepAlive(), this.keepAlive)
    this.keepAliveTimer.unref()
  }

  private onKeepAlive (): void {
    if (this.writableEnded || this.destroyed) return
    if (this.phase === PHASE_DATA) this.write(EMPTY)
    this.keepAliveTimer?.refresh() // also while writes wait on a full socket
  }

  // Destroys the stream with PEER_TIMEOUT once nothing at all (keepalives
  // included) arrived for `ms`: on a link gone silent the connection is
  // declared dead instead of waiting on TCP's retransmit backoff.
  setTimeout (ms: number): this {
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer)
    this.timeoutTimer = null
    this.timeout = ms > 0 ? ms : 0
    if (this.timeout === 0 || this.destroyed) return this
    this.timeoutTimer = setTimeout(() => {
      // while our reader holds the raw stream paused, the silence is ours
      if (this.rawPaused) this.timeoutTimer?.refresh()
      else this.destroy(HyperfsError.PEER_TIMEOUT(`nothing from the peer for ${this.timeout} ms`))
    }, this.timeout)
    this.timeoutTimer.unref()
    return this
  }

  // --- receiving --------------------------------------------------------------

  // A raw stream may deliver synchronously from inside our own write (an
  // in-memory pipe does): such chunks wait until the current one is parsed, so
  // frames are always handled in order and in the right phase.
  private onRawData (data: Buffer | Uint8Array): void {
    const chunk = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)
    this.rawBytesRead += chunk.byteLength
    this.timeoutTimer?.refresh()
    if (this.parsing) {
      this.reentrant.push(chunk)
      return
    }
    this.parsing = true
    try {
      this.parse(chunk)
      while (this.reentrant.length > 0 && !this.destroyed) this.parse(this.reentrant.shift() as Buffer)
    } finally {
      this.parsing = false
    }
  }

  private parse (chunk: Buffer): void {
    const n = chunk.byteLength
    let off = 0

    while (off < n && !this.destroyed) {
      if (this.partial !== null) {
        const take = Math.min(this.partial.byteLength - this.partialFill, n - off)
        chunk.copy(this.partial, this.partialFill, off, off + take)
        this.partialFill += take
        off += take
        if (this.partialFill === this.partial.byteLength) {
          const frame = this.partial
          this.partial = null
          this.onFrame(frame)
        }
        continue
      }

      if (this.headerBytes === 0 && n - off >= 3) {
        this.frameLength = chunk[off] | (chunk[off + 1] << 8) | (chunk[off + 2] << 16)
        off += 3
      } else {
        while (this.headerBytes < 3 && off < n) {
          this.frameLength |= chunk[off++] << (8 * this.headerBytes)
          this.headerBytes++
        }
        if (this.headerBytes < 3) break
        this.headerBytes = 0
      }

      const len = this.frameLength
      this.frameLength = 0
      if (!this.acceptLength(len)) return

      if (n - off >= len) {
        const frame = chunk.subarray(off, off + len)
        off += len
        this.onFrame(frame)
      } else {
        this.partial = Buffer.allocUnsafe(len)
        this.partialFill = 0
      }
    }
  }

  // Rejects a length the current phase can never accept, before buffering it.
  private acceptLength (len: number): boolean {
    if (this.phase === PHASE_DATA) {
      if (len >= ABYTES) return true
      this.fail(HyperfsError.PROTOCOL_ERROR(`encrypted frame of ${len} bytes is shorter than its ${ABYTES}-byte overhead`))
    } else if (this.phase === PHASE_ID) {
      if (len === IDHEADERBYTES) return true
      this.fail(HyperfsError.HANDSHAKE_FAILED(`expected a ${IDHEADERBYTES}-byte id frame, got ${len} bytes`))
    } else {
      if (len > 0 && len <= MAX_NOISE_MESSAGE) return true
      this.fail(HyperfsError.HANDSHAKE_FAILED(`handshake frame of ${len} bytes`))
    }
    return false
  }

  private onFrame (frame: Buffer): void {
    if (this.phase === PHASE_DATA) {
      this.onDataFrame(frame)
    } else if (this.phase === PHASE_ID) {
      this.onIdFrame(frame)
    } else {
      this.onHandshakeFrame(frame)
    }
  }

  private onHandshakeFrame (frame: Buffer): void {
    const noise = this.noise
    if (noise === null) return
    try {
      noise.recv(frame)
      if (!noise.complete && noise.isOurTurn) this.writeRaw(frameOf(noise.send()))
    } catch (err) {
      this.fail(err instanceof HyperfsError ? err : HyperfsError.from('HANDSHAKE_FAILED', String(err), err))
      return
    }
    if (!noise.complete) return
    this.noise = null
    const remote = noise.remotePublicKey as Buffer
    if (this.expectedRemoteKey !== null && !this.expectedRemoteKey.equals(remote)) {
      this.fail(HyperfsError.HANDSHAKE_FAILED('the peer authenticated with an unexpected public key'))
      return
    }
    this.setupSecretStream(noise.tx as Buffer, noise.rx as Buffer, noise.hash as Buffer, noise.publicKey, remote)
  }

  private onIdFrame (frame: Buffer): void {
    const expected = SecretStream.id(this.handshakeHash as Buffer, !this.isInitiator)
    if (!expected.equals(frame.subarray(0, 32))) {
      this.fail(HyperfsError.HANDSHAKE_FAILED('the peer sent a wrong stream id'))
      return
    }
    try {
      sodium.crypto_secretstream_xchacha20poly1305_init_pull(this.pullState, frame.subarray(32), this.pullKey)
    } catch (err) {
      this.fail(HyperfsError.from('HANDSHAKE_FAILED', 'bad secretstream header', err))
      return
    }
    this.pullKey = null
    this.phase = PHASE_DATA
  }

  private pullKey: Buffer | null = null

  private onDataFrame (frame: Buffer): void {
    // decrypted in place: the plaintext lands one byte in, over the ciphertext
    const plain = frame.subarray(1, frame.byteLength - 16)
    try {
      sodium.crypto_secretstream_xchacha20poly1305_pull(this.pullState, plain, this.tag, frame, null)
    } catch (err) {
      this.fail(HyperfsError.from('PROTOCOL_ERROR', 'an encrypted frame failed authentication', err))
      return
    }
    if (plain.byteLength === 0 && this.filterEmpty) return
    if (!this.push(plain) && !this.rawPaused) {
      this.rawPaused = true
      this.rawStream.pause()
    }
  }

  override _read (): void {
    if (this.rawPaused) {
      this.rawPaused = false
      this.rawStream.resume()
    }
  }

  private onRawEnd (): void {
    this.rawEnded = true
    if (this.phase !== PHASE_DATA) {
      this.fail(HyperfsError.HANDSHAKE_FAILED('the connection ended during the handshake'))
      return
    }
    if (this.partial !== null || this.headerBytes > 0) {
      this.fail(HyperfsError.PROTOCOL_ERROR('the connection ended inside a frame'))
      return
    }
    this.push(null)
  }

  private onRawClose (): void {
    if (this.destroyed) return
    if (this.phase !== PHASE_DATA) {
      this.fail(HyperfsError.HANDSHAKE_FAILED('the connection closed during the handshake'))
      return
    }
    if (!this.rawEnded || !this.finalled) this.destroy()
  }

  // --- sending -----------------------------------------------------------------

  private setupSecretStream (tx: Uint8Array, rx: Uint8Array, hash: Uint8Array, publicKey: Uint8Array, remotePublicKey: Uint8Array): void {
    const idFrame = Buffer.allocUnsafe(3 + IDHEADERBYTES)
    writeUint24le(idFrame, 0, IDHEADERBYTES)

    this.pushState = Buffer.allocUnsafeSlow(STATEBYTES)
    this.pullState = Buffer.allocUnsafeSlow(STATEBYTES)
    this.pullKey = Buffer.from(rx.subarray(0, 32))
    sodium.crypto_secretstream_xchacha20poly1305_init_push(this.pushState, idFrame.subarray(35), Buffer.from(tx.subarray(0, 32)))

    this.handshakeHash = Buffer.from(hash)
    this.publicKey = Buffer.from(publicKey)
    this.remotePublicKey = Buffer.from(remotePublicKey)
    SecretStream.id(this.handshakeHash, this.isInitiator, idFrame.subarray(3, 35))
    this.phase = PHASE_ID

    this.writeRaw(idFrame)
    this.connected = true
    const resolve = this.resolveOpened
    this.resolveOpened = null
    resolve?.(true)
    process.nextTick(() => {
      if (this.destroyed) return
      this.emit('handshake')
      this.emit('open')
      this.emit('connect')
    })

    const queued = this.queuedWrite
    this.queuedWrite = null
    if (queued) this.writeFrames(queued.chunks, queued.cb)
  }

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: WriteCallback): void {
    if (this.pushState === null) this.queuedWrite = { chunks: [chunk], cb }
    else this.writeFrames([chunk], cb)
  }

  override _writev (items: Array<{ chunk: Buffer }>, cb: WriteCallback): void {
    const chunks = items.map((i) => i.chunk)
    if (this.pushState === null) this.queuedWrite = { chunks, cb }
    else this.writeFrames(chunks, cb)
  }

  // Encrypts each chunk as one frame into the outgoing buffer, and sends
  // consecutive frames together so many small messages cost one raw write.
  private writeFrames (chunks: Buffer[], cb: WriteCallback): void {
    const state = this.pushState
    let i = 0
    let flushed = true
    while (i < chunks.length) {
      let size = 0
      let j = i
      do {
        const len = chunks[j].byteLength
        if (len > MAX_MESSAGE) {
          cb(HyperfsError.MESSAGE_TOO_LARGE(`${len} bytes is over the ${MAX_MESSAGE}-byte limit of one frame`))
          return
        }
        size += len + 3 + ABYTES
        j++
      } while (j < chunks.length && size < COALESCE_BYTES)

      const out = Buffer.allocUnsafe(size)
      let o = 0
      for (; i < j; i++) {
        const data = chunks[i]
        const len = data.byteLength
        writeUint24le(out, o, len + ABYTES)
        // encrypted straight from the caller's buffer into the frame: no copy first
        sodium.crypto_secretstream_xchacha20poly1305_push(state, out.subarray(o + 3, o + 3 + len + ABYTES), data, null, TAG_MESSAGE)
        o += len + 3 + ABYTES
      }
      if (!this.rawCorked) {
        // frames written in the same tick leave in one raw writev (one syscall on a socket)
        this.rawCorked = true
        this.rawStream.cork()
        process.nextTick(this.uncorkRaw)
      }
      flushed = this.writeRaw(out)
    }
    this.keepAliveTimer?.refresh()
    if (flushed) cb()
    else this.drainCallback = cb
  }

  private writeRaw (buf: Buffer): boolean {
    if (this.rawStream.destroyed) return true
    this.rawBytesWritten += buf.byteLength
    return this.rawStream.write(buf)
  }

  private onRawDrain (): void {
    const cb = this.drainCallback
    this.drainCallback = null
    cb?.()
  }

  override _final (cb: WriteCallback): void {
    this.finalled = true
    this.clearTimers()
    this.rawStream.end()
    cb()
  }

  // --- teardown ----------------------------------------------------------------

  private fail (err: Error): void {
    if (!this.destroyed) this.destroy(err)
  }

  private clearTimers (): void {
    if (this.keepAliveTimer) clearTimeout(this.keepAliveTimer)
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer)
    this.keepAliveTimer = null
    this.timeoutTimer = null
  }

  override _destroy (err: Error | null, cb: (err?: Error | null) => void): void {
    this.clearTimers()
    this.noise = null
    this.partial = null
    const resolve = this.resolveOpened
    this.resolveOpened = null
    resolve?.(false)
    const pending = this.queuedWrite?.cb ?? this.drainCallback
    this.queuedWrite = null
    this.drainCallback = null
    if (pending) pending(err ?? HyperfsError.SESSION_CLOSED('stream destroyed'))
    if (!this.rawStream.destroyed) this.rawStream.destroy()
    cb(err)
  }
}

function writeUint24le (buf: Buffer, offset: number, n: number): void {
  buf[offset] = n & 0xff
  buf[offset + 1] = (n >>> 8) & 0xff
  buf[offset + 2] = (n >>> 16) & 0xff
}

function frameOf (body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(3 + body.byteLength)
  writeUint24le(out, 0, body.byteLength)
  out.set(body, 3)
  return out
}
