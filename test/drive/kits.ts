// Drive kits for the compliance suite: in memory, on disk, and a sparse replica
// whose blocks are fetched on demand from the writer through real proofs.
import type { TestContext } from 'node:test'
import { Hypercore } from '../../src/core/hypercore.js'
import { DriveStore } from '../../src/drive/drive-store.js'
import { Hyperdrive } from '../../src/drive/hyperdrive.js'
import type { Drive } from '../../src/drive/types.js'
import { SparseReplica } from '../trie/sparse-replica.js'
import { tmpDir } from '../helpers/tmp.js'
import type { DriveEnv } from './drive-suite.js'
import type { DriveFormatName } from '../../src/drive/drive-format.js'

function localEnv (t: TestContext, store: DriveStore, format: DriveFormatName): DriveEnv {
  t.after(() => store.close())
  return {
    create: () => store.create({ format }),
    createCore: () => store.createCore(),
    reader: async (d) => d,
    mounts: format === 'hypertrie'
  }
}

export const memoryKit = async (t: TestContext) => localEnv(t, DriveStore.memory(), 'hypertrie')
export const fileKit = async (t: TestContext) => localEnv(t, DriveStore.directory(tmpDir(t)), 'hypertrie')
export const memoryKit13 = async (t: TestContext) => localEnv(t, DriveStore.memory(), 'hyperdrive13')
export const fileKit13 = async (t: TestContext) => localEnv(t, DriveStore.directory(tmpDir(t)), 'hyperdrive13')

export interface ReplicaDrive {
  drive: Hyperdrive
  metadata: SparseReplica
  content: SparseReplica
}

// Replicas of the drives (and raw cores) of a writer store, one per key,
// brought up to the writer's length each time reader() is called.
export class ReplicaEnv implements DriveEnv {
  readonly store: DriveStore
  readonly drives = new Map<string, Promise<ReplicaDrive>>()
  readonly cores = new Map<string, Promise<SparseReplica>>()

  constructor (t: TestContext) {
    this.store = DriveStore.memory()
    t.after(async () => {
      for (const p of this.drives.values()) { const r = await p; await r.drive.close() }
      for (const p of this.cores.values()) await (await p).close()
      await this.store.close()
    })
  }

  create (): Promise<Drive> { return this.store.create() }
  createCore (): Promise<Hypercore> { return this.store.createCore() }

  async reader (d: Drive): Promise<Drive> {
    for (const p of this.drives.values()) { const r = await p; await r.metadata.sync(); await r.content.sync() }
    for (const p of this.cores.values()) await (await p).sync()
    return (await this.replica(d.key)).drive
  }

  replica (key: Buffer): Promise<ReplicaDrive> {
    const hex = key.toString('hex')
    let p = this.drives.get(hex)
    if (!p) {
      p = (async () => {
        const writer = await this.store.open(key)
        const metadata = await SparseReplica.open(writer.metadata)
        const content = await SparseReplica.open(writer.content!)
        const drive = new Hyperdrive({ metadata: metadata.core, content: () => content.core }, {
          openDrive: async (k) => (await this.replica(k)).drive,
          openCore: async (k) => {
            const h = k.toString('hex')
            let c = this.cores.get(h)
            if (!c) { c = this.store.openCore(k).then((w) => SparseReplica.open(w)); this.cores.set(h, c) }
            return (await c).core
          },
          timeout: 10_000
        })
        await drive.ready()
        return { drive, metadata, content }
      })()
      this.drives.set(hex, p)
    }
    return p
  }
}

export const replicaKit = async (t: TestContext) => new ReplicaEnv(t)

// Readers in a second store, connected to the writer's store by real
// replication (secret-stream + mux + hypercore/alpha) over an in-memory pipe.
// Every core of the writer store (content and mounts included) is served.
export const replicatedKit = (t: TestContext): Promise<DriveEnv> => replicated(t, 'hypertrie')
export const replicatedKit13 = (t: TestContext): Promise<DriveEnv> => replicated(t, 'hyperdrive13')

async function replicated (t: TestContext, format: DriveFormatName): Promise<DriveEnv> {
  const writers = DriveStore.memory()
  const readers = DriveStore.memory({ timeout: 10_000 })
  const a = writers.replicate(true)
  const b = readers.replicate(false)
  a.pipe(b).pipe(a)
  t.after(async () => {
    a.destroy(); b.destroy()
    await readers.close()
    await writers.close()
  })
  return {
    create: () => writers.create({ format }),
    createCore: () => writers.createCore(),
    async reader (d) {
      const r = await readers.open(d.key)
      await r.metadata.update()
      return r
    },
    mounts: format === 'hypertrie'
  }
}
