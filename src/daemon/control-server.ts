// The daemon's control API: newline-delimited JSON over a unix socket
// (<storage>/daemon.sock, mode 0600). A client sends requests
//   {"id":1,"method":"ls","params":{"key":"<hex>","path":"/"}}
// and gets, for each, any number of events and then exactly one answer:
//   {"id":1,"event":{...}}                       progress, or a chunk of a file
//   {"id":1,"result":...}
//   {"id":1,"error":{"code":"ENOENT","message":"ENOENT: /x"}}
// Requests on one connection run concurrently. Some calls (seed, a
// foreground mount) hold something for as long as their connection lives;
// they register that through ctx.onClose.
import { createServer, type Server, type Socket } from 'node:net'
import { chmod, unlink } from 'node:fs/promises'
import type { Logger } from './logger.js'
import { HyperfsError, safetyCatch } from '../errors.js'

const MAX_LINE = 96 * 1024 * 1024 // a put from stdin carries its data inline

export interface CallContext {
  emit (event: unknown): Promise<void> // resolves when the socket can take more
  onClose (fn: () => unknown): void // runs when the client disconnects
  readonly signal: AbortSignal // aborted when the client disconnects
}

export type CallHandler = (method: string, params: Record<string, any>, ctx: CallContext) => Promise<unknown>

export class ControlServer {
  readonly path: string
  private server: Server
  private sockets = new Set<Socket>()
  private closers = new Set<() => Promise<void>>()

  private constructor (path: string, server: Server) {
    this.path = path
    this.server = server
  }

  // The caller holds the storage lock, so a socket file left here is stale.
  static async listen (path: string, handler: CallHandler, services: { logger: Logger }): Promise<ControlServer> {
    await unlink(path).catch(safetyCatch)
    let self: ControlServer | null = null
    const server = createServer((socket) => self?.serve(socket, handler, services.logger))
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(HyperfsError.from('CONTROL_SOCKET', `cannot listen on ${path}: ${err.message}`, err)))
      server.listen(path, () => resolve())
    })
    await chmod(path, 0o600)
    self = new ControlServer(path, server)
    return self
  }

  private serve (socket: Socket, handler: CallHandler, logger: Logger): void {
    this.sockets.add(socket)
    const abort = new AbortController()
    const onClose: Array<() => unknown> = []
    let closing: Promise<void> | null = null
    const cleanup = (): Promise<void> => {
      if (!closing) {
        abort.abort(HyperfsError.REQUEST_CANCELLED('the client disconnected'))
        closing = (async () => {
          for (const fn of onClose.splice(0).reverse()) {
            try { await fn() } catch (err) { logger.warn(`cleanup after a client: ${(err as Error).message}`) }
          }
        })()
      }
      return closing
    }
    this.closers.add(cleanup)
    socket.on('error', () => {})
    socket.once('close', () => {
      this.sockets.delete(socket)
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

    let buf = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buf += chunk
      if (buf.length > MAX_LINE) {
        void send({ id: null, error: { code: 'MESSAGE_TOO_LARGE', message: 'request too large' } }).then(() => socket.destroy())
        return
      }
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line.trim()) void this.dispatch(line, handler, send, { onClose: (fn) => onClose.push(fn), signal: abort.signal }, logger)
      }
    })
  }

  private async dispatch (line: string, handler: CallHandler, send: (m: unknown) => Promise<void>,
    conn: { onClose: (fn: () => unknown) => void, signal: AbortSignal }, logger: Logger): Promise<void> {
    let req: { id?: unknown, method?: unknown, params?: unknown }
    try {
      req = JSON.parse(line)
    } catch {
      await send({ id: null, error: { code: 'PROTOCOL_ERROR', message: 'PROTOCOL_ERROR: a request is one line of JSON' } })
      return
    }
    const id = req.id ?? null
    if (typeof req.method !== 'string') {
      await send({ id, error: { code: 'PROTOCOL_ERROR', message: 'PROTOCOL_ERROR: no method' } })
      return
    }
    const params = (req.params && typeof req.params === 'object' ? req.params : {}) as Record<string, any>
    const ctx: CallContext = { emit: (event) => send({ id, event }), onClose: conn.onClose, signal: conn.signal }
    try {
      const result = await handler(req.method, params, ctx)
      await send({ id, result: result ?? null })
    } catch (err) {
      const e = err as { code?: unknown, message?: string, stack?: string }
      const code = typeof e?.code === 'string' ? e.code : 'EIO'
      if (!(err instanceof HyperfsError)) logger.error(`${req.method}: ${e?.stack ?? String(err)}`)
      await send({ id, error: { code, message: e?.message ?? String(err) } })
    }
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
