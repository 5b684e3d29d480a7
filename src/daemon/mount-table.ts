// The FUSE mounts the daemon hosts, by absolute mount point. This process
// serves the mounts, so it never touches them through the filesystem itself
// (no fs calls under a mount point of ours): the mount point is only checked
// before it is mounted, and stale-mount handling (a mount left by a daemon
// that was killed) is delegated to src/fuse.
import { mkdir, stat } from 'node:fs/promises'
import { execFile } from 'node:child_process'
import { resolve } from 'node:path'
import type { Drive } from '../drive/types.js'
import { FuseHost } from '../fuse/host.js'
import { clearStaleMount, isMounted } from '../fuse/stale-mount.js'
import type { Logger } from './logger.js'
import { HyperfsError, isHyperfsError, systemCode } from '../errors.js'

const UNMOUNT_MS = 10_000

export interface MountRecord {
  mountpoint: string
  key: string // hex
  version: number | null // a pinned checkout, or null for the latest
  writable: boolean
}

export interface MountOptions {
  readOnly: boolean
  readTimeout?: number
  kernelCache: boolean
}

export class MountTable {
  private logger: Logger
  private mounts = new Map<string, { host: FuseHost, record: MountRecord, onUnmount: () => void }>()
  private busy = new Set<string>()
  private readonly storage: string | undefined // where the drives live: their mounts' statfs shows its disk

  constructor (services: { logger: Logger }, opts: { storage?: string } = {}) {
    this.logger = services.logger
    this.storage = opts.storage
  }

  list (): MountRecord[] {
    return [...this.mounts.values()].map((m) => m.record)
  }

  async mount (drive: Drive, mountpoint: string, opts: MountOptions, record: Omit<MountRecord, 'mountpoint' | 'writable'>, onUnmount: () => void = () => {}): Promise<MountRecord> {
    const mnt = resolve(mountpoint)
    if (this.mounts.has(mnt) || this.busy.has(mnt)) throw HyperfsError.EBUSY(`${mnt} is already mounted by this daemon (hyperfs unmount ${mnt} first)`)
    this.busy.add(mnt)
    try {
      await prepareMountpoint(mnt)
      const host = await FuseHost.mount(drive, mnt, {
        readOnly: opts.readOnly,
        readTimeout: opts.readTimeout,
        kernelCache: opts.kernelCache,
        storage: this.storage
      }, { logger: this.logger })
      const full: MountRecord = { ...record, mountpoint: mnt, writable: drive.writable && !opts.readOnly }
      this.mounts.set(mnt, { host, record: full, onUnmount })
      this.logger.info(`mounted ${record.key}${record.version === null ? '' : '@' + record.version} at ${mnt}`)
      return full
    } finally {
      this.busy.delete(mnt)
    }
  }

  // 'live': ours, unmounted; 'stale': a dead mount (its daemon was killed) cleared.
  async unmount (mountpoint: string): Promise<'live' | 'stale'> {
    const mnt = resolve(mountpoint)
    const m = this.mounts.get(mnt)
    if (m) {
      this.mounts.delete(mnt)
      try {
        await bounded(m.host.unmount(), UNMOUNT_MS, `unmount ${mnt}`)
      } catch (err) {
        // busy (a program holds a file open) or stuck: detach lazily, as umount -l
        this.logger.warn(`${(err as Error).message}; detaching lazily`)
        await lazyUnmount(mnt)
      } finally {
        m.onUnmount()
      }
      this.logger.info(`unmounted ${mnt}`)
      return 'live'
    }
    if (!(await isMounted(mnt))) throw HyperfsError.EINVAL(`${mnt} is not mounted`)
    try {
      await clearStaleMount(mnt)
    } catch (err) {
      if (isHyperfsError(err, 'EBUSY')) {
        throw HyperfsError.EBUSY(`${mnt} is mounted by another process (not this daemon); use fusermount -u ${mnt}`)
      }
      throw err
    }
    this.logger.info(`cleared a dead mount at ${mnt}`)
    return 'stale'
  }

  async closeAll (): Promise<void> {
    await Promise.all([...this.mounts.keys()].map((mnt) => this.unmount(mnt).catch((err) => {
      this.logger.error(`unmount ${mnt}: ${(err as Error).message}`)
    })))
  }
}

// A missing mount point is created. Anything else wrong with it (not a
// folder, not empty, a dead mount there) is FuseHost's to clear or to report.
// A path that is a mount already is left alone: a stat there waits on that
// mount's host, forever if the host is stuck.
async function prepareMountpoint (mnt: string): Promise<void> {
  if (await isMounted(mnt)) return
  try {
    await stat(mnt)
  } catch (err) {
    if (systemCode(err) === 'ENOENT') await mkdir(mnt, { recursive: true })
  }
}

function lazyUnmount (mnt: string): Promise<void> {
  return new Promise((resolve) => {
    execFile('fusermount', ['-uz', mnt], { timeout: UNMOUNT_MS }, () => resolve())
  })
}

function bounded<T> (p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    p,
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(HyperfsError.REQUEST_TIMEOUT(`${what} took over ${ms} ms`)), ms) })
  ]).finally(() => clearTimeout(timer))
}
