// The content cores a reader's cache has counted, kept in
// <storage>/cached-cores.json ({ "version": 1, "cores": [hex key] }), so that
// a daemon started with a cache opens and counts them before anything reads
// them: what an earlier run kept is held to the cap too. Written whole to a
// temporary file and renamed over; a damaged or unknown file is ignored (the
// cores then join the count when a drive opens them, as before).
import { readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { PRIVATE_FILE_MODE } from '../core/storage.js'
import { HyperfsError, systemCode } from '../errors.js'

const LIST_VERSION = 1
export const MAX_CACHED_CORES = 4096 // cores remembered; past it the oldest are forgotten

export class CachedCores {
  private cores: string[] = []
  private readonly file: string

  constructor (storage: string) {
    this.file = join(storage, 'cached-cores.json')
  }

  async load (): Promise<void> {
    let doc: any
    try {
      doc = JSON.parse(await readFile(this.file, 'utf8'))
    } catch (err) {
      if (systemCode(err) === 'ENOENT' || err instanceof SyntaxError) return
      throw HyperfsError.from('STORAGE_IO', `read ${this.file}: ${(err as Error).message}`, err)
    }
    if (doc?.version !== LIST_VERSION || !Array.isArray(doc.cores)) return
    this.cores = doc.cores.filter((k: unknown) => typeof k === 'string' && /^[0-9a-f]{64}$/.test(k)).slice(-MAX_CACHED_CORES)
  }

  list (): string[] {
    return [...this.cores]
  }

  async add (key: string): Promise<void> {
    if (this.cores.includes(key)) return
    this.cores.push(key)
    if (this.cores.length > MAX_CACHED_CORES) this.cores.shift()
    await this.save()
  }

  async remove (key: string): Promise<void> {
    const before = this.cores.length
    this.cores = this.cores.filter((k) => k !== key)
    if (this.cores.length !== before) await this.save()
  }

  private async save (): Promise<void> {
    const tmp = this.file + '.tmp'
    try {
      await writeFile(tmp, JSON.stringify({ version: LIST_VERSION, cores: this.cores }) + '\n', { mode: PRIVATE_FILE_MODE })
      await rename(tmp, this.file)
    } catch (err) {
      throw HyperfsError.from('STORAGE_IO', `write ${this.file}: ${(err as Error).message}`, err)
    }
  }
}
