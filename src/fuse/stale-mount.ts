// A FUSE host killed with -9 leaves its mount behind: the kernel still lists
// it, and every access fails with ENOTCONN ("Transport endpoint is not
// connected") until someone unmounts it. Mounting on top fails too. So before
// mounting we look for a mount at the same path, and detach it lazily if its
// host is gone (or if the caller forces it).
import { readFile, stat } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import { HyperfsError, safetyCatch } from '../errors.js'

const PROBE_MS = 2000

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
    await run('umount', ['-l', mnt])
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

// A live host answers a stat quickly; a dead one fails at once with ENOTCONN.
// A host that is alive but stuck counts as dead after PROBE_MS.
async function answers (mnt: string): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), PROBE_MS) })
  try {
    return await Promise.race([stat(mnt).then(() => true, () => false), timeout])
  } finally {
    clearTimeout(timer)
  }
}

function run (cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, (err, _stdout, stderr) => {
      if (err) reject(HyperfsError.from('EBUSY', `${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`))
      else resolve()
    })
  })
}
