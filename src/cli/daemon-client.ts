// The CLI's side of the control socket (see src/daemon/control-server.ts):
// one connection, requests matched to answers by id, events passed to the
// caller. connectOrStart() starts the storage folder's daemon when none
// answers: detached, logging to <storage>/daemon.log, and waits (bounded)
// until its socket answers.
import { connect, type Socket } from 'node:net'
import { spawn } from 'node:child_process'
import { openSync, closeSync, existsSync, statSync, renameSync, fstatSync, fchmodSync, chmodSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { HyperfsError, isHyperfsError, safetyCatch } from '../errors.js'
import { daemonPaths } from '../daemon/daemon-config.js'
import { privateFolder, PRIVATE_FILE_MODE } from '../core/storage.js'
import { LineReader } from '../daemon/json-lines.js'
import { INPUT_CHUNK } from '../daemon/control-server.js'
import { lockHolder } from './daemon-process.js'

const CONNECT_MS = 5_000
const START_MS = 30_000 // a daemon still stopping holds the lock for up to STOP_MS (run-daemon.ts)
const RACE_MS = 3_000 // for the winner of a race for the lock to answer
const MAX_STARTS = 2
const MAX_ANSWER_LINE = 256 * 1024 * 1024 // an answer is one line: a listing of a whole big drive, say
export const DEFAULT_CALL_MS = 120_000

export interface CallOptions {
  onEvent?: (event: any) => void | Promise<void>
  timeout?: number // ms; 0 = wait as long as the connection lives
  input?: AsyncIterable<Uint8Array> // bytes streamed to the request after it (see control-server.ts)
}

interface Pending {
  resolve: (v: any) => void
  reject: (e: Error) => void
  onEvent?: CallOptions['onEvent']
  timer: NodeJS.Timeout | null
}

export class DaemonClient {
  readonly closed: Promise<void>
  private socket: Socket
  private nextId = 1
  private pending = new Map<number, Pending>()
  private events: Promise<void> = Promise.resolve()
  private defaults: Record<string, unknown> = {}

  private constructor (socket: Socket) {
    this.socket = socket
    const lines = new LineReader({ maxLine: MAX_ANSWER_LINE })
    socket.on('data', (chunk: Buffer) => {
      let got: string[]
      try {
        got = lines.push(chunk)
      } catch (err) {
        socket.destroy(err as Error)
        return
      }
      for (const line of got) if (line) this.onmessage(line)
    })
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => socket.once('close', () => {
      const err = HyperfsError.from('DAEMON_GONE', 'the daemon closed the connection (see daemon.log in the storage folder)')
      for (const p of this.pending.values()) { if (p.timer) clearTimeout(p.timer); p.reject(err) }
      this.pending.clear()
      resolve()
    }))
  }

  static connect (socketPath: string): Promise<DaemonClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath)
      const timer = setTimeout(() => socket.destroy(HyperfsError.REQUEST_TIMEOUT(`no answer on ${socketPath}`)), CONNECT_MS)
      socket.once('connect', () => {
        clearTimeout(timer)
        socket.removeAllListeners('error')
        resolve(new DaemonClient(socket))
      })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer)
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(HyperfsError.from('DAEMON_NOT_RUNNING', `no daemon answers on ${socketPath}`))
        else if (err.code === 'ENAMETOOLONG' || err.code === 'EINVAL') reject(HyperfsError.from('BAD_ARGUMENT', `the socket path ${socketPath} is too long for a unix socket; use a shorter --storage`))
        else reject(HyperfsError.from('DAEMON_UNREACHABLE', `${socketPath}: ${err.message}`, err))
      })
    })
  }

  private onmessage (line: string): void {
    let msg: any
    try { msg = JSON.parse(line) } catch { return }
    const p = this.pending.get(msg.id)
    if (!p) return
    if ('event' in msg) {
      // events are handled in order, and the answer waits for them
      const fn = p.onEvent
      if (fn) this.events = this.events.then(() => fn(msg.event)).catch(safetyCatch)
      return
    }
    this.pending.delete(msg.id)
    if (p.timer) clearTimeout(p.timer)
    void this.events.then(() => {
      if (msg.error) p.reject(HyperfsError.revive(String(msg.error.code), stripCode(String(msg.error.code), String(msg.error.message))))
      else p.resolve(msg.result)
    })
  }

  // params sent with every call unless the call gives its own (e.g. the command's --timeout)
  setDefaults (params: Record<string, unknown>): void {
    this.defaults = { ...params }
  }

  call<T = any> (method: string, params: Record<string, unknown> = {}, opts: CallOptions = {}): Promise<T> {
    if (this.socket.destroyed) return Promise.reject(HyperfsError.from('DAEMON_GONE', 'not connected to the daemon'))
    const id = this.nextId++
    const timeout = opts.timeout ?? DEFAULT_CALL_MS
    const answered = new Promise<T>((resolve, reject) => {
      const timer = timeout > 0
        ? setTimeout(() => {
          this.pending.delete(id)
          reject(HyperfsError.REQUEST_TIMEOUT(`the daemon did not answer "${method}" within ${timeout} ms`))
        }, timeout)
        : null
      this.pending.set(id, { resolve, reject, onEvent: opts.onEvent, timer })
      this.socket.write(JSON.stringify({ id, method, params: { ...this.defaults, ...params } }) + '\n')
    })
    if (!opts.input) return answered
    let over = false
    const input = opts.input as AsyncIterable<Uint8Array> & { destroy?: () => void }
    // answered before the input ended (an error, say): stop reading it, or a
    // terminal on stdin would keep the command waiting for a line
    const stop = (): void => { over = true; if (!sent) input.destroy?.() }
    let sent = false
    answered.then(stop, stop)
    const sending = this.send(id, input, () => over).finally(() => { sent = true })
    // a failed send (stdin unreadable, say) fails the call; the daemon drops the request with the connection
    return Promise.race([answered, sending.then(() => answered, (err) => { this.socket.destroy(); throw err })])
  }

  // Streams `input` to request `id` in lines of at most INPUT_CHUNK bytes,
  // waiting for the socket to drain, until it ends or the request is answered.
  private async send (id: number, input: AsyncIterable<Uint8Array>, over: () => boolean): Promise<void> {
    const write = async (msg: unknown): Promise<void> => {
      if (this.socket.destroyed) throw HyperfsError.from('DAEMON_GONE', 'the daemon closed the connection')
      if (this.socket.write(JSON.stringify(msg) + '\n')) return
      await new Promise<void>((resolve) => {
        const done = (): void => { this.socket.off('drain', done); this.socket.off('close', done); resolve() }
        this.socket.on('drain', done)
        this.socket.on('close', done)
      })
    }
    for await (const chunk of input) {
      if (over()) return
      const buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      for (let i = 0; i < buf.byteLength; i += INPUT_CHUNK) {
        await write({ id, input: buf.subarray(i, i + INPUT_CHUNK).toString('base64') })
      }
    }
    if (!over()) await write({ id, end: true })
  }

  close (): void {
    this.socket.end()
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }
}

// The daemon started on demand runs this same CLI: bin/hyperfs daemon ...
export function cliEntry (): string {
  return fileURLToPath(new URL('../../../bin/hyperfs', import.meta.url))
}

const LOG_LIMIT = 10 * 1024 * 1024

// A daemon started on demand appends to daemon.log; past LOG_LIMIT the old log
// becomes daemon.log.1 (replacing an older one), so the folder cannot fill up.
// Logs name files and keys of the drives held here: they are private (0600),
// like the rest of the storage folder, whatever mode an older version left.
function rotateLog (log: string): void {
  try {
    if (statSync(log).size > LOG_LIMIT) renameSync(log, log + '.1')
  } catch {} // no log yet, or it cannot be moved: keep appending
  try {
    chmodSync(log + '.1', PRIVATE_FILE_MODE)
  } catch (err) {
    safetyCatch(err) // no old log
  }
}

function openLog (log: string): number {
  const fd = openSync(log, 'a', PRIVATE_FILE_MODE)
  try {
    if ((fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, PRIVATE_FILE_MODE)
  } catch (err) {
    closeSync(fd)
    throw err
  }
  return fd
}

// `daemonArgs` are the command line of `hyperfs daemon` (storage and network flags).
export async function connectOrStart (storage: string, daemonArgs: string[]): Promise<{ client: DaemonClient, started: boolean }> {
  const { socket, log } = daemonPaths(storage)
  try {
    return { client: await DaemonClient.connect(socket), started: false }
  } catch (err) {
    if (!isHyperfsError(err, 'DAEMON_NOT_RUNNING')) throw err
  }
  const entry = cliEntry()
  if (!existsSync(entry)) throw HyperfsError.from('DAEMON_START_FAILED', `cannot start the daemon: ${entry} is missing`)
  privateFolder(storage) // STORAGE_INSECURE before anything is written there
  rotateLog(log)
  let child = startDaemon(entry, storage, daemonArgs, log)
  let starts = 1
  const deadline = Date.now() + START_MS
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    try {
      return { client: await DaemonClient.connect(socket), started: true }
    } catch (err) {
      if (!isHyperfsError(err, 'DAEMON_NOT_RUNNING')) throw err
    }
    // A daemon that lost the race for the lock exits, and the winner answers
    // soon. One that found the lock held by a daemon still stopping (its idle
    // exit, say) is started again once that one lets go.
    if (child.exited() === null || Date.now() < child.began + RACE_MS) continue
    const holder = await lockHolder(storage).catch((err) => { safetyCatch(err); return -1 })
    if (holder !== null) continue
    if (starts >= MAX_STARTS) break
    child = startDaemon(entry, storage, daemonArgs, log)
    starts++
  }
  const exited = child.exited()
  const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n')
  throw HyperfsError.from('DAEMON_START_FAILED', `the daemon for ${storage} did not start` +
    (exited !== null ? ` (it exited with ${exited})` : ` within ${START_MS} ms`) +
    (tail ? `; the end of ${log}:\n${tail}` : ''))
}

function startDaemon (entry: string, storage: string, daemonArgs: string[], log: string): { began: number, exited: () => number | string | null } {
  const fd = openLog(log)
  let exited: number | string | null = null
  try {
    const child = spawn(process.execPath, [entry, 'daemon', ...daemonArgs], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: { ...process.env, HYPERFS_STORAGE: storage }
    })
    child.once('exit', (code, signal) => { exited = code ?? signal })
    child.unref()
  } finally {
    closeSync(fd)
  }
  return { began: Date.now(), exited: () => exited }
}

function stripCode (code: string, message: string): string {
  return message.startsWith(code + ': ') ? message.slice(code.length + 2) : message
}
