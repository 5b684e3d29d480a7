// Why a mount would fail, found before a binding tries. A binding may say no
// more than "fuse failed" (fuse-native does; libfuse prints the reason on a
// stderr nobody reads, such as the daemon's log), so FuseHost checks the
// usual causes first and rejects with FUSE_FAILED and a reason a user can act
// on. Whatever the binding, these are the same: the mount point must be an
// empty folder (unless told otherwise), /dev/fuse must open, and the
// library's setuid helper (fusermount) must be installed.
import { constants } from 'node:fs'
import { access, open, readdir, stat } from 'node:fs/promises'
import { delimiter, join } from 'node:path'
import { HyperfsError, safetyCatch, systemCode } from '../errors.js'

export interface MountCheckOptions {
  nonEmpty: boolean // a folder with entries is fine
  helper: string // program name looked up on PATH, e.g. 'fusermount'
  device?: string // default /dev/fuse
  pathEnv?: string // default process.env.PATH
}

const DEVICE = '/dev/fuse'
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

export async function checkMountpoint (mnt: string, opts: MountCheckOptions): Promise<void> {
  const fail = (why: string): HyperfsError => HyperfsError.from('FUSE_FAILED', `cannot mount at ${mnt}: ${why}`)
  try {
    const st = await stat(mnt)
    if (!st.isDirectory()) throw fail('it is not a directory')
  } catch (err) {
    if (err instanceof HyperfsError) throw err
    throw fail(systemCode(err) === 'ENOENT' ? 'it does not exist' : `cannot stat it (${(err as Error).message})`)
  }
  if (!opts.nonEmpty) {
    let names: string[]
    try {
      names = await readdir(mnt)
    } catch (err) {
      throw fail(`cannot list it (${(err as Error).message})`)
    }
    if (names.length > 0) throw fail(`it is not empty (${names.length} entr${names.length === 1 ? 'y' : 'ies'}); mount on an empty folder`)
  }
  await checkDevice(opts.device ?? DEVICE, fail)
  await checkHelper(opts.helper, opts.pathEnv ?? process.env.PATH ?? DEFAULT_PATH, fail)
}

async function checkDevice (device: string, fail: (why: string) => HyperfsError): Promise<void> {
  try {
    const fd = await open(device, constants.O_RDWR)
    await fd.close()
  } catch (err) {
    const code = systemCode(err)
    if (code === 'ENOENT' || code === 'ENXIO' || code === 'ENODEV') {
      throw fail(`${device} is missing: load the fuse module (modprobe fuse), or in a container pass the device (--device /dev/fuse)`)
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw fail(`no permission to open ${device} (run as root, make the device readable and writable for this user, or in a container add --device /dev/fuse --cap-add SYS_ADMIN)`)
    }
    throw fail(`cannot open ${device} (${(err as Error).message})`)
  }
}

async function checkHelper (helper: string, pathEnv: string, fail: (why: string) => HyperfsError): Promise<void> {
  for (const dir of pathEnv.split(delimiter)) {
    if (!dir) continue
    try {
      await access(join(dir, helper), constants.X_OK)
      return
    } catch (err) {
      safetyCatch(err) // not here, or not ours to run: try the next folder
    }
  }
  throw fail(`${helper} was not found on PATH (install FUSE: apt-get install fuse3, or run npm run setup)`)
}
