// Building and classifying Stat entries. Every entry, directories included, is
// explicit in the trie (POSIX needs empty folders and their modes); only the
// root is implied.
import { type Stat, type MountInfo, type HistoryEntry, S_IFMT, S_IFREG, S_IFDIR, S_IFLNK } from './types.js'

const ROOT_TIME_LOOKBACK = 16 // newest history entries searched for the time of a drive's last change

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

// The root has no entry of its own. It shows the time of the drive's last
// change that says one (the newest of the latest entries' times; a real
// hyperdrive@13 app's entries have none, and its root stays at 0), not 1970.
// One per drive view, remembered per version.
export class RootStat {
  private known: { version: number, ms: number } | null = null

  async at (version: number, history: (opts: { gte: number }) => AsyncIterable<HistoryEntry>): Promise<Stat> {
    if (this.known === null || this.known.version !== version) {
      let ms = 0
      for await (const h of history({ gte: Math.max(1, version - ROOT_TIME_LOOKBACK + 1) })) {
        if (h.value) ms = Math.max(ms, h.value.mtime, h.value.ctime)
      }
      this.known = { version, ms }
    }
    return { ...ROOT_STAT, mtime: this.known.ms, ctime: this.known.ms }
  }
}
