// Building and classifying Stat entries. Every entry, directories included, is
// explicit in the trie (POSIX needs empty folders and their modes); only the
// root is implied.
import { type Stat, type MountInfo, S_IFMT, S_IFREG, S_IFDIR, S_IFLNK } from './types.js'

export function statEntry (fields: Partial<Stat> & { mode: number }): Stat {
  const now = Date.now()
  return {
    uid: 0,
    gid: 0,
    size: 0,
    blocks: 0,
    offset: 0,
    byteOffset: 0,
    mtime: now,
    ctime: now,
    linkname: null,
    metadata: {},
    mount: null,
    ...fields
  }
}

export const ROOT_STAT: Stat = statEntry({ mode: S_IFDIR | 0o755, mtime: 0, ctime: 0 })

export const isDir = (s: Stat) => (s.mode & S_IFMT) === S_IFDIR
export const isFile = (s: Stat) => (s.mode & S_IFMT) === S_IFREG
export const isLink = (s: Stat) => (s.mode & S_IFMT) === S_IFLNK

export function mountStat (m: MountInfo): Stat {
  return statEntry({ mode: m.kind === 'core' ? S_IFREG | 0o444 : S_IFDIR | 0o755, mount: m })
}
