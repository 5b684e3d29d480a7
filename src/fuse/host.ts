// Mounts one Drive at one path. This is what a FUSE host process (the
// daemon, or a test fixture) calls. The process that mounts must never make
// synchronous calls into its own mount: the kernel would wait on the very
// thread that has to answer. Run FuseHost in its own process and use the mount
// from others.
//
// The pieces, top down: DriveFilesystem (the filesystem logic over a Drive),
// FuseBridge (the per-op rules), and a binding from the factory the caller
// passes, which speaks to the kernel: by default our libfuse3 addon (native/)
// where it was built, else fuse-native (HYPERFS_FUSE=fuse-native forces it).
import { statfs } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { resolve } from 'node:path'
import type { Drive } from '../drive/types.js'
import { HyperfsError, isHyperfsError } from '../errors.js'
import type { FuseBinding, FuseBindingFactory, Logger } from './api.js'
import { FuseBridge } from './bridge.js'
import { DriveFilesystem } from './drive-filesystem.js'
import { fuseNativeBinding } from './fuse-native-binding.js'
import { invalidateOnChange, preferNative, type KernelCache } from './native-binding.js'
import { checkMountpoint } from './mount-check.js'
import { clearStaleMount } from './stale-mount.js'

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
  nonEmpty?: boolean // mount over a folder that has entries (default off: FUSE_FAILED)
  force?: boolean // replace a live mount at the path (a dead one is always cleared)
  debug?: boolean // the binding's debug output on stderr
  storage?: string // the folder the drive is stored in: statfs reports its disk's free space
}

export interface FuseHostServices {
  logger?: Logger
  binding?: FuseBindingFactory // which library speaks to the kernel (default: native where built, else fuse-native)
  clock?: () => number // ms, for the stat cache's idle expiry (default Date.now)
}

const consoleLogger: Logger = {
  error: (msg) => console.error(`[hyperfs fuse] ${msg}`),
  warn: (msg) => console.error(`[hyperfs fuse] ${msg}`)
}

export class FuseHost {
  readonly drive: Drive
  readonly mountpoint: string
  readonly filesystem: DriveFilesystem
  readonly #bridge: FuseBridge
  readonly #binding: FuseBinding
  readonly #watching = new AbortController() // the kernel-cache invalidation follows the drive until unmount
  #mounted = false

  private constructor (drive: Drive, mountpoint: string, filesystem: DriveFilesystem, bridge: FuseBridge, binding: FuseBinding) {
    this.drive = drive
    this.mountpoint = mountpoint
    this.filesystem = filesystem
    this.#bridge = bridge
    this.#binding = binding
  }

  // Resolves once the kernel has the mount and the first op can arrive.
  // Rejects with FUSE_FAILED, saying why, when it cannot mount.
  static async mount (drive: Drive, mountpoint: string, opts: FuseHostOptions = {}, services: FuseHostServices = {}): Promise<FuseHost> {
    const logger = services.logger ?? consoleLogger
    const factory = services.binding ?? preferNative(fuseNativeBinding, logger)
    const mnt = resolve(mountpoint)
    await drive.ready()
    if (opts.version !== undefined) drive = drive.checkout(opts.version)
    // a dead mount at the path fails every check below with ENOTCONN
    if (await clearStaleMount(mnt, { force: opts.force ?? false })) logger.warn(`cleared a dead mount at ${mnt}`)
    await checkMountpoint(mnt, { nonEmpty: opts.nonEmpty ?? false, helper: factory.helper })

    const readOnly = opts.readOnly ?? !drive.writable
    const storage = opts.storage
    const diskFree = storage === undefined ? undefined : async () => { const s = await statfs(storage); return s.bavail * s.bsize }
    const filesystem = new DriveFilesystem({ drive, logger, clock: services.clock, diskFree }, {
      readOnly,
      readTimeout: opts.readTimeout ?? 5000,
      readAhead: { min: opts.readAheadMin ?? 256 * 1024, max: opts.readAheadMax ?? 8 * 1024 * 1024 },
      spillThreshold: opts.spillThreshold ?? 16 * 1024 * 1024,
      tmpDir: opts.tmpDir ?? tmpdir(),
      versionsDir: opts.versionsDir === undefined ? '.versions' : opts.versionsDir
    })
    const bridge = new FuseBridge({ filesystem, logger }, {
      opTimeout: opts.opTimeout ?? 30_000,
      commitTimeout: opts.commitTimeout ?? 300_000
    })
    const binding = factory.create(bridge, {
      mountpoint: mnt,
      kernelCache: opts.kernelCache ?? false,
      nonEmpty: opts.nonEmpty ?? false,
      debug: opts.debug ?? false
    }, { logger })
    try {
      await binding.mount()
    } catch (err) {
      bridge.close()
      await filesystem.close()
      if (isHyperfsError(err, 'FUSE_FAILED')) throw err
      throw HyperfsError.from('FUSE_FAILED', `cannot mount at ${mnt}: ${factory.name}: ${(err as Error).message}`, err)
    }
    const host = new FuseHost(drive, mnt, filesystem, bridge, binding)
    host.#mounted = true
    // a binding that lets the kernel cache pages and attributes is told of every change of the drive
    if ('invalidate' in binding) void invalidateOnChange(drive, binding as unknown as KernelCache, { signal: host.#watching.signal, logger })
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
    this.#watching.abort()
    try {
      await this.#binding.unmount()
    } finally {
      this.#bridge.close()
      await this.filesystem.close()
    }
  }
}
