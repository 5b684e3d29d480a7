// The daemon's log: one timestamped line per event on stderr, which is the
// log file (<storage>/daemon.log) when the daemon was started on demand.
export interface Logger {
  info (msg: string): void
  warn (msg: string): void
  error (msg: string): void
}

export function logger (out: NodeJS.WritableStream = process.stderr): Logger {
  const line = (level: string, msg: string): void => { out.write(`${new Date().toISOString()} ${level} ${msg}\n`) }
  return {
    info: (msg) => line('info', msg),
    warn: (msg) => line('warn', msg),
    error: (msg) => line('error', msg)
  }
}
