// What a download has done so far, drive by drive, from the statuses that
// Drive#download reports: the progress events the CLI draws (files, bytes
// and total over every drive, and the drive being fetched), and the summary
// at the end, which names each drive (the one downloaded and each mounted in
// it) that was fetched and each that failed, with why.
import type { DownloadStatus } from '../drive/types.js'
import { z32 } from '../fuse/z32.js'

export interface DrivePart {
  path: string // where the drive is in the download ('/' or the path asked for, then its mount points)
  key: string // hex
  kind: 'drive' | 'core'
  files: number
  bytes: number
  total: number
  state: DownloadStatus['state']
  error: { code: string, message: string } | null
}

export interface DownloadTotals {
  path: string
  files: number
  bytes: number
  total: number
  peers: number
  drives: DrivePart[]
}

// A progress event: the totals so far and the drive being fetched (the
// final answer lists them all; a download may reach many).
export interface DownloadTick {
  path: string
  files: number
  bytes: number
  total: number
  peers: number
  drive: DrivePart | null
}

export class DownloadProgress {
  readonly path: string
  private parts = new Map<string, DownloadStatus>() // by path, in the order first met
  private current: DownloadStatus | null = null

  constructor (path: string) {
    this.path = path
  }

  update (status: DownloadStatus): void {
    this.parts.set(status.path, status)
    this.current = status
  }

  tick (peers: number): DownloadTick {
    const { drives, ...totals } = this.totals(peers)
    return { ...totals, drive: this.current ? part(this.current) : null }
  }

  totals (peers: number): DownloadTotals {
    const drives = [...this.parts.values()].map(part)
    return {
      path: this.path,
      files: drives.reduce((n, d) => n + d.files, 0),
      bytes: drives.reduce((n, d) => n + d.bytes, 0),
      total: drives.reduce((n, d) => n + d.total, 0),
      peers,
      drives
    }
  }

  failed (): DownloadStatus[] {
    return [...this.parts.values()].filter((s) => s.state === 'failed')
  }

  // For people: a first line with the totals, then a line per drive, the failed ones first.
  describe (): string {
    const t = this.totals(0)
    const failed = this.failed().length
    const parts = [...this.parts.values()].sort((a, b) => Number(b.state === 'failed') - Number(a.state === 'failed'))
    const lines = [`${failed} of ${this.parts.size} drive${this.parts.size === 1 ? '' : 's'} failed; the rest is downloaded ` +
      `(${t.bytes} of ${t.total} bytes in ${t.files} file${t.files === 1 ? '' : 's'} under ${this.path}):`]
    for (const s of parts) {
      const where = `${s.path} (hyper://${z32(s.key)}${s.kind === 'core' ? ', a raw core' : ''})`
      lines.push(s.state === 'failed'
        ? `  failed ${where}: ${s.error?.message ?? 'unknown error'}`
        : `  ${s.state === 'done' ? 'done' : s.state} ${where}: ${s.files} file${s.files === 1 ? '' : 's'}, ${s.bytes} bytes`)
    }
    return lines.join('\n')
  }
}

function part (s: DownloadStatus): DrivePart {
  const code = (s.error as { code?: unknown } | null)?.code
  return {
    path: s.path,
    key: s.key.toString('hex'),
    kind: s.kind,
    files: s.files,
    bytes: s.bytes,
    total: s.total,
    state: s.state,
    error: s.error ? { code: typeof code === 'string' ? code : 'EIO', message: s.error.message } : null
  }
}
