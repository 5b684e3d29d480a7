// Drive paths: POSIX-style, always taken as absolute. '.', '..', repeated and
// trailing slashes are resolved here, once, so the rest of the drive works on
// component lists. '..' at the root stays at the root, as in POSIX.
import { HyperfsError } from '../errors.js'

export function drivePath (path: string): string[] {
  if (typeof path !== 'string') throw HyperfsError.EINVAL(`a path is a string, got ${typeof path}`)
  if (path.includes('\0')) throw HyperfsError.EINVAL('a path cannot hold a NUL byte')
  const out: string[] = []
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue
    if (c === '..') out.pop()
    else out.push(c)
  }
  return out
}

export function pathString (components: string[]): string {
  return '/' + components.join('/')
}

// Where a symlink in folder `dir` pointing at `target` leads.
export function linkTarget (dir: string[], target: string): string[] {
  return drivePath(target.startsWith('/') ? target : pathString(dir) + '/' + target)
}
