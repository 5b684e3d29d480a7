// The pins of a storage folder: drive paths whose content a reader's cache
// never evicts, kept in <storage>/pins.json across restarts:
//   { "version": 1, "pins": [{ "key": hex, "path": "/a", "contentKey": hex | null, "by": "pin" | "download" }] }
// contentKey is the drive's content core, once known: at start, a cache keeps
// all of that core until the pins are resolved into blocks again.
// Written whole to a temporary file and renamed over, so a kill leaves the
// old list or the new one.
import { readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { PRIVATE_FILE_MODE } from '../core/storage.js'
import { HyperfsError, systemCode } from '../errors.js'

const PINS_VERSION = 1
const MAX_PINS = 100_000 // entries read from the file; past it the file is refused as damaged

export interface Pin {
  key: string // drive key, hex
  path: string
  contentKey: string | null
  by: 'pin' | 'download'
}

export class PinList {
  private pins: Pin[] = []
  private readonly file: string

  constructor (storage: string) {
    this.file = join(storage, 'pins.json')
  }

  async load (): Promise<void> {
    let text: string
    try {
      text = await readFile(this.file, 'utf8')
    } catch (err) {
      if (systemCode(err) === 'ENOENT') return
      throw HyperfsError.from('STORAGE_IO', `read ${this.file}: ${(err as Error).message}`, err)
    }
    let doc: any
    try {
      doc = JSON.parse(text)
    } catch (err) {
      throw HyperfsError.STORAGE_CORRUPT(`${this.file}: ${(err as Error).message}`)
    }
    if (doc?.version !== PINS_VERSION || !Array.isArray(doc.pins) || doc.pins.length > MAX_PINS) {
      throw HyperfsError.STORAGE_CORRUPT(`${this.file}: not a version ${PINS_VERSION} pin list`)
    }
    this.pins = doc.pins.filter((p: any) => typeof p?.key === 'string' && /^[0-9a-f]{64}$/.test(p.key) && typeof p.path === 'string')
      .map((p: any): Pin => ({
        key: p.key,
        path: p.path,
        contentKey: typeof p.contentKey === 'string' && /^[0-9a-f]{64}$/.test(p.contentKey) ? p.contentKey : null,
        by: p.by === 'download' ? 'download' : 'pin'
      }))
  }

  list (key?: string): Pin[] {
    return this.pins.filter((p) => key === undefined || p.key === key).map((p) => ({ ...p }))
  }

  keys (): string[] {
    return [...new Set(this.pins.map((p) => p.key))]
  }

  // Adds a pin, or updates the one on the same path (a pin by hand stays one).
  async add (pin: Pin): Promise<void> {
    const old = this.pins.find((p) => p.key === pin.key && p.path === pin.path)
    if (old) {
      if (old.contentKey === pin.contentKey && (old.by === pin.by || old.by === 'pin')) return
      old.contentKey = pin.contentKey ?? old.contentKey
      if (pin.by === 'pin') old.by = 'pin'
    } else {
      this.pins.push({ ...pin })
    }
    await this.save()
  }

  // Removes the drive's pin on `path`, or all of the drive's pins; returns them.
  async remove (key: string, path?: string): Promise<Pin[]> {
    const gone = this.pins.filter((p) => p.key === key && (path === undefined || p.path === path))
    if (gone.length === 0) return []
    this.pins = this.pins.filter((p) => !gone.includes(p))
    await this.save()
    return gone
  }

  async setContentKey (key: string, contentKey: string): Promise<void> {
    let changed = false
    for (const p of this.pins) if (p.key === key && p.contentKey !== contentKey) { p.contentKey = contentKey; changed = true }
    if (changed) await this.save()
  }

  private async save (): Promise<void> {
    const tmp = this.file + '.tmp'
    try {
      await writeFile(tmp, JSON.stringify({ version: PINS_VERSION, pins: this.pins }, null, 1) + '\n', { mode: PRIVATE_FILE_MODE })
      await rename(tmp, this.file)
    } catch (err) {
      throw HyperfsError.from('STORAGE_IO', `write ${this.file}: ${(err as Error).message}`, err)
    }
  }
}
