// A one-line progress bar for a terminal: bytes, rate, peers, ETA. The rate is
// smoothed (exponential moving average) so the ETA does not jump around.
// On a stream that is not a terminal it draws nothing.
export interface Progress {
  bytes: number
  total: number
  peers: number
}

const WIDTH = 24
const SMOOTHING = 0.3

export class ProgressBar {
  private out: NodeJS.WriteStream
  private last: { bytes: number, at: number } | null = null
  private rate = 0
  private drawn = false

  constructor (out: NodeJS.WriteStream, private now: () => number = Date.now) {
    this.out = out
  }

  update (p: Progress): void {
    const at = this.now()
    if (this.last && at > this.last.at) {
      const r = Math.max(0, p.bytes - this.last.bytes) * 1000 / (at - this.last.at)
      this.rate = this.rate === 0 ? r : this.rate + SMOOTHING * (r - this.rate)
    }
    this.last = { bytes: p.bytes, at }
    if (!this.out.isTTY) return
    this.out.write('\r' + this.line(p) + '\x1b[K')
    this.drawn = true
  }

  line (p: Progress): string {
    const frac = p.total === 0 ? 1 : Math.min(1, p.bytes / p.total)
    const filled = Math.round(frac * WIDTH)
    const remaining = Math.max(0, p.total - p.bytes)
    const eta = remaining === 0 ? 'done' : this.rate > 0 ? 'ETA ' + duration(remaining / this.rate) : 'ETA --:--'
    return `[${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${(frac * 100).toFixed(1).padStart(5)}% ` +
      `${bytes(p.bytes)} / ${bytes(p.total)}  ${bytes(this.rate)}/s  ${p.peers} peer${p.peers === 1 ? '' : 's'}  ${eta}`
  }

  done (): void {
    if (this.drawn) this.out.write('\n')
    this.drawn = false
  }
}

export function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++ }
  return i === 0 ? `${Math.round(n)} B` : `${n.toFixed(1)} ${units[i]}`
}

function duration (s: number): string {
  if (!Number.isFinite(s)) return '--:--'
  const t = Math.round(s)
  const h = Math.floor(t / 3600)
  const m = Math.floor((t % 3600) / 60)
  const sec = String(t % 60).padStart(2, '0')
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`
}
