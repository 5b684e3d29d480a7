// The daemon of a storage folder as a process, for when its control socket
// is no help: it does not answer (the daemon is stopping, or stuck), or a stop
// asked for over it does not end the process in time. The storage lock is the
// truth about whether a daemon runs: whoever holds <storage>/daemon.lock is
// the daemon, whether or not its socket answers.
import { existsSync, readFileSync, readdirSync, readlinkSync, realpathSync } from 'node:fs'
import { FileStorage } from '../core/storage.js'
import { daemonPaths } from '../daemon/daemon-config.js'
import { HyperfsError, isHyperfsError, safetyCatch, systemCode } from '../errors.js'

const POLL_MS = 100
const KILLED_MS = 5_000 // for the kernel to take a SIGKILLed process away

// The pid of the process that holds the storage lock, or null when none does.
export async function lockHolder (storage: string): Promise<number | null> {
  const { lock } = daemonPaths(storage)
  if (!existsSync(lock)) return null
  try {
    const file = await new FileStorage(storage).open('daemon.lock', { lock: true })
    await file.close()
    return null
  } catch (err) {
    if (!isHyperfsError(err, 'STORAGE_LOCKED')) throw err
  }
  const pid = Number(readFileSync(lock, 'utf8').trim())
  // The pid written in the file is trusted only when that process has the
  // file open: a holder that has not written its own yet leaves an old one there.
  if (!(pid > 0) || !hasOpen(pid, realpathSync(lock))) {
    throw HyperfsError.from('DAEMON_UNREACHABLE', `${lock} is locked by a process that cannot be identified`)
  }
  return pid
}

function hasOpen (pid: number, path: string): boolean {
  const dir = `/proc/${pid}/fd`
  let fds: string[]
  try { fds = readdirSync(dir) } catch (err) { safetyCatch(err); return false }
  return fds.some((fd) => {
    try { return readlinkSync(`${dir}/${fd}`) === path } catch (err) { safetyCatch(err); return false }
  })
}

export function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return systemCode(err) === 'EPERM'
  }
}

// Waits up to `ms` for the process to end.
export async function exited (pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms
  while (alive(pid)) {
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, POLL_MS))
  }
  return true
}

// Waits `graceMs` for a daemon that was asked to stop, then kills it.
export async function endDaemon (pid: number, graceMs: number): Promise<'stopped' | 'killed'> {
  if (await exited(pid, graceMs)) return 'stopped'
  try { process.kill(pid, 'SIGKILL') } catch (err) { if (systemCode(err) !== 'ESRCH') throw err }
  if (!(await exited(pid, KILLED_MS))) throw HyperfsError.from('DAEMON_UNREACHABLE', `daemon ${pid} is still there after SIGKILL`)
  return 'killed'
}
