// Mounts one Drive at one path. This is what a FUSE host process (the
// daemon, or a test fixture) calls. The process that mounts must never make
// synchronous calls into its own mount: the kernel would wait on the very
// thread that has to answer. Run FuseHost in its own process and use the mount
// from others.
import { tmpdir } from 'node:os'
import { resolve } from 'node:path'
import type { Drive } from '../drive/types.js'
import { DriveFilesystem, type Logger } from './drive-filesystem.js'
import { FuseBinding } from './fuse-binding.js'

export interface FuseHostOptions {
  readOnly?: boolean // refuse changes with EROFS even on a writable drive
  version?: number // mount drive.checkout(version), read-only, instead of the latest
  versionsDir?: string | null // hidden root folder of read-only past versions, /<name>/<N>/... (default '.versions'; null: none)
  readTimeout?: number // ms a read or lookup may wait for the drive, then EIO (default 5000)
  opTimeout?: number // ms any op may take, then EIO (default 30000)
  commitTimeout?: number // ms flush/fsync/release may take to upload a file (default 300000)
  readAheadMin?: number // first read-ahead window, bytes (default 256 KiB; 0 disables)
  readAheadMax?: number // largest read-ahead window, bytes (default 8 MiB)
  spillThreshold?: number // staged bytes per open file kept in memory (default 16 MiB)
  tmpDir?: string // where bigger staged files spill (default os.tmpdir())
  kernelCache?: boolean // keep pages across opens (default off): only for content that cannot change, e.g. a checkout
  force?: boolean // replace a live mount at the path (a dead one is always cleared)
  debug?: boolean // libfuse debug output on stderr
}

const consoleLogger: Logger = {
  error: (msg) => console.error(`[hyperfs fuse] ${msg}`),
  warn: (msg) => console.error(`[hyperfs fuse] ${msg}`)
}

export class FuseHost {
  readonly drive: Drive
  readonly mountpoint: string
  readonly filesystem: DriveFilesystem
  readonly #binding: FuseBinding
  #mounted = false

  private constructor (drive: Drive, mountpoint: string, filesystem: DriveFilesystem, binding: FuseBinding) {
    this.drive = drive
    this.mountpoint = mountpoint
    this.filesystem = filesystem
    this.#binding = binding
  }

  // Resolves once the kernel has the mount and the first op can arrive.
  static async mount (drive: Drive, mountpoint: string, opts: FuseHostOptions = {}, services: { logger?: Logger } = {}): Promise<FuseHost> {
    const logger = services.logger ?? consoleLogger
    const mnt = resolve(mountpoint)
    await drive.ready()
    if (opts.version !== undefined) drive = drive.checkout(opts.version)
    const readOnly = opts.readOnly ?? !drive.writable
    const filesystem = new DriveFilesystem({ drive, logger }, {
      readOnly,
      readTimeout: opts.readTimeout ?? 5000,
      readAhead: { min: opts.readAheadMin ?? 256 * 1024, max: opts.readAheadMax ?? 8 * 1024 * 1024 },
      spillThreshold: opts.spillThreshold ?? 16 * 1024 * 1024,
      tmpDir: opts.tmpDir ?? tmpdir(),
      versionsDir: opts.versionsDir === undefined ? '.versions' : opts.versionsDir
    })
    const binding = new FuseBinding({ filesystem, logger }, {
      mountpoint: mnt,
      opTimeout: opts.opTimeout ?? 30_000,
      commitTimeout: opts.commitTimeout ?? 300_000,
      kernelCache: opts.kernelCache ?? false,
      force: opts.force ?? false,
      debug: opts.debug ?? false
    })
    await binding.mount()
    const host = new FuseHost(drive, mnt, filesystem, binding)
    host.#mounted = true
    return host
  }

  get mounted (): boolean {
    return this.#mounted
  }

  // Unmounts and drops open handles. Changes not yet flushed by their
  // writers are lost, as on any filesystem that is unmounted under them.
  // The drive stays open: whoever opened it closes it.
  async unmount (): Promise<void> {
    if (!this.#mounted) return
    this.#mounted = false
    try {
      await this.#binding.unmount()
    } finally {
      await this.filesystem.close()
    }
  }
}
