// How much of a folder's content is held locally, for download's progress
// bar. Files are listed once (metadata only); each poll counts the content
// blocks of those files that are present, scaled to bytes. Drives mounted
// inside the folder are downloaded too but not counted (their bytes live in
// other content cores).
import type { Hyperdrive } from '../drive/hyperdrive.js'
import { S_IFMT, S_IFDIR, S_IFREG, type Stat } from '../drive/types.js'
import { MAX_PATH_DEPTH } from '../drive/drive-path.js'
import { HyperfsError } from '../errors.js'

export class DownloadProgress {
  readonly total: number
  readonly files: number
  readonly mounts: string[] // drives mounted under the folder, fetched by Drive#download
  private drive: Hyperdrive
  private ranges: Stat[]

  private constructor (drive: Hyperdrive, ranges: Stat[], mounts: string[]) {
    this.drive = drive
    this.ranges = ranges
    this.mounts = mounts
    this.total = ranges.reduce((n, s) => n + s.size, 0)
    this.files = ranges.length
  }

  static async of (drive: Hyperdrive, path: string): Promise<DownloadProgress> {
    const files: Stat[] = []
    const mounts: string[] = []
    const walk = async (p: string, st: Stat, depth: number): Promise<void> => {
      if (st.mount) { mounts.push(p); return }
      const kind = st.mode & S_IFMT
      if (kind === S_IFREG) { files.push(st); return }
      if (kind !== S_IFDIR) return
      if (depth > MAX_PATH_DEPTH) throw HyperfsError.WALK_TOO_DEEP(`${p}: more than ${MAX_PATH_DEPTH} folders deep`)
      for await (const e of drive.readdir(p)) await walk(p === '/' ? '/' + e.name : p + '/' + e.name, e.stat, depth + 1)
    }
    await walk(path, await drive.lstat(path), 0)
    if (files.some((f) => f.blocks > 0)) await drive.info() // loads the content core
    return new DownloadProgress(drive, files, mounts)
  }

  // The content blocks of the files, as few [start, end) ranges as possible.
  blockRanges (): Array<[number, number]> {
    const sorted = this.ranges.filter((f) => f.blocks > 0).map((f): [number, number] => [f.offset, f.offset + f.blocks]).sort((a, b) => a[0] - b[0])
    const out: Array<[number, number]> = []
    for (const r of sorted) {
      const last = out[out.length - 1]
      if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1])
      else out.push([r[0], r[1]])
    }
    return out
  }

  held (): number {
    const core = this.drive.content
    if (!core) return 0
    let bytes = 0
    for (const f of this.ranges) {
      if (f.blocks === 0) continue
      let n = 0
      for (let i = 0; i < f.blocks; i++) if (core.has(f.offset + i)) n++
      bytes += n === f.blocks ? f.size : Math.floor(f.size * n / f.blocks)
    }
    return bytes
  }
}
