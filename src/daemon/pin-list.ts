// The pins of a storage folder: drive paths whose content a reader's cache
// never evicts, kept in <storage>/pins.json across restarts:
//   { "version": 1, "pins": [{ "key": hex, "path": "/a", "contentKey": hex | null,
//     "mounted": [hex], "by": "pin" | "download" }] }
// contentKey is the drive's content core, once known, and mounted the content
// cores of the drives mounted under its pins that it kept when last resolved
// (absent in lists written before there was such a field): at start, a cache
// keeps all of those cores until the pins are resolved into blocks again.
// Written whole to a temporary file and renamed over, so a kill leaves the
// old list or the new one.
import { readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { PRIVATE_FILE_MODE } from '../core/storage.js'
import { HyperfsError, systemCode } from '../errors.js'

const PINS_VERSION = 1
const MAX_PINS = 100_000 // entries read from the file; past it the file is refused as damaged
const MAX_MOUNTED = 1024 // content keys read for one pin's mounted drives; past it they are dropped
const HEX_KEY = /^[0-9a-f]{64}$/

export interface Pin {
  key: string // drive key, hex
  path: string
  contentKey: string | null
  mounted: string[] // content keys of drives mounted under the drive's pins
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
    this.pins = doc.pins.filter((p: any) => typeof p?.key === 'string' && HEX_KEY.test(p.key) && typeof p.path === 'string')
      .map((p: any): Pin => ({
        key: p.key,
        path: p.path,
        contentKey: typeof p.contentKey === 'string' && HEX_KEY.test(p.contentKey) ? p.contentKey : null,
        mounted: Array.isArray(p.mounted) && p.mounted.length <= MAX_MOUNTED ? p.mounted.filter((k: unknown) => typeof k === 'string' && HEX_KEY.test(k)) : [],
        by: p.by === 'download' ? 'download' : 'pin'
      }))
  }

  list (key?: string): Pin[] {
    return this.pins.filter((p) => key === undefined || p.key === key).map((p) => ({ ...p, mounted: [...p.mounted] }))
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
      this.pins.push({ ...pin, mounted: [...pin.mounted] })
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

  // The drive's content key, and those of the drives mounted under its pins.
  async setContentKeys (key: string, contentKey: string | null, mounted: string[]): Promise<void> {
    mounted = [...new Set(mounted)].sort().slice(0, MAX_MOUNTED)
    let changed = false
    for (const p of this.pins) {
      if (p.key !== key) continue
      if (contentKey !== null && p.contentKey !== contentKey) { p.contentKey = contentKey; changed = true }
      if (p.mounted.join() !== mounted.join()) { p.mounted = mounted; changed = true }
    }
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
