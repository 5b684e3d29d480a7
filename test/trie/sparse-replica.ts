// A stand-in for replication in tests: a reader core opened by key whose
// missing blocks are served from an in-process writer through real proofs
// (proof() / applyProof()). Wanted blocks are collected and served in rounds
// (one round per macrotask), so `rounds` counts the round trips a real peer
// would see and `wants` lists every block the reader asked for.
import { Hypercore } from '../../src/core/hypercore.js'
import { MemoryStorage, type Storage } from '../../src/core/storage.js'
import type { ProofRequest } from '../../src/core/merkle-tree.js'

function req (r: Partial<ProofRequest>): ProofRequest {
  return { fork: 0, block: null, hash: null, seek: null, upgrade: null, manifest: true, ...r }
}

export class SparseReplica {
  readonly writer: Hypercore
  readonly core: Hypercore
  wants: number[] = []
  rounds = 0
  errors: Error[] = []
  private queue: number[] = []
  private scheduled = false

  constructor (writer: Hypercore, storage: Storage = new MemoryStorage()) {
    this.writer = writer
    this.core = new Hypercore(storage, writer.key)
    // stand in for the replicator: wanted blocks come to us instead of peers
    this.core.replicator.want = (i: number) => this.want(i)
    this.core.replicator.unwant = () => {}
  }

  static async open (writer: Hypercore, storage?: Storage): Promise<SparseReplica> {
    await writer.ready()
    const r = new SparseReplica(writer, storage)
    await r.core.ready()
    await r.sync()
    return r
  }

  // Brings the reader's length (not its blocks) up to the writer's.
  async sync (): Promise<void> {
    const from = this.core.length
    if (this.writer.length > from) {
      await this.core.applyProof(await this.writer.proof(req({ upgrade: { start: from, length: this.writer.length - from } })))
    }
  }

  resetCounts (): void {
    this.wants = []
    this.rounds = 0
  }

  private want (i: number): void {
    this.wants.push(i)
    this.queue.push(i)
    if (this.scheduled) return
    this.scheduled = true
    setImmediate(() => { this.pump() })
  }

  private async pump (): Promise<void> {
    this.rounds++
    const batch = [...new Set(this.queue.splice(0))]
    await Promise.all(batch.map((i) => this.serve(i).catch((err) => { this.errors.push(err) })))
    if (this.queue.length) setImmediate(() => { this.pump() })
    else this.scheduled = false
  }

  private async serve (i: number): Promise<void> {
    if (this.core.has(i) || this.core.closed || i >= this.writer.length) return
    const p = await this.writer.proof(req({ block: { index: i, nodes: await this.core.missingNodes(2 * i) }, manifest: false }))
    const r = await this.core.applyProof(p)
    // as the replicator does for a block from a peer: range downloads see it
    if (r.block !== null) this.core.replicator.emit('download', i, p.block!.value!.byteLength)
    this.core.replicator.update()
  }

  close (): Promise<void> {
    return this.core.close()
  }
}
