// The daemon's control API: newline-delimited JSON over a unix socket
// (<storage>/daemon.sock, mode 0600). A client sends requests
//   {"id":1,"method":"ls","params":{"key":"<hex>","path":"/"}}
// and gets, for each, any number of events and then exactly one answer:
//   {"id":1,"event":{...}}                       progress, or a chunk of a file
//   {"id":1,"result":...}
//   {"id":1,"error":{"code":"ENOENT","message":"ENOENT: /x"}}
// A request that takes a stream of bytes (put from stdin) gets them after it,
// in lines of their own, as many as needed, then an end:
//   {"id":1,"input":"<base64>"}   ...   {"id":1,"end":true}
// so no line is ever large: a request line is bounded by MAX_REQUEST_LINE, and
// a client that sends a longer one is told MESSAGE_TOO_LARGE and dropped.
// Input that the request has not consumed yet is bounded too (MAX_QUEUED_INPUT):
// past it the connection is paused, which holds the client back through the
// socket, while the daemon goes on serving everyone else.
// Requests on one connection run concurrently. Some calls (seed, a
// foreground mount) hold something for as long as their connection lives;
// they register that through ctx.onClose.
import { createServer, type Server, type Socket } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import type { Logger } from './logger.js'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import { LineReader } from './json-lines.js'

export const MAX_REQUEST_LINE = 1024 * 1024 // input travels in chunks of INPUT_CHUNK, never in one line
export const INPUT_CHUNK = 256 * 1024 // raw bytes per input line (base64 makes it a third larger)
const MAX_QUEUED_INPUT = 8 * 1024 * 1024 // per connection, not yet taken by its request
const RESUME_INPUT = MAX_QUEUED_INPUT / 2

export interface CallContext {
  emit (event: unknown): Promise<void> // resolves when the socket can take more
  onClose (fn: () => unknown): void // runs when the client disconnects (at once if it already has)
  onDone (fn: () => unknown): void // runs when this request has its answer
  readonly signal: AbortSignal // aborted when the client disconnects
  readonly input: AsyncIterable<Buffer> // the bytes the client streams after the request
}

export type CallHandler = (method: string, params: Record<string, any>, ctx: CallContext) => Promise<unknown>

// One request's input: chunks wait here until the request reads them.
class InputQueue implements AsyncIterable<Buffer> {
  private chunks: Buffer[] = []
  private ended = false
  private wake: (() => void) | null = null
  private flow: Flow
  private signal: AbortSignal

  constructor (flow: Flow, signal: AbortSignal) {
    this.flow = flow
    this.signal = signal
  }

  push (chunk: Buffer): void {
    if (this.ended) return
    this.chunks.push(chunk)
    this.flow.add(chunk.byteLength)
    this.poke()
  }

  end (): void {
    this.ended = true
    this.poke()
  }

  // the request is answered: whatever it left unread is dropped
  drop (): void {
    for (const c of this.chunks) this.flow.remove(c.byteLength)
    this.chunks = []
    this.ended = true
    this.poke()
  }

  private poke (): void {
    const w = this.wake
    this.wake = null
    w?.()
  }

  async * [Symbol.asyncIterator] (): AsyncIterator<Buffer> {
    const onabort = (): void => this.poke()
    this.signal.addEventListener('abort', onabort)
    try {
      while (true) {
        const chunk = this.chunks.shift()
        if (chunk) {
          this.flow.remove(chunk.byteLength)
          yield chunk
          continue
        }
        if (this.ended) return
        if (this.signal.aborted) throw this.signal.reason
        await new Promise<void>((resolve) => { this.wake = resolve })
      }
    } finally {
      this.signal.removeEventListener('abort', onabort)
    }
  }
}

// Input bytes queued on one connection; the socket pauses while there are too many.
class Flow {
  private queued = 0
  private socket: Socket

  constructor (socket: Socket) {
    this.socket = socket
  }

  add (n: number): void {
    this.queued += n
    if (this.queued > MAX_QUEUED_INPUT && !this.socket.isPaused()) this.socket.pause()
  }

  remove (n: number): void {
    this.queued -= n
    if (this.queued <= RESUME_INPUT && this.socket.isPaused() && !this.socket.destroyed) this.socket.resume()
  }
}

interface Connection {
  onClose: (fn: () => unknown) => void
  signal: AbortSignal
  send: (m: unknown) => Promise<void>
  inputs: Map<unknown, InputQueue>
  flow: Flow
}

export class ControlServer {
  readonly path: string
  private server: Server
  private sockets = new Set<Socket>()
  private closers = new Set<() => Promise<void>>()
  private running = 0
  private activity = Date.now()
  private accepted = 0

  private constructor (path: string, server: Server) {
    this.path = path
    this.server = server
  }

  // The caller holds the storage lock, so a socket file left here is stale.
  // Every connection is served from the moment the socket exists: a command
  // that started the daemon polls for it, and may connect before listen()
  // returns (while the socket is made private; the storage folder is 0700,
  // so only its owner can). One left unserved would wait for ever, and the
  // idle exit, which would not count it, would stop the daemon under it.
  static async listen (path: string, handler: CallHandler, services: { logger: Logger }): Promise<ControlServer> {
    await unlink(path).catch(safetyCatch)
    const server = createServer()
    const self = new ControlServer(path, server)
    server.on('connection', (socket) => self.serve(socket, handler, services.logger))
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(HyperfsError.from('CONTROL_SOCKET', `cannot listen on ${path}: ${err.message}`, err)))
      server.listen(path, () => resolve())
    })
    try {
      await chmod(path, 0o600)
    } catch (err) {
      await self.close().catch(safetyCatch)
      throw HyperfsError.from('CONTROL_SOCKET', `cannot make ${path} private: ${(err as Error).message}`, err as Error)
    }
    return self
  }

  // Connected clients and requests in flight, and when either last changed:
  // what the daemon's idle exit looks at.
  get clients (): number { return this.sockets.size }
  get connections (): number { return this.accepted } // ever
  get requests (): number { return this.running }
  get lastActivity (): number { return this.activity }

  private serve (socket: Socket, handler: CallHandler, logger: Logger): void {
    this.sockets.add(socket)
    this.accepted++
    this.activity = Date.now()
    const abort = new AbortController()
    const onClose: Array<() => unknown> = []
    let closing: Promise<void> | null = null
    const runClosers = async (fns: Array<() => unknown>): Promise<void> => {
      for (const fn of fns) {
        try { await fn() } catch (err) { logger.warn(`cleanup after a client: ${(err as Error).message}`) }
      }
    }
    const cleanup = (): Promise<void> => {
      if (!closing) {
        abort.abort(HyperfsError.REQUEST_CANCELLED('the client disconnected'))
        closing = runClosers(onClose.splice(0).reverse())
      }
      return closing
    }
    this.closers.add(cleanup)
    socket.on('error', () => {})
    socket.once('close', () => {
      this.sockets.delete(socket)
      this.activity = Date.now()
      void cleanup().finally(() => this.closers.delete(cleanup))
    })

    const send = async (msg: unknown): Promise<void> => {
      if (socket.destroyed) return
      if (!socket.write(JSON.stringify(msg) + '\n')) {
        await new Promise<void>((resolve) => {
          const done = (): void => { socket.off('drain', done); socket.off('close', done); resolve() }
          socket.on('drain', done)
          socket.on('close', done)
        })
      }
    }

    const conn: Connection = {
      // a handler that registers after the client left (it was waiting on
      // peers, say) still has its cleanup run, at once
      onClose: (fn) => { if (closing) void runClosers([fn]); else onClose.push(fn) },
      signal: abort.signal,
      send,
      inputs: new Map(),
      flow: new Flow(socket)
    }
    const lines = new LineReader({ maxLine: MAX_REQUEST_LINE })
    socket.on('data', (chunk: Buffer) => {
      let got: string[]
      try {
        got = lines.push(chunk)
      } catch (err) {
        if (!isHyperfsError(err, 'MESSAGE_TOO_LARGE')) throw err
        socket.pause()
        void send({ id: null, error: { code: err.code, message: err.message } }).then(() => socket.destroy())
        return
      }
      for (const line of got) if (line.trim()) this.onLine(line, handler, conn, logger)
    })
  }

  private onLine (line: string, handler: CallHandler, conn: Connection, logger: Logger): void {
    let msg: { id?: unknown, method?: unknown, params?: unknown, input?: unknown, end?: unknown }
    try {
      msg = JSON.parse(line)
      if (!msg || typeof msg !== 'object') throw new SyntaxError('not an object')
    } catch {
      void conn.send({ id: null, error: { code: 'PROTOCOL_ERROR', message: 'PROTOCOL_ERROR: a request is one line of JSON' } })
      return
    }
    const id = msg.id ?? null
    if (msg.method === undefined && (msg.input !== undefined || msg.end !== undefined)) {
      // input for a request that has already been answered is dropped
      const q = conn.inputs.get(id)
      if (q && typeof msg.input === 'string') q.push(Buffer.from(msg.input, 'base64'))
      if (q && msg.end === true) q.end()
      return
    }
    if (typeof msg.method !== 'string') {
      void conn.send({ id, error: { code: 'PROTOCOL_ERROR', message: 'PROTOCOL_ERROR: no method' } })
      return
    }
    if (id !== null && conn.inputs.has(id)) {
      void conn.send({ id, error: { code: 'PROTOCOL_ERROR', message: `PROTOCOL_ERROR: request ${JSON.stringify(id)} is still running` } })
      return
    }
    const input = new InputQueue(conn.flow, conn.signal)
    if (id !== null) conn.inputs.set(id, input)
    const params = (msg.params && typeof msg.params === 'object' ? msg.params : {}) as Record<string, any>
    void this.dispatch(id, msg.method, params, input, handler, conn, logger)
  }

  private async dispatch (id: unknown, method: string, params: Record<string, any>, input: InputQueue,
    handler: CallHandler, conn: Connection, logger: Logger): Promise<void> {
    const done: Array<() => unknown> = []
    const ctx: CallContext = {
      emit: (event) => conn.send({ id, event }),
      onClose: conn.onClose,
      onDone: (fn) => { done.push(fn) },
      signal: conn.signal,
      input
    }
    this.running++
    this.activity = Date.now()
    let answer: unknown
    try {
      answer = { id, result: (await handler(method, params, ctx)) ?? null }
    } catch (err) {
      const e = err as { code?: unknown, message?: string, stack?: string }
      const code = typeof e?.code === 'string' ? e.code : 'EIO'
      if (!(err instanceof HyperfsError)) logger.error(`${method}: ${e?.stack ?? String(err)}`)
      answer = { id, error: { code, message: e?.message ?? String(err) } }
    } finally {
      input.drop()
      if (conn.inputs.get(id) === input) conn.inputs.delete(id)
      for (const fn of done.reverse()) {
        try { await fn() } catch (err) { logger.warn(`after ${method}: ${(err as Error).message}`) }
      }
      this.running--
      this.activity = Date.now()
    }
    await conn.send(answer)
  }

  // Stops taking connections, runs every client's cleanup, drops the clients.
  async close (): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    await Promise.all([...this.closers].map((fn) => fn()))
    for (const s of this.sockets) {
      s.end() // lets answers already written (the one to "stop", say) reach their client
      setTimeout(() => s.destroy(), 1000).unref()
    }
    await closed
    await unlink(this.path).catch(safetyCatch)
  }
}
