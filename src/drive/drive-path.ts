// Drive paths: POSIX-style, always taken as absolute. '.', '..', repeated and
// trailing slashes are resolved here, once, so the rest of the drive works on
// component lists. '..' at the root stays at the root, as in POSIX.
//
// Names: a drive's names come from its writer, who may be hostile, so one
// rule decides which names a drive holds. It is enforced when a path is
// resolved (so nothing invalid is written) and again on every name read from
// the trie (an invalid one is skipped): '', '.' and '..' would make a walk
// that joins names into paths climb or loop, a NUL byte is where C (and so
// FUSE) cuts a name short ('evil\0name' would list as 'evil'), and a name over
// NAME_MAX lists but cannot be looked up through the kernel.
import { HyperfsError } from '../errors.js'

export const NAME_MAX = 255 // bytes of one name (Linux's NAME_MAX)
export const PATH_MAX = 4096 // bytes of a whole path, its separators included (Linux's PATH_MAX)
// the most components a valid path can have: one byte each, with a '/' between
export const MAX_PATH_DEPTH = PATH_MAX / 2

// Why `name` cannot be a name in a drive, or null when it can.
export function nameProblem (name: string): string | null {
  if (name === '') return 'an empty name'
  if (name === '.' || name === '..') return `the name "${name}"`
  if (name.includes('\0')) return 'a NUL byte in a name'
  if (name.includes('/')) return 'a "/" in a name'
  // a UTF-16 unit is at most 3 UTF-8 bytes, so short names skip the count
  if (name.length * 3 > NAME_MAX && Buffer.byteLength(name) > NAME_MAX) return `a name of more than ${NAME_MAX} bytes`
  return null
}

// Why a stored key ('a/b/c', as the trie holds it) is not a valid path, or null.
export function keyProblem (key: string): string | null {
  if ((key.length + 1) * 3 > PATH_MAX && Buffer.byteLength(key) + 1 > PATH_MAX) return `a path of more than ${PATH_MAX} bytes`
  for (const c of key.split('/')) {
    const p = nameProblem(c)
    if (p) return p
  }
  return null
}

export function drivePath (path: string): string[] {
  if (typeof path !== 'string') throw HyperfsError.EINVAL(`a path is a string, got ${typeof path}`)
  if (path.includes('\0')) throw HyperfsError.INVALID_NAME('a path cannot hold a NUL byte')
  const out: string[] = []
  let units = 0
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue
    if (c === '..') {
      const last = out.pop()
      if (last !== undefined) units -= last.length + 1
      continue
    }
    // with no NUL and no '/', only the length can be wrong
    if (nameProblem(c)) throw HyperfsError.ENAMETOOLONG(`a name is at most ${NAME_MAX} bytes: ${c.slice(0, 32)}…`)
    out.push(c)
    units += c.length + 1
  }
  if (units * 3 > PATH_MAX && Buffer.byteLength(pathString(out)) > PATH_MAX) throw HyperfsError.ENAMETOOLONG(`a path is at most ${PATH_MAX} bytes`)
  return out
}

export function pathString (components: string[]): string {
  return '/' + components.join('/')
}

// Where a symlink in folder `dir` pointing at `target` leads.
export function linkTarget (dir: string[], target: string): string[] {
  return drivePath(target.startsWith('/') ? target : pathString(dir) + '/' + target)
}
