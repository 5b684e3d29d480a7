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

const CONNECT_MS = 5_000
const START_MS = 20_000

export interface CallOptions {
  onEvent?: (event: any) => void | Promise<void>
  timeout?: number // ms; 0 = wait as long as the connection lives
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
    let buf = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buf += chunk
      let nl: number
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (line) this.onmessage(line)
      }
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
    const timeout = opts.timeout ?? 120_000
    return new Promise<T>((resolve, reject) => {
      const timer = timeout > 0
        ? setTimeout(() => {
          this.pending.delete(id)
          reject(HyperfsError.REQUEST_TIMEOUT(`the daemon did not answer "${method}" within ${timeout} ms`))
        }, timeout)
        : null
      this.pending.set(id, { resolve, reject, onEvent: opts.onEvent, timer })
      this.socket.write(JSON.stringify({ id, method, params: { ...this.defaults, ...params } }) + '\n')
    })
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
  const began = Date.now()
  const deadline = began + START_MS
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    try {
      return { client: await DaemonClient.connect(socket), started: true }
    } catch (err) {
      if (!isHyperfsError(err, 'DAEMON_NOT_RUNNING')) throw err
      // a daemon that lost the race for the lock exits; the winner answers soon
      if (exited !== null && Date.now() > began + 3000) break
    }
  }
  const tail = (await readFile(log, 'utf8').catch(() => '')).trim().split('\n').slice(-5).join('\n')
  throw HyperfsError.from('DAEMON_START_FAILED', `the daemon for ${storage} did not start` +
    (exited !== null ? ` (it exited with ${exited})` : ` within ${START_MS} ms`) +
    (tail ? `; the end of ${log}:\n${tail}` : ''))
}

function stripCode (code: string, message: string): string {
  return message.startsWith(code + ': ') ? message.slice(code.length + 2) : message
}
