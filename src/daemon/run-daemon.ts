// Runs a daemon in this process until SIGINT/SIGTERM or a "stop" call, then
// unmounts everything and exits 0. This is `hyperfs daemon` (foreground, for
// a service manager) and also what a daemon started on demand runs, detached.
import { Daemon } from './daemon.js'
import type { DaemonConfig } from './daemon-config.js'
import { logger as makeLogger } from './logger.js'

const STOP_MS = 20_000

export async function runDaemon (config: DaemonConfig, opts: { onReady?: (d: Daemon) => void } = {}): Promise<number> {
  const logger = makeLogger()
  const daemon = await Daemon.start(config, { logger })
  const stop = (why: string): void => {
    logger.info(`${why}: stopping`)
    // an unmount stuck in the kernel must not keep the process alive forever
    setTimeout(() => { logger.error(`not stopped within ${STOP_MS} ms; exiting`); process.exit(1) }, STOP_MS).unref()
    void daemon.stop()
  }
  const onSigint = (): void => stop('SIGINT')
  const onSigterm = (): void => stop('SIGTERM')
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigterm)
  process.on('SIGHUP', () => {}) // a detached daemon outlives the terminal
  process.on('unhandledRejection', (err) => logger.error(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`))
  opts.onReady?.(daemon)
  await daemon.stopped
  process.off('SIGINT', onSigint)
  process.off('SIGTERM', onSigterm)
  return 0
}
