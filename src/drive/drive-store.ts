// Opens drives and raw cores by key, once each, so that mounts can reach other
// drives. Every core (a drive's metadata core, its content core, whose key is in
// the metadata header, and a core mounted raw) lives in the one Store, which
// names each core's folder by its discovery key (see store/store.ts).
// A drive created here is writable; one opened by a key whose folder holds no
// secret key is a reader whose blocks arrive through core.get() (replication).
// Which format a drive is in comes from its first block (drive-formats.ts):
// every drive opened here is a RoutedDrive, whatever its format.
import { Hypercore } from '../core/hypercore.js'
import { Store } from '../store/store.js'
import { type ProtocolStreamOptions } from '../net/protocol-stream.js'
import type { Duplex } from 'node:stream'
import { defaultManifest, keyFromManifest } from '../core/signer.js'
import { keyPair } from '../crypto/index.js'
import { HyperfsError } from '../errors.js'
import type { HyperdriveOptions } from './hyperdrive.js'
import type { RoutedDrive } from './routed-drive.js'
import { detectFormat, openFormat } from './drive-formats.js'
import type { DriveFormatName } from './drive-format.js'
import type { Drive } from './types.js'

// ms between looks for a first peer of a drive opened by key
const FIRST_PEER_POLL_MS = 100

export interface DriveStoreOptions {
  blockSize?: number
  timeout?: number
  onwarning?: (msg: string) => void // entries of drives skipped as invalid
}

export class DriveStore {
  readonly store: Store
  private opts: DriveStoreOptions
  private drives = new Map<string, Promise<RoutedDrive>>()
  private opened = new Map<string, RoutedDrive>() // the drives of `drives` that are open
  private cores = new Map<string, Promise<Hypercore>>()
  private onopen: Array<(drive: RoutedDrive) => void> = []
  private closed = false

  constructor (store: Store, opts: DriveStoreOptions = {}) {
    this.store = store
    this.opts = opts
  }

  static memory (opts: DriveStoreOptions = {}): DriveStore {
    return new DriveStore(Store.memory(), opts)
  }

  static directory (dir: string, opts: DriveStoreOptions = {}): DriveStore {
    return new DriveStore(new Store(dir), opts)
  }

  // every core of every drive (content and mounts included) over one stream
  replicate (isInitiator: boolean | Duplex, opts: ProtocolStreamOptions = {}): Duplex {
    return this.store.replicate(isInitiator, opts)
  }

  // A new writable drive, in the Hypertrie format unless asked otherwise. Its
  // key is known before any storage is touched (it derives from a fresh key
  // pair), so its folder is named by the key.
  async create (opts: { format?: DriveFormatName } = {}): Promise<RoutedDrive> {
    const kp = keyPair()
    const key = keyFromManifest(defaultManifest(kp.publicKey))
    const hex = key.toString('hex')
    const p = this.build(key, kp, opts.format ?? 'hypertrie')
    this.drives.set(hex, p)
    return p
  }

  open (key: Buffer): Promise<RoutedDrive> {
    const hex = key.toString('hex')
    let p = this.drives.get(hex)
    if (!p) {
      p = this.build(key, null)
      this.drives.set(hex, p)
      p.catch(() => this.drives.delete(hex))
    }
    return p
  }

  // A drive this store has open with something in it, or null; never waits
  // for peers (so mount()'s cycle check costs no network round trip).
  async held (key: Buffer): Promise<RoutedDrive | null> {
    const d = this.opened.get(key.toString('hex'))
    return d && d.metadata.length > 0 ? d : null
  }

  openCore (key: Buffer): Promise<Hypercore> {
    const hex = key.toString('hex')
    let p = this.cores.get(hex)
    if (!p) {
      p = this.store.get({ key, role: 'content' }).then(async (core) => { await this.firstVersion(core); return core })
      this.cores.set(hex, p)
      p.catch(() => this.cores.delete(hex))
    }
    return p
  }

  // A core we know nothing of yet (nothing held here): wait, within the
  // timeout, for connected peers to tell us its length, so that opening a
  // remote drive or core by key (a mount, say) does not show it empty.
  private async firstVersion (core: Hypercore): Promise<void> {
    if (core.writable || core.length > 0) return
    await core.update({ timeout: this.opts.timeout ?? 10_000 })
  }

  // A drive opened by key takes its format from its first block, so an empty
  // core is not enough to go on while no peer has spoken: update() answers at
  // once when none is connected (a swarm still looking the drive up), and the
  // drive would be taken for an empty one in the default format. Wait, within
  // the timeout, for a first peer; one that has spoken says what is there.
  private async firstPeer (core: Hypercore): Promise<void> {
    const deadline = Date.now() + (this.opts.timeout ?? 10_000)
    while (!core.writable && core.length === 0 && core.peers === 0 && !this.closed && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, FIRST_PEER_POLL_MS))
      await core.update({ timeout: Math.max(1, deadline - Date.now()) })
    }
  }

  // Calls fn with each drive open now and each opened from now on (the
  // daemon's history budget watches the drives it writes this way).
  onOpen (fn: (drive: RoutedDrive) => void): void {
    this.onopen.push(fn)
    for (const d of this.opened.values()) fn(d)
  }

  // A raw core, new and writable, that can be mounted as a file.
  async createCore (): Promise<Hypercore> {
    const kp = keyPair()
    const key = keyFromManifest(defaultManifest(kp.publicKey))
    const core = await this.store.get({ key, keyPair: kp })
    this.cores.set(key.toString('hex'), Promise.resolve(core))
    return core
  }

  // Options for a drive built outside the store that should reach its mounts.
  driveOptions (): HyperdriveOptions {
    return {
      openDrive: (k) => this.open(k) as Promise<Drive>,
      heldDrive: (k) => this.held(k),
      openCore: (k) => this.openCore(k),
      onwarning: this.opts.onwarning,
      blockSize: this.opts.blockSize,
      timeout: this.opts.timeout
    }
  }

  // The one place a drive is built: by the format asked for (a new drive), or
  // by the one its first block says.
  private async build (key: Buffer, kp: ReturnType<typeof keyPair> | null, format: DriveFormatName | null = null): Promise<RoutedDrive> {
    if (this.closed) throw HyperfsError.SESSION_CLOSED('the drive store is closed')
    const metadata = await this.store.get({ key, ...(kp ? { keyPair: kp } : {}) })
    await this.firstVersion(metadata)
    if (format === null) await this.firstPeer(metadata)
    if (this.closed) throw HyperfsError.SESSION_CLOSED('the drive store is closed')
    const kind = format ?? await detectFormat(metadata, this.opts.timeout ?? 10_000)
    const drive = openFormat(kind, metadata, this.store, this.driveOptions())
    await drive.ready()
    this.opened.set(key.toString('hex'), drive)
    for (const fn of this.onopen) fn(drive)
    return drive
  }

  async close (): Promise<void> {
    this.closed = true
    const drives = await Promise.allSettled([...this.drives.values()])
    const cores = await Promise.allSettled([...this.cores.values()])
    this.drives.clear()
    this.opened.clear()
    this.cores.clear()
    await Promise.all([
      ...drives.map((r) => r.status === 'fulfilled' ? r.value.close() : null),
      ...cores.map((r) => r.status === 'fulfilled' ? r.value.close() : null)
    ])
    await this.store.close()
  }
}
