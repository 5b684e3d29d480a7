// Opens drives and raw cores by key, once each, so that mounts can reach other
// drives. Storage-agnostic: it asks a factory for one Storage per core folder,
// named
//   drives/<metadata key hex>/metadata   a drive's metadata core
//   drives/<metadata key hex>/content    its content core (key from the header)
//   cores/<key hex>                      a core mounted raw
// A drive created here is writable; one opened by a key whose folder holds no
// secret key is a reader whose blocks arrive through core.get() (replication).
import { join } from 'node:path'
import { Hypercore } from '../core/hypercore.js'
import { MemoryStorage, FileStorage, type Storage } from '../core/storage.js'
import { defaultManifest, keyFromManifest } from '../core/signer.js'
import { keyPair } from '../crypto/index.js'
import { HyperfsError } from '../errors.js'
import { Hyperdrive, type HyperdriveOptions } from './hyperdrive.js'
import type { Drive } from './types.js'

export type StorageFactory = (name: string) => Storage

export interface DriveStoreOptions {
  blockSize?: number
  timeout?: number
}

export class DriveStore {
  private storage: StorageFactory
  private opts: DriveStoreOptions
  private drives = new Map<string, Promise<Hyperdrive>>()
  private cores = new Map<string, Promise<Hypercore>>()
  private closed = false

  constructor (storage: StorageFactory, opts: DriveStoreOptions = {}) {
    this.storage = storage
    this.opts = opts
  }

  // Every name gets its own MemoryStorage, kept for the store's lifetime.
  static memory (opts: DriveStoreOptions = {}): DriveStore {
    const all = new Map<string, MemoryStorage>()
    return new DriveStore((name) => {
      let s = all.get(name)
      if (!s) { s = new MemoryStorage(); all.set(name, s) }
      return s
    }, opts)
  }

  static directory (dir: string, opts: DriveStoreOptions = {}): DriveStore {
    return new DriveStore((name) => new FileStorage(join(dir, name)), opts)
  }

  // A new writable drive. Its key is known before any storage is touched (it
  // derives from a fresh key pair), so its folder is named by the key.
  async create (): Promise<Hyperdrive> {
    const kp = keyPair()
    const key = keyFromManifest(defaultManifest(kp.publicKey))
    const hex = key.toString('hex')
    const p = this.build(key, kp)
    this.drives.set(hex, p)
    return p
  }

  open (key: Buffer): Promise<Hyperdrive> {
    const hex = key.toString('hex')
    let p = this.drives.get(hex)
    if (!p) {
      p = this.build(key, null)
      this.drives.set(hex, p)
      p.catch(() => this.drives.delete(hex))
    }
    return p
  }

  openCore (key: Buffer): Promise<Hypercore> {
    const hex = key.toString('hex')
    let p = this.cores.get(hex)
    if (!p) {
      const core = new Hypercore(this.storage(`cores/${hex}`), key)
      p = core.ready().then(() => core)
      this.cores.set(hex, p)
      p.catch(() => this.cores.delete(hex))
    }
    return p
  }

  // A raw core, new and writable, that can be mounted as a file.
  async createCore (): Promise<Hypercore> {
    const kp = keyPair()
    const key = keyFromManifest(defaultManifest(kp.publicKey))
    const core = new Hypercore(this.storage(`cores/${key.toString('hex')}`), { keyPair: kp })
    await core.ready()
    this.cores.set(key.toString('hex'), Promise.resolve(core))
    return core
  }

  // Options for a drive built outside the store that should reach its mounts.
  driveOptions (): HyperdriveOptions {
    return {
      openDrive: (k) => this.open(k) as Promise<Drive>,
      openCore: (k) => this.openCore(k),
      blockSize: this.opts.blockSize,
      timeout: this.opts.timeout
    }
  }

  private async build (key: Buffer, kp: ReturnType<typeof keyPair> | null): Promise<Hyperdrive> {
    if (this.closed) throw HyperfsError.SESSION_CLOSED('the drive store is closed')
    const base = `drives/${key.toString('hex')}`
    const metadata = new Hypercore(this.storage(`${base}/metadata`), key, kp ? { keyPair: kp } : {})
    const drive = new Hyperdrive({
      metadata,
      content: (contentKey) => new Hypercore(this.storage(`${base}/content`), contentKey)
    }, this.driveOptions())
    await drive.ready()
    return drive
  }

  async close (): Promise<void> {
    this.closed = true
    const drives = await Promise.allSettled([...this.drives.values()])
    const cores = await Promise.allSettled([...this.cores.values()])
    this.drives.clear()
    this.cores.clear()
    await Promise.all([
      ...drives.map((r) => r.status === 'fulfilled' ? r.value.close() : null),
      ...cores.map((r) => r.status === 'fulfilled' ? r.value.close() : null)
    ])
  }
}
