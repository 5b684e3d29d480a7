// A FUSE host killed with -9 leaves its mount behind: the kernel still lists
// it, and every access fails with ENOTCONN ("Transport endpoint is not
// connected") until someone unmounts it. Mounting on top fails too. So before
// mounting we look for a mount at the same path, and detach it lazily if its
// host is gone (or if the caller forces it).
import { readFile } from 'node:fs/promises'
import { randomBytes } from 'node:crypto'
import { execFile } from 'node:child_process'
import { join, resolve } from 'node:path'
import { HyperfsError, safetyCatch } from '../errors.js'

const PROBE_MS = 2000
const HELPER_MS = 10_000

export async function clearStaleMount (mountpoint: string, opts: { force?: boolean } = {}): Promise<boolean> {
  const mnt = resolve(mountpoint)
  if (!(await isMounted(mnt))) return false
  if (!opts.force && await answers(mnt)) {
    throw HyperfsError.from('EBUSY', `${mnt} is mounted and its host still answers`)
  }
  try {
    await run('fusermount', ['-uz', mnt])
  } catch (err) {
    // fusermount refuses mounts it does not know of in some setups; root can always umount
    safetyCatch(err)
    await run('umount', ['-l', '--no-canonicalize', mnt])
  }
  return true
}

export async function isMounted (mountpoint: string): Promise<boolean> {
  const mnt = resolve(mountpoint)
  const table = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  for (const line of table.split('\n')) {
    const field = line.split(' ')[4]
    if (field && unescapeMountPath(field) === mnt) return true
  }
  return false
}

// mountinfo escapes space, tab, newline and backslash as \ooo
function unescapeMountPath (s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
}

// A live host answers a lookup quickly (a name nobody has: never from the
// kernel's cache); a dead one fails at once with ENOTCONN. A host that is
// alive but stuck counts as dead after PROBE_MS. The probe runs in a child
// process, killed at the deadline: a stat of our own would hold one of
// libuv's few threadpool threads for as long as the host stays stuck, and a
// few of those leave every file operation of this process waiting.
function answers (mnt: string): Promise<boolean> {
  const probe = join(mnt, `.hyperfs-probe-${randomBytes(6).toString('hex')}`)
  return new Promise((resolve) => {
    execFile('stat', ['--', probe], { timeout: PROBE_MS, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
      if (err === null) return resolve(true)
      if ((err as { killed?: boolean }).killed) return resolve(false)
      resolve(/No such file/.test(stderr))
    })
  })
}

function run (cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    // a helper that stats the mount point would wait on a stuck host: bounded
    execFile(cmd, args, { timeout: HELPER_MS, killSignal: 'SIGKILL' }, (err, _stdout, stderr) => {
      if (err) reject(HyperfsError.from('EBUSY', `${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve()
    })
  })
}
