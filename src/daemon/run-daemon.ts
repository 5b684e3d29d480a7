// Runs a daemon in this process until SIGINT/SIGTERM, a "stop" call or (for a
// daemon started on demand) its idle exit, then unmounts everything and ends
// the process. This is `hyperfs daemon` (foreground, for a service manager)
// and also what a daemon started on demand runs, detached.
import { Daemon } from './daemon.js'
import type { DaemonConfig } from './daemon-config.js'
import { logger as makeLogger } from './logger.js'

// A stop that takes longer than this (an unmount stuck in the kernel, a
// hung mount) is forced: the process exits anyway, and the kernel turns its
// mounts into dead ones that the next mount or unmount clears.
export const STOP_MS = 20_000

export async function runDaemon (config: DaemonConfig, opts: { onReady?: (d: Daemon) => void } = {}): Promise<never> {
  const logger = makeLogger()
  const daemon = await Daemon.start(config, { logger })
  void daemon.stopStarted.then(() => {
    setTimeout(() => { logger.error(`not stopped within ${STOP_MS} ms; exiting`); process.exit(1) }, STOP_MS).unref()
  })
  const onSigint = (): void => { void daemon.stop('SIGINT') }
  const onSigterm = (): void => { void daemon.stop('SIGTERM') }
  process.on('SIGINT', onSigint)
  process.on('SIGTERM', onSigterm)
  process.on('SIGHUP', () => {}) // a detached daemon outlives the terminal
  process.on('unhandledRejection', (err) => logger.error(`unhandled rejection: ${(err as Error)?.stack ?? String(err)}`))
  opts.onReady?.(daemon)
  await daemon.stopped
  // Stopped means done: a FUSE session the kernel never gave back (a mount
  // detached behind our back with fusermount -uz, say) keeps the event loop
  // alive with no handle that node can list, so waiting for it to drain would
  // leave a stopped daemon running for ever.
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()))
  process.exit(0)
}
