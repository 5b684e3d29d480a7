// A channel multiplexer wire-compatible with protomux 3 (docs/wire.md §4), over a stream
// whose every write is one frame and every 'data' chunk one frame (SecretStream).
//   - Each side numbers its own channels 1, 2, … and reuses freed ids; a frame
//     carries the sender's id. A remote open may only grow the remote ids by one.
//   - Channels pair by protocol + id: a remote open takes our oldest unanswered
//     local open, else waits for a pair() handler to create one, else is rejected
//     with the opener's id.
//   - Messages for a known but unpaired remote id are buffered; for unknown ids or
//     types they are dropped.
//   - While corked, sends collect into one batch frame, sent on uncork even for a
//     single message. Receiving a batch of 2+ messages corks us until the
//     handlers finish, so replies go back as one batch.
// Mux owns the id tables and frames; Channel owns one protocol session.
import type { Duplex } from 'node:stream'
import { HyperfsError } from '../errors.js'
import { type Codec, type State, uint, raw, DecodeError } from '../codec/index.js'
import {
  CONTROL_BATCH, CONTROL_OPEN, CONTROL_REJECT, CONTROL_CLOSE,
  muxOpenHead, encodeFrame, encodeEntry, encodeBatch, type BatchEntry
} from '../codec/mux-frames.js'

const MAX_BUFFERED = 32768
const MAX_BATCH = 8 * 1024 * 1024

export interface MessageSpec<T = any> {
  encoding?: Codec<T>
  onmessage?: (message: T, channel: Channel) => unknown
  // reply batching waits for this handler's promise (default true)
  autoBatch?: boolean
}

export interface ChannelOptions {
  protocol: string
  id?: Uint8Array | null
  aliases?: string[]
  // refuse a second open channel for the same protocol + id (default true)
  unique?: boolean
  handshake?: Codec<any> | null
  messages?: Array<MessageSpec | null>
  userData?: unknown
  onopen?: (remoteHandshake: any, channel: Channel) => unknown
  onclose?: (isRemote: boolean, channel: Channel) => unknown
  ondestroy?: (channel: Channel) => unknown
  ondrain?: (channel: Channel) => unknown
}

export interface MuxStream extends Duplex {
  userData?: unknown
}

interface Info {
  key: string
  aliasKeys: string[]
  pairing: number
  opened: number
  incoming: number[]
  outgoing: number[]
  lastChannel: Channel | null
}

interface Pending {
  type: number
  state: State
}

interface RemoteSlot {
  // the open frame's handshake bytes until the channel reads them
  state: State | null
  pending: Pending[] | null
  channel: Channel | null
}

export type PairHandler = (id: Uint8Array | null) => unknown

function noop (): void {}

function toKey (protocol: string, id: Uint8Array | null | undefined): string {
  return protocol + '##' + (id ? Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex') : '')
}

function isPromise (p: unknown): p is Promise<unknown> {
  return !!p && typeof (p as Promise<unknown>).then === 'function'
}

function byteSize (s: State): number {
  return 512 + (s.end - s.start)
}

export class Message<T = any> {
  readonly type: number
  readonly encoding: Codec<T>
  readonly onmessage: (message: T, channel: Channel) => unknown
  readonly autoBatch: boolean
  private readonly channel: Channel

  constructor (channel: Channel, type: number, spec: MessageSpec<T>) {
    this.channel = channel
    this.type = type
    this.encoding = spec.encoding ?? (raw as unknown as Codec<T>)
    this.onmessage = spec.onmessage ?? noop
    this.autoBatch = spec.autoBatch !== false
  }

  // False when the stream wants the caller to wait for 'drain' (or the channel is closed).
  send (value: T): boolean {
    return this.channel.sendMessage(this, value)
  }

  receive (s: State): unknown {
    return this.onmessage(this.encoding.decode(s), this.channel)
  }
}

export class Channel {
  readonly mux: Mux
  readonly protocol: string
  readonly aliases: string[]
  readonly id: Buffer | null
  readonly messages: Message[] = []
  userData: unknown
  // the remote side's decoded open handshake
  handshake: unknown = null
  opened = false
  closed = false
  destroyed = false

  onopen: (remoteHandshake: any, channel: Channel) => unknown
  onclose: (isRemote: boolean, channel: Channel) => unknown
  ondestroy: (channel: Channel) => unknown
  ondrain: (channel: Channel) => unknown

  localId = 0
  remoteId = 0
  private readonly handshakeCodec: Codec<any> | null
  private readonly info: Info
  private active = 0
  private openCalled = false
  private openedWaiters: Array<(v: boolean) => void> = []
  private destroyedWaiters: Array<() => void> = []

  constructor (mux: Mux, info: Info, opts: ChannelOptions) {
    this.mux = mux
    this.info = info
    this.protocol = opts.protocol
    this.aliases = opts.aliases ?? []
    this.id = opts.id ? Buffer.from(opts.id) : null
    this.userData = opts.userData ?? null
    this.handshakeCodec = opts.handshake ?? null
    this.onopen = opts.onopen ?? noop
    this.onclose = opts.onclose ?? noop
    this.ondestroy = opts.ondestroy ?? noop
    this.ondrain = opts.ondrain ?? noop
    for (const m of opts.messages ?? []) this.addMessage(m)
  }

  get drained (): boolean {
    return this.mux.drained
  }

  // A null spec reserves a type number that is never sent and whose messages are ignored.
  addMessage<T = any> (spec: MessageSpec<T> | null): Message<T> {
    const m = new Message<T>(this, this.messages.length, spec ?? { onmessage: noop })
    this.messages.push(m)
    return m
  }

  open (handshake?: unknown): void {
    if (this.closed || this.openCalled) return
    this.openCalled = true
    const mux = this.mux
    this.localId = mux.allocLocal(this)
    this.info.opened++
    this.info.lastChannel = this
    if (this.remoteId === 0) this.info.outgoing.push(this.localId)

    const head = { localId: this.localId, protocol: this.protocol, id: this.id }
    const codec = this.handshakeCodec
    const frameCodec: Codec<unknown> = {
      preencode (s) {
        muxOpenHead.preencode(s, head)
        if (codec) codec.preencode(s, handshake)
      },
      encode (s) {
        muxOpenHead.encode(s, head)
        if (codec) codec.encode(s, handshake)
      },
      decode () { throw new DecodeError('encode only') }
    }
    mux.writeControl(CONTROL_OPEN, frameCodec, null)
  }

  close (): void {
    if (this.closed) return
    const localId = this.localId
    this.closeLocal(false)
    if (localId !== 0) this.mux.writeControl(CONTROL_CLOSE, uint, localId)
  }

  cork (): void { this.mux.cork() }
  uncork (): void { this.mux.uncork() }

  fullyOpened (): Promise<boolean> {
    if (this.opened) return Promise.resolve(true)
    if (this.closed) return Promise.resolve(false)
    return new Promise((resolve) => this.openedWaiters.push(resolve))
  }

  fullyClosed (): Promise<void> {
    if (this.destroyed) return Promise.resolve()
    return new Promise((resolve) => this.destroyedWaiters.push(resolve))
  }

  sendMessage<T> (m: Message<T>, value: T): boolean {
    if (this.closed) return false
    const mux = this.mux
    if (mux.isCorked) {
      mux.pushBatch(this.localId, encodeEntry(m.type, m.encoding, value))
      return true
    }
    return mux.writeFrame(encodeFrame(this.localId, m.type, m.encoding, value))
  }

  // --- called by Mux ---

  // The remote open arrived: decode its handshake, call onopen, then deliver
  // anything that arrived for the channel before it was paired.
  fullyOpen (): void {
    if (this.opened || this.closed) return
    const remote = this.mux.remoteSlot(this.remoteId)
    if (remote === null) return
    const s = remote.state
    this.handshake = this.handshakeCodec && s ? this.handshakeCodec.decode(s) : null
    remote.channel = this
    remote.state = null
    this.track(this.onopen(this.handshake, this))
    if (remote.pending !== null) this.mux.drainPending(remote, this)
    if (this.mux.destroying) return
    this.opened = true
    this.resolveOpened(true)
  }

  receive (type: number, s: State): unknown {
    if (type >= this.messages.length) return null
    const m = this.messages[type]
    const p = this.track(m.receive(s))
    return m.autoBatch ? p : null
  }

  closeLocal (isRemote: boolean): void {
    if (this.closed) return
    this.closed = true
    if (this.openCalled) this.info.opened--
    if (this.info.lastChannel === this) this.info.lastChannel = null
    this.mux.releaseChannel(this)
    this.mux.gcInfo(this.info)
    this.track(this.onclose(isRemote, this))
    if (this.active === 0) this.destroyChannel()
    this.resolveOpened(false)
  }

  track (p: unknown): Promise<unknown> | null {
    if (!isPromise(p)) return null
    this.active++
    return p.then(() => this.dec(), (err) => {
      this.dec()
      if (this.closed) this.mux.warn(err)
      else this.mux.destroy(err)
    })
  }

  private dec (): void {
    if (--this.active === 0 && this.closed) this.destroyChannel()
  }

  private destroyChannel (): void {
    if (this.destroyed) return
    this.destroyed = true
    this.track(this.ondestroy(this))
    const waiters = this.destroyedWaiters
    this.destroyedWaiters = []
    for (const w of waiters) w()
  }

  private resolveOpened (v: boolean): void {
    const waiters = this.openedWaiters
    this.openedWaiters = []
    for (const w of waiters) w(v)
  }
}

export class Mux {
  readonly stream: MuxStream
  corked = 0
  drained = true
  destroying = false

  private readonly local: Array<Channel | null> = []
  private readonly remote: Array<RemoteSlot | null> = []
  private readonly free: number[] = []
  private readonly infos = new Map<string, Info>()
  private readonly notify = new Map<string, PairHandler>()
  private batch: BatchEntry[] | null = null
  private batchBytes = 0
  private buffered = 0
  private paused = false

  constructor (stream: MuxStream) {
    this.stream = stream
    if (stream.userData === null || stream.userData === undefined) stream.userData = this
    stream.on('data', (data: Buffer) => this.onData(data))
    stream.on('drain', () => this.onDrain())
    stream.on('end', () => { if (!stream.writableEnded) stream.end() })
    stream.on('error', noop) // reported through the stream's own 'error'; channels close on 'close'
    stream.on('close', () => this.shutdown())
  }

  // One mux per stream: the replication layer shares it among all cores.
  static from (stream: MuxStream | Mux): Mux {
    if (stream instanceof Mux) return stream
    if (stream.userData instanceof Mux) return stream.userData
    return new Mux(stream)
  }

  get isCorked (): boolean {
    return this.batch !== null
  }

  *[Symbol.iterator] (): IterableIterator<Channel> {
    for (const c of this.local) if (c !== null) yield c
  }

  isIdle (): boolean {
    return this.local.length === this.free.length
  }

  pair ({ protocol, id = null }: { protocol: string, id?: Uint8Array | null }, handler: PairHandler): void {
    this.notify.set(toKey(protocol, id), handler)
  }

  handlerFor ({ protocol, id = null }: { protocol: string, id?: Uint8Array | null }): PairHandler | null {
    return this.notify.get(toKey(protocol, id)) ?? null
  }

  unpair ({ protocol, id = null }: { protocol: string, id?: Uint8Array | null }): void {
    this.notify.delete(toKey(protocol, id))
  }

  opened ({ protocol, id = null }: { protocol: string, id?: Uint8Array | null }): boolean {
    const info = this.infos.get(toKey(protocol, id))
    return info ? info.opened > 0 : false
  }

  getLastChannel ({ protocol, id = null }: { protocol: string, id?: Uint8Array | null }): Channel | null {
    return this.infos.get(toKey(protocol, id))?.lastChannel ?? null
  }

  // Returns null when the stream is gone, or when `unique` and a channel for
  // this protocol + id is already open.
  createChannel (opts: ChannelOptions): Channel | null {
    if (this.stream.destroyed || this.destroying) return null
    const info = this.getInfo(opts.protocol, opts.id ?? null, opts.aliases ?? [])
    if (opts.unique !== false && info.opened > 0) return null

    const channel = new Channel(this, info, opts)
    if (info.incoming.length === 0) return channel

    const remoteId = info.incoming.shift() as number
    if (this.remote[remoteId - 1] === null) return null
    channel.remoteId = remoteId
    ;(this.remote[remoteId - 1] as RemoteSlot).channel = channel
    // onopen runs after the caller had a chance to call open()
    process.nextTick(() => {
      try {
        channel.fullyOpen()
      } catch (err) {
        this.destroy(err as Error)
      }
    })
    return channel
  }

  cork (): void {
    if (++this.corked === 1) {
      this.batch = []
      this.batchBytes = 0
    }
  }

  uncork (): void {
    if (this.corked === 0) return
    if (--this.corked === 0) {
      const batch = this.batch as BatchEntry[]
      this.batch = null
      this.sendBatch(batch)
    }
  }

  destroy (err?: Error): void {
    this.destroying = true
    this.stream.destroy(err)
  }

  // --- used by Channel ---

  allocLocal (channel: Channel): number {
    const slot = this.free.length > 0 ? (this.free.pop() as number) : this.local.push(null) - 1
    this.local[slot] = channel
    return slot + 1
  }

  remoteSlot (remoteId: number): RemoteSlot | null {
    return remoteId > 0 && remoteId <= this.remote.length ? this.remote[remoteId - 1] : null
  }

  releaseChannel (channel: Channel): void {
    if (channel.remoteId > 0) {
      const r = this.remote[channel.remoteId - 1]
      if (r && r.pending !== null) {
        for (const p of r.pending) this.buffered -= byteSize(p.state)
        this.resumeMaybe()
      }
      this.remote[channel.remoteId - 1] = null
      channel.remoteId = 0
      // the remote has answered our open, so no frame for this id can still come
      if (channel.localId !== 0) this.free.push(channel.localId - 1)
    }
    // else the id stays taken until the remote's open or reject for it arrives
    if (channel.localId !== 0) this.local[channel.localId - 1] = null
    channel.localId = 0
  }

  gcInfo (info: Info): void {
    if (info.opened === 0 && info.outgoing.length === 0 && info.incoming.length === 0) {
      this.infos.delete(info.key)
      for (const k of info.aliasKeys) this.infos.delete(k)
    }
  }

  writeFrame (frame: Buffer): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false
    this.drained = this.stream.write(frame)
    return this.drained
  }

  writeControl<T> (type: number, codec: Codec<T>, value: T): void {
    if (this.batch !== null) this.pushBatch(0, encodeEntry(type, codec, value))
    else this.writeFrame(encodeFrame(0, type, codec, value))
  }

  pushBatch (channelId: number, body: Buffer): void {
    const batch = this.batch as BatchEntry[]
    if (this.batchBytes >= MAX_BATCH) {
      this.sendBatch(batch.splice(0, batch.length))
      this.batchBytes = 0
    }
    batch.push({ channelId, body })
    this.batchBytes += body.byteLength + 4
  }

  drainPending (remote: RemoteSlot, channel: Channel): void {
    const pending = remote.pending as Pending[]
    remote.pending = null
    for (const p of pending) {
      this.buffered -= byteSize(p.state)
      channel.receive(p.type, p.state)
      if (this.destroying) return
    }
    this.resumeMaybe()
  }

  warn (err: unknown): void {
    this.stream.emit('warning', err)
  }

  // --- receiving ---

  private onData (data: Buffer): void {
    if (data.byteLength === 0) return
    try {
      const s: State = { buffer: data, start: 0, end: data.byteLength }
      this.decodeFrame(uint.decode(s), s)
    } catch (err) {
      this.destroy(toCoded(err))
    }
  }

  private decodeFrame (remoteId: number, s: State): unknown {
    const type = uint.decode(s)
    if (remoteId === 0) return this.onControl(type, s)

    const r = this.remoteSlot(remoteId)
    if (r === null) return null // unknown or closed: could be a message in flight
    if (r.pending !== null) {
      this.bufferMessage(r, type, s)
      return null
    }
    if (r.channel === null) return null
    return r.channel.receive(type, s)
  }

  private onControl (type: number, s: State): unknown {
    switch (type) {
      case CONTROL_BATCH:
        this.onBatch(s)
        return null
      case CONTROL_OPEN:
        return this.onOpen(s)
      case CONTROL_REJECT:
        this.onReject(s)
        return null
      case CONTROL_CLOSE:
        this.onClose(s)
        return null
    }
    return null // unknown control types are ignored, as protomux does
  }

  private onBatch (s: State): void {
    const end = s.end
    let remoteId = uint.decode(s)
    let waiting: unknown[] | null = null

    while (s.start < end) {
      const len = uint.decode(s)
      if (len === 0) {
        remoteId = uint.decode(s)
        continue
      }
      if (len > end - s.start) throw HyperfsError.DECODE_ERROR('batch entry runs past the end of the frame')
      s.end = s.start + len
      if (waiting === null && s.end !== end) {
        waiting = []
        this.cork()
      }
      const p = this.decodeFrame(remoteId, s)
      if (waiting !== null && p !== null) waiting.push(p)
      s.start = s.end
      s.end = end
    }

    if (waiting !== null) {
      Promise.all(waiting).then(() => this.uncork(), (err) => this.destroy(toCoded(err)))
    }
  }

  private onOpen (s: State): unknown {
    const { localId: remoteId, protocol, id } = muxOpenHead.decode(s)

    if (remoteId === 0) {
      // the control channel cannot be opened
      this.writeControl(CONTROL_REJECT, uint, 0)
      return null
    }

    const rid = remoteId - 1
    if (this.remote.length === rid) this.remote.push(null)
    if (rid >= this.remote.length || this.remote[rid] !== null) {
      throw HyperfsError.PROTOCOL_ERROR(`open for remote channel ${remoteId}, which is in use or skips ids`)
    }

    const info = this.getInfo(protocol, id, [])

    if (info.outgoing.length > 0) {
      const localId = info.outgoing.shift() as number
      const channel = this.local[localId - 1]
      if (channel === null || channel === undefined) {
        // we closed it before the remote answered: the id is free now
        this.free.push(localId - 1)
        this.gcInfo(info)
        return null
      }
      this.remote[rid] = { state: { buffer: s.buffer, start: s.start, end: s.end }, pending: null, channel: null }
      channel.remoteId = remoteId
      channel.fullyOpen()
      return null
    }

    this.remote[rid] = { state: { buffer: s.buffer, start: s.start, end: s.end }, pending: [], channel: null }
    info.pairing++
    info.incoming.push(remoteId)
    return this.requestChannel(protocol, id, info).catch((err) => this.destroy(toCoded(err)))
  }

  private async requestChannel (protocol: string, id: Uint8Array | null, info: Info): Promise<void> {
    const handler = this.notify.get(toKey(protocol, id)) ?? this.notify.get(toKey(protocol, null))
    if (handler) await handler(id)
    if (--info.pairing > 0) return
    while (info.incoming.length > 0) this.reject(info.incoming.shift() as number)
    this.gcInfo(info)
  }

  private reject (remoteId: number): void {
    const r = this.remote[remoteId - 1]
    if (r && r.pending !== null) for (const p of r.pending) this.buffered -= byteSize(p.state)
    this.remote[remoteId - 1] = null
    this.resumeMaybe()
    this.writeControl(CONTROL_REJECT, uint, remoteId)
  }

  private onReject (s: State): void {
    const localId = uint.decode(s)
    for (const info of new Set(this.infos.values())) {
      const i = info.outgoing.indexOf(localId)
      if (i === -1) continue
      info.outgoing.splice(i, 1)
      const channel = this.local[localId - 1]
      this.free.push(localId - 1)
      if (channel) {
        // the id goes back to the free list above, not through releaseChannel
        this.local[localId - 1] = null
        channel.localId = 0
        channel.closeLocal(true)
      }
      this.gcInfo(info)
      return
    }
    throw HyperfsError.PROTOCOL_ERROR(`reject for channel ${localId}, which has no open waiting for an answer`)
  }

  private onClose (s: State): void {
    const remoteId = uint.decode(s)
    const r = this.remoteSlot(remoteId)
    if (r === null) return
    if (r.channel !== null) r.channel.closeLocal(true)
  }

  private bufferMessage (r: RemoteSlot, type: number, s: State): void {
    const state = { buffer: s.buffer, start: s.start, end: s.end }
    ;(r.pending as Pending[]).push({ type, state })
    this.buffered += byteSize(state)
    if (!this.paused && this.buffered > MAX_BUFFERED) {
      this.paused = true
      this.stream.pause()
    }
  }

  private resumeMaybe (): void {
    if (!this.paused || this.buffered > MAX_BUFFERED) return
    this.paused = false
    this.stream.resume()
  }

  private sendBatch (batch: BatchEntry[]): void {
    if (batch.length === 0) return
    this.writeFrame(encodeBatch(batch))
  }

  private onDrain (): void {
    this.drained = true
    for (const c of this.local) if (c !== null) c.track(c.ondrain(c))
  }

  private getInfo (protocol: string, id: Uint8Array | null, aliases: string[]): Info {
    const key = toKey(protocol, id)
    let info = this.infos.get(key)
    if (info) return info
    info = { key, aliasKeys: [], pairing: 0, opened: 0, incoming: [], outgoing: [], lastChannel: null }
    this.infos.set(key, info)
    for (const alias of aliases) {
      const k = toKey(alias, id)
      info.aliasKeys.push(k)
      this.infos.set(k, info)
    }
    return info
  }

  private shutdown (): void {
    this.destroying = true
    for (const c of this.local) if (c !== null) c.closeLocal(true)
  }
}

function toCoded (err: unknown): Error {
  if (err instanceof HyperfsError) return err
  if (err instanceof DecodeError) return HyperfsError.from('DECODE_ERROR', err.message.replace(/^DECODE_ERROR: /, ''), err)
  if (err instanceof Error) return err
  return HyperfsError.PROTOCOL_ERROR(String(err))
}
