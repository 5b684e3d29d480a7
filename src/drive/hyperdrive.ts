// Hyperdrive: the Hypertrie drive format (the default), a filesystem on two
// cores. The metadata core holds a Hypertrie whose header (block 0) names the
// content core and its block size (codec/drive-header.ts); each path is a trie
// key whose value is a Stat (codec/drive-stat.ts). The content core holds file
// bytes: a file written whole is one run of blockSize blocks named by its
// Stat; a file changed in part (patchFile, truncate) is a list of extents
// (extent-map.ts) that reuse the blocks the change kept, so a change stores
// only the bytes written. The drive key is the metadata key.
//
// TrieFormat is the format (drive-format.ts): entries, content and mount
// records. Routing through mounts and symlinks is RoutedDrive's
// (routed-drive.ts); Hyperdrive is a RoutedDrive over a TrieFormat.
//
// Mounts: a mount point is a visible entry (a folder, or a read-only file for
// a raw core) plus a hidden trie key at the same path holding the mount record
// (codec/drive-mount.ts), found by one closest-match lookup in the hidden
// keyspace.
//
// Names and mount records come from the writer, who may be hostile: an entry
// whose name is not one drive-path.ts allows is skipped, with a warning
// (onwarning), wherever entries are listed.
//
// Nothing assumes blocks are local: metadata operations read only trie nodes,
// and reads map byte offsets to content blocks with arithmetic, extent by
// extent (no seek), and fetch only the blocks they return.
import type { Hypercore } from '../core/hypercore.js'
import { encode, decode } from '../codec/state.js'
import { driveHeader, type DriveHeader } from '../codec/drive-header.js'
import { driveStat } from '../codec/drive-stat.js'
import { driveMount } from '../codec/drive-mount.js'
import { HyperfsError, isHyperfsError, handled } from '../errors.js'
import { Hypertrie } from '../trie/hypertrie.js'
import { Mutex } from '../core/mutex.js'
import { pathString, keyProblem } from './drive-path.js'
import { statEntry, RootStat, isDir, isFile, mountStat } from './stat-entry.js'
import { ContentWriter, type ContentRange } from './content-writer.js'
import { fetchRanges, type BlockRange } from './range-fetch.js'
import { fileExtents, extentStarts, findExtent, patchExtents, planMerges, joinExtents, checkPatch, type PlacedExtent } from './extent-map.js'
import { RoutedDrive, type MountOptions } from './routed-drive.js'
import { FormatBase, type FormatState } from './format-base.js'
import type { DriveFormat, FetchFilesOptions } from './drive-format.js'
import {
  type Drive, type DriveInfo, type FileReader, type Stat, type DirEntry, type ReadOptions, type WriteOptions,
  type DiffEntry, type HistoryEntry, type MountInfo, type Extent, type FilePatch, S_IFREG, S_IFDIR, S_IFLNK
} from './types.js'

export const DEFAULT_BLOCK_SIZE = 64 * 1024
const FETCH_AHEAD = 8
const LOCAL_CHUNK = 1024 * 1024
// extents an entry keeps before small neighbours are rewritten as one run
// (down to half as many), and before any neighbours are (see compact())
const SOFT_EXTENTS = 32
const MAX_EXTENTS = 1024

export interface DriveCores {
  metadata: Hypercore
  // Opens the content core: a new writable core when key is null (a new
  // drive), otherwise the core with that key (the one the header names).
  content: (key: Buffer | null) => Hypercore | Promise<Hypercore>
}

export interface HyperdriveOptions extends MountOptions {
  onwarning?: (msg: string) => void // entries skipped as invalid (for the daemon's log)
  blockSize?: number // for a new drive
}

// What a drive and all its checkouts share.
interface DriveState extends FormatState {
  cores: DriveCores
  opts: HyperdriveOptions
  trie: Hypertrie
  content: Hypercore | null
  header: DriveHeader | null
  contentLock: Mutex // one file's blocks at a time
}

// A Hypertrie drive with mounts: what DriveStore opens for this format, and
// what a caller that holds the two cores itself builds.
export class Hyperdrive extends RoutedDrive {
  constructor (cores: DriveCores, opts: HyperdriveOptions = {}) {
    super(new TrieFormat(cores, opts), opts)
  }
}

export class TrieFormat extends FormatBase implements DriveFormat {
  readonly format = 'hypertrie' as const
  protected s: DriveState
  private trie: Hypertrie
  protected readonly checkedOut: boolean
  private readonly root = new RootStat()

  constructor (cores: DriveCores, opts: HyperdriveOptions = {}, shared?: { state: DriveState, version: number }) {
    super()
    if (shared) {
      this.s = shared.state
      this.trie = shared.state.trie.checkout(shared.version)
      this.checkedOut = true
      return
    }
    const trie = new Hypertrie(cores.metadata, { timeout: opts.timeout })
    this.s = {
      cores, opts, trie, content: null, header: null, loading: null, opening: null,
      meta: new Mutex(), contentLock: new Mutex(), warnings: 0, closed: false
    }
    this.trie = trie
    this.checkedOut = false
  }

  get version (): number { return this.trie.version }
  get metadata (): Hypercore { return this.s.cores.metadata }
  get content (): Hypercore | null { return this.s.content }
  get historyIsLocal (): boolean { return this.metadata.contiguousLength === this.metadata.length }

  protected async open (): Promise<void> {
    const md = this.s.cores.metadata
    await md.ready()
    if (md.length === 0 && md.writable) {
      const content = await this.s.cores.content(null)
      await content.ready()
      const header = { contentKey: content.key!, blockSize: this.s.opts.blockSize ?? DEFAULT_BLOCK_SIZE }
      const trie = new Hypertrie(md, { metadata: encode(driveHeader, header), timeout: this.s.opts.timeout })
      await trie.ready()
      this.s.trie = trie
      this.trie = trie
      this.s.content = content
      this.s.header = header
      return
    }
    await this.s.trie.ready()
    // a writer has its header locally; a replica loads it when first needed
    if (md.length > 0 && md.has(0)) await this.loadContent()
  }

  private loadContent (): Promise<void> {
    return this.loadOnce(async () => {
      const th = await this.s.trie.getHeader()
      let header: DriveHeader
      try {
        header = decode(driveHeader, th.metadata ?? Buffer.alloc(0))
      } catch (err) {
        throw HyperfsError.DECODE_ERROR('drive header: ' + (err as Error).message)
      }
      const content = await this.s.cores.content(header.contentKey)
      await content.ready()
      this.s.header = header
      this.s.content = content
    })
  }

  private async contentCore (): Promise<{ core: Hypercore, blockSize: number }> {
    if (!this.s.content) await this.loadContent()
    return { core: this.s.content!, blockSize: this.s.header!.blockSize }
  }

  async info (): Promise<DriveInfo> {
    await this.ready()
    const md = this.s.cores.metadata
    let content: Hypercore | null = this.s.content
    if (!content && md.length > 0) content = (await this.contentCore()).core
    // each held block at its own size (not at the block size; gc and a cache free blocks of a writer too)
    const localBytes = content ? await content.heldBytes() : 0
    return {
      key: this.key,
      discoveryKey: this.discoveryKey,
      version: this.version,
      writable: this.writable,
      contentKey: content?.key ?? null,
      byteLength: content?.byteLength ?? 0,
      localBytes,
      peers: Math.max(md.peers, content?.peers ?? 0)
    }
  }

  checkout (version: number): TrieFormat {
    if (!Number.isSafeInteger(version) || version < 0) throw HyperfsError.EINVAL(`bad version ${version}`)
    if (version > this.s.cores.metadata.length) throw HyperfsError.EINVAL(`version ${version} is past the latest (${this.s.cores.metadata.length})`)
    return new TrieFormat(this.s.cores, this.s.opts, { state: this.s, version })
  }

  // ---- mount records ----

  async mountAt (comps: string[]): Promise<{ depth: number, mount: MountInfo } | null> {
    const m = await this.trie.closest(comps.join('/'), { hidden: true })
    if (!m) return null
    return { depth: m.key === '' ? 0 : m.key.split('/').length, mount: decodeMount(m.value!) }
  }

  async putMount (comps: string[], mount: MountInfo): Promise<void> {
    await this.s.meta.run(async () => {
      if (await this.entry(comps)) throw HyperfsError.EEXIST(pathString(comps))
      const k = comps.join('/')
      await this.trie.batch([
        ...await this.parentOps(comps),
        { type: 'put', key: k, value: encodeStat(mountStat(mount)) },
        { type: 'put', key: k, value: encode(driveMount, mount), hidden: true }
      ])
    })
  }

  async delMount (comps: string[]): Promise<void> {
    await this.s.meta.run(async () => {
      const st = await this.entry(comps)
      if (!st) throw HyperfsError.ENOENT(pathString(comps))
      if (!st.mount) throw HyperfsError.EINVAL(`${pathString(comps)} is not a mount point`)
      const k = comps.join('/')
      await this.trie.batch([{ type: 'del', key: k }, { type: 'del', key: k, hidden: true }])
    })
  }

  // With local, from local blocks only and without warnings (mount()'s cycle
  // check looks through drives it holds; a bad record there ends that look).
  async * mounts (opts: { local?: boolean } = {}): AsyncIterable<{ path: string, mount: MountInfo }> {
    await this.ready()
    if (opts.local) {
      for await (const e of this.trie.list('', { recursive: true, hidden: true, wait: false })) {
        if (!keyProblem(e.key)) yield { path: '/' + e.key, mount: decodeMount(e.value!) }
      }
      return
    }
    for await (const e of this.trie.list('', { recursive: true, hidden: true })) {
      const problem = keyProblem(e.key)
      if (problem) { this.warn(`skipped a mount with ${problem}: ${JSON.stringify(e.key.slice(0, 300))}`); continue }
      let mount: MountInfo
      try {
        mount = decodeMount(e.value!)
      } catch (err) {
        if (!isHyperfsError(err, 'DECODE_ERROR')) throw err
        this.warn(`skipped the mount at /${e.key}: ${err.message}`)
        continue
      }
      yield { path: '/' + e.key, mount }
    }
  }

  // ---- reading ----

  async entry (comps: string[]): Promise<Stat | null> {
    await this.ready()
    if (comps.length === 0) return this.root.at(this.version, (o) => this.history(o))
    const e = await this.trie.closest(comps.join('/'))
    const depth = e ? e.key.split('/').length : 0
    if (e && depth === comps.length) return decodeStat(e.value!)
    if (e && !isDir(decodeStat(e.value!))) throw HyperfsError.ENOTDIR(pathString(comps.slice(0, depth)))
    return null
  }

  async * list (comps: string[]): AsyncIterable<DirEntry> {
    for await (const e of this.trie.list(comps.join('/'))) {
      const stat = this.entryStat(e)
      if (stat) yield { name: e.key.slice(e.key.lastIndexOf('/') + 1), stat }
    }
  }

  async * walk (comps: string[]): AsyncIterable<{ comps: string[], stat: Stat }> {
    for await (const e of this.trie.list(comps.join('/'), { recursive: true })) {
      const stat = this.entryStat(e)
      if (stat) yield { comps: e.key.split('/'), stat }
    }
  }

  // The Stat of an entry listed from the trie, or null when the entry is not
  // one a drive can hold (its writer is hostile or broken): it is skipped, and
  // said in the log, rather than failing the whole listing.
  private entryStat (e: { key: string, value: Buffer | null }): Stat | null {
    const problem = keyProblem(e.key)
    if (problem) { this.warn(`skipped an entry with ${problem}: ${JSON.stringify(e.key.slice(0, 300))}`); return null }
    let st: Stat
    try {
      st = decodeStat(e.value!)
    } catch (err) {
      if (!isHyperfsError(err, 'DECODE_ERROR')) throw err
      this.warn(`skipped /${e.key}: ${err.message}`)
      return null
    }
    if (st.linkname !== null && st.linkname.includes('\0')) { this.warn(`skipped /${e.key}: a symlink target with a NUL byte`); return null }
    return st
  }

  // The file's bytes [start, end), extent by extent: a hole as zeros, a run
  // of blocks as extentBytes says.
  async * chunks (st: Stat, start: number, end: number, opts: ReadOptions): AsyncIterable<Buffer> {
    const { core, blockSize } = await this.contentCore()
    yield * this.extentBytes(core, blockSize, fileExtents(st), start, end, opts)
  }

  // While the blocks are local, each extent is read a chunk of whole blocks
  // at a time; from the first block that is not, the rest comes block by
  // block from peers, a few blocks ahead across extents (a file of many
  // extents streams without a round trip per extent), and nothing outside the
  // range. Block indexes come from arithmetic (every block of a run but the
  // last is blockSize), so no seek is needed.
  private async * extentBytes (core: Hypercore, blockSize: number, list: Extent[], start: number, end: number, opts: ReadOptions): AsyncIterable<Buffer> {
    const pieces = rangePieces(list, start, end, blockSize)
    let k = 0
    for (; k < pieces.length; k++) {
      const p = pieces[k]
      if (p.e.blocks === 0) { yield * zeros(p.b - p.a); continue }
      const base = await runBase(core, p.e.offset)
      if (base === null) break
      for (const chunk of localChunks(core, p.e.offset, base, blockSize, p.a, p.b)) {
        p.a += chunk.byteLength
        yield chunk
      }
      if (p.a < p.b) break
    }
    if (k >= pieces.length) return
    const rest = pieces.slice(k)
    const order = (function * () {
      for (const p of rest) if (p.e.blocks > 0) for (let i = Math.floor(p.a / blockSize); i <= Math.floor((p.b - 1) / blockSize); i++) yield p.e.offset + i
    })()
    const getOpts = { timeout: opts.timeout ?? this.s.opts.timeout, signal: opts.signal }
    const ahead: Array<Promise<Buffer | null>> = []
    for (const p of rest) {
      if (p.e.blocks === 0) { yield * zeros(p.b - p.a); continue }
      const first = Math.floor(p.a / blockSize)
      for (let i = first; i <= Math.floor((p.b - 1) / blockSize); i++) {
        for (let n = ahead.length; n < FETCH_AHEAD; n++) {
          const next = order.next()
          if (next.done) break
          ahead.push(handled(core.get(next.value, getOpts)))
        }
        const block = (await ahead.shift())!
        const lo = i === first ? p.a - i * blockSize : 0
        const hi = Math.min(blockSize, p.b - i * blockSize)
        if (block.byteLength < hi) throw HyperfsError.STORAGE_CORRUPT(`content block ${p.e.offset + i} is ${block.byteLength} bytes, expected at least ${hi}`)
        yield block.subarray(lo, hi)
      }
    }
  }

  // A reader that copies local file bytes straight into the caller's buffer
  // (the kernel's, through a mount); the core hashes each block there the
  // first time it is read, so the copy stays the only one. Null from readInto:
  // a block is not local, or a replica dropped a damaged one.
  async openReader (stat: Stat): Promise<FileReader | null> {
    const st = stat
    const { core, blockSize } = await this.contentCore()
    const list = fileExtents(st)
    const starts = extentStarts(list)
    // where each run starts in the core, from local tree nodes; null: not known here
    const bases = await Promise.all(list.map((e) => e.blocks > 0 ? runBase(core, e.offset) : Promise.resolve(0)))
    if (list.length > 0 && list.every((e, i) => e.blocks > 0 && bases[i] === null)) return null
    return {
      size: st.size,
      readInto (target, position, length) {
        const end = Math.min(st.size, position + length, target.byteLength + position)
        if (position >= end) return 0
        let pos = position
        for (let i = findExtent(starts, pos); pos < end && i < list.length; i++) {
          const e = list[i]
          const from = pos - starts[i]
          const to = Math.min(e.length, end - starts[i])
          if (e.blocks === 0) {
            target.fill(0, pos - position, pos - position + to - from)
          } else {
            const base = bases[i]
            if (base === null) return null
            const a = e.skip + from
            const b = e.skip + to
            if (Math.ceil(b / blockSize) > e.blocks) return null
            const n = core.readBytesInto(base + a, target, pos - position, b - a, e.offset + Math.floor(a / blockSize), e.offset + Math.floor((b - 1) / blockSize) + 1)
            if (n !== b - a) return null
          }
          pos += to - from
        }
        return pos - position
      }
    }
  }

  // Each file is one or more runs of content blocks, fetched together.
  async fetchFiles (files: Stat[], opts: FetchFilesOptions): Promise<void> {
    const runs: BlockRange[] = []
    let held = 0
    let core: Hypercore | null = null
    let blockSize = 0
    for (const f of files) {
      const list = fileExtents(f).filter((e) => e.blocks > 0)
      if (list.length === 0) continue
      if (!core) ({ core, blockSize } = await this.contentCore())
      let n = 0
      let total = 0
      for (const e of list) {
        runs.push([e.offset, e.offset + e.blocks])
        total += e.blocks
        for (let i = 0; i < e.blocks; i++) if (core.has(e.offset + i)) n++
      }
      held += n === total ? f.size : Math.min(f.size, n * blockSize)
    }
    if (!core) return
    opts.onbytes(held)
    await fetchRanges(core, runs, {
      signal: opts.signal,
      timeout: opts.timeout,
      onblock: opts.onbytes
    })
  }

  // ---- writing ----

  // Puts for the missing folders above `comps` (mkdir -p); ENOTDIR when one is not a folder.
  private async parentOps (comps: string[]): Promise<Array<{ type: 'put', key: string, value: Buffer }>> {
    const ops: Array<{ type: 'put', key: string, value: Buffer }> = []
    for (let i = comps.length - 1; i >= 1; i--) {
      const st = await this.entry(comps.slice(0, i))
      if (st) {
        if (!isDir(st)) throw HyperfsError.ENOTDIR(pathString(comps.slice(0, i)))
        break
      }
      ops.unshift({ type: 'put', key: comps.slice(0, i).join('/'), value: encodeStat(statEntry({ mode: S_IFDIR | 0o755 })) })
    }
    return ops
  }

  async writeFile (comps: string[], data: Buffer | AsyncIterable<Uint8Array>, opts: WriteOptions): Promise<void> {
    this.assertWritable()
    await this.checkFileTarget(comps)
    const { core, blockSize } = await this.contentCore()
    const range = await this.appendContent(core, blockSize, data)
    await this.s.meta.run(async () => {
      const prev = await this.checkFileTarget(comps)
      const st = statEntry({
        mode: S_IFREG | ((opts.mode ?? (prev ? prev.mode : 0o644)) & 0o7777),
        uid: opts.uid ?? prev?.uid ?? 0,
        gid: opts.gid ?? prev?.gid ?? 0,
        mtime: opts.mtime ?? Date.now(),
        metadata: opts.metadata ?? {},
        ...range
      })
      await this.trie.batch([...await this.parentOps(comps), { type: 'put', key: comps.join('/'), value: encodeStat(st) }])
    })
  }

  // Appends bytes to the content core as one run of blocks (ContentWriter).
  private async appendContent (core: Hypercore, blockSize: number, data: Buffer | AsyncIterable<Uint8Array>): Promise<ContentRange> {
    const writer = await ContentWriter.open(core, blockSize, this.s.contentLock)
    try {
      if (Buffer.isBuffer(data) || data instanceof Uint8Array) await writer.write(data)
      else for await (const chunk of data) await writer.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk)
      return await writer.finish()
    } catch (err) {
      writer.abort()
      throw err
    }
  }

  // Changes part of a file (FilePatch, types.ts) as one new version: only the
  // written bytes go to the content core; the new entry's extents point at
  // them, and the bytes kept point at the blocks they already are in.
  // The rewrite of neighbours (compact) reads and appends content, MiBs past
  // MAX_EXTENTS: it is done before the metadata lock, from the entry as it
  // was then, so that other changes of the drive do not wait for it; under
  // the lock, an entry changed meanwhile is patched and compacted again.
  async patchFile (comps: string[], patch: FilePatch, opts: WriteOptions): Promise<void> {
    this.assertWritable()
    checkPatch(patch)
    const seen = await this.fileToChange(comps)
    const { core, blockSize } = await this.contentCore()
    const written: PlacedExtent[] = []
    for (const w of patch.writes) {
      if (w.length === 0) continue
      const r = await this.appendContent(core, blockSize, w.data)
      if (r.size !== w.length) throw HyperfsError.EINVAL(`a write of ${w.length} bytes at ${w.offset} brought ${r.size}`)
      written.push({ at: w.offset, extent: { offset: r.offset, blocks: r.blocks, skip: 0, length: r.size } })
    }
    const patched = (st: Stat): Promise<Extent[]> => this.compact(core, blockSize, patchExtents(fileExtents(st), st.size, patch.keep, patch.size, written, blockSize))
    // (a rewrite that fails here, say on blocks a gc freed once the file
    // changed, is done again under the lock, from the file as it is then)
    const early = { entry: encodeStat(seen), list: await patched(seen).catch(() => null) }
    await this.s.meta.run(async () => {
      const prev = await this.fileToChange(comps)
      const list = early.list !== null && encodeStat(prev).equals(early.entry) ? early.list : await patched(prev)
      const { extents: _, ...rest } = prev
      const now = Date.now()
      const st: Stat = {
        ...rest,
        mode: S_IFREG | ((opts.mode ?? prev.mode) & 0o7777),
        uid: opts.uid ?? prev.uid,
        gid: opts.gid ?? prev.gid,
        mtime: opts.mtime ?? now,
        ctime: now,
        metadata: opts.metadata ?? prev.metadata,
        ...await layout(core, blockSize, list)
      }
      await this.trie.put(comps.join('/'), encodeStat(st))
    })
  }

  // The regular file at comps, which a patch or truncate changes.
  private async fileToChange (comps: string[]): Promise<Stat> {
    const st = await this.entry(comps)
    if (!st) throw HyperfsError.ENOENT(pathString(comps))
    if (isDir(st)) throw HyperfsError.EISDIR(pathString(comps))
    if (st.mount) throw HyperfsError.EROFS(`${pathString(comps)} is a mount point`)
    if (!isFile(st)) throw HyperfsError.EINVAL(`${pathString(comps)} is not a regular file`)
    return st
  }

  // Keeps an entry's extent list short, since every change stores the whole
  // list again: past SOFT_EXTENTS, neighbours of a block or less in all are
  // rewritten as one run (appends of a few bytes each cost a rewrite of a few
  // bytes now and then); past MAX_EXTENTS, the cheapest neighbours whatever
  // their size (many small writes spread over a big file).
  private async compact (core: Hypercore, blockSize: number, list: Extent[]): Promise<Extent[]> {
    let groups: Array<[number, number]> = []
    if (list.length > MAX_EXTENTS) groups = planMerges(list, Math.floor(MAX_EXTENTS * 3 / 4), Infinity)
    else if (list.length > SOFT_EXTENTS) groups = planMerges(list, Math.floor(SOFT_EXTENTS / 2), blockSize)
    if (groups.length === 0) return list
    const out: Extent[] = []
    let at = 0
    for (const [start, end] of groups) {
      out.push(...list.slice(at, start))
      const part = list.slice(start, end)
      const bytes = part.reduce((n, e) => n + e.length, 0)
      const r = await this.appendContent(core, blockSize, this.extentBytes(core, blockSize, part, 0, bytes, {}))
      if (r.size !== bytes) throw HyperfsError.STORAGE_CORRUPT(`rewrote ${r.size} bytes of ${bytes}`)
      out.push({ offset: r.offset, blocks: r.blocks, skip: 0, length: r.size })
      at = end
    }
    out.push(...list.slice(at))
    return joinExtents(out, blockSize)
  }

  // A file may be (re)written at comps: not over a folder or mount point.
  private async checkFileTarget (comps: string[]): Promise<Stat | null> {
    const prev = await this.entry(comps)
    if (prev && isDir(prev)) throw HyperfsError.EISDIR(pathString(comps))
    if (prev?.mount) throw HyperfsError.EROFS(`${pathString(comps)} is a mount point`)
    if (!prev) await this.parentOps(comps)
    return prev
  }

  async update (comps: string[], fn: (st: Stat) => Stat): Promise<void> {
    this.assertWritable()
    await this.s.meta.run(async () => {
      const st = await this.entry(comps)
      if (!st) throw HyperfsError.ENOENT(pathString(comps))
      await this.trie.put(comps.join('/'), encodeStat({ ...fn(st), ctime: Date.now() }))
    })
  }

  // Stores no content: a shorter file keeps part of its extents, a longer one
  // ends in a hole.
  async truncate (comps: string[], size: number): Promise<void> {
    this.assertWritable()
    await this.patchFile(comps, { keep: size, size, writes: [] }, { mtime: Date.now() })
  }

  async mkdir (comps: string[], mode: number): Promise<void> {
    this.assertWritable()
    await this.s.meta.run(async () => {
      if (await this.entry(comps)) throw HyperfsError.EEXIST(pathString(comps))
      const st = statEntry({ mode: S_IFDIR | mode })
      await this.trie.batch([...await this.parentOps(comps), { type: 'put', key: comps.join('/'), value: encodeStat(st) }])
    })
  }

  async rmdir (comps: string[]): Promise<void> {
    this.assertWritable()
    const path = pathString(comps)
    await this.s.meta.run(async () => {
      const st = await this.entry(comps)
      if (!st) throw HyperfsError.ENOENT(path)
      if (!isDir(st)) throw HyperfsError.ENOTDIR(path)
      if (st.mount) throw HyperfsError.EBUSY(`${path} is a mount point; unmount it`)
      for await (const _ of this.trie.list(comps.join('/'))) throw HyperfsError.ENOTEMPTY(path)
      await this.trie.del(comps.join('/'))
    })
  }

  async unlink (comps: string[]): Promise<void> {
    this.assertWritable()
    const path = pathString(comps)
    await this.s.meta.run(async () => {
      const st = await this.entry(comps)
      if (!st) throw HyperfsError.ENOENT(path)
      if (isDir(st)) throw HyperfsError.EISDIR(path)
      if (st.mount) throw HyperfsError.EBUSY(`${path} is a mount point; unmount it`)
      await this.trie.del(comps.join('/'))
    })
  }

  // One trie batch: the entry (and everything under a folder), mount records
  // included, deleted at the old keys and put at the new ones.
  async rename (src: string[], dst: string[]): Promise<void> {
    this.assertWritable()
    const srcKey = src.join('/')
    const dstKey = dst.join('/')
    await this.s.meta.run(async () => {
      const st = await this.entry(src)
      if (!st) throw HyperfsError.ENOENT(pathString(src))
      if (srcKey === dstKey) return
      if (dstKey.startsWith(srcKey + '/')) throw HyperfsError.EINVAL(`cannot move ${pathString(src)} into itself`)
      const to = pathString(dst)
      const existing = await this.entry(dst)
      if (existing) {
        if (existing.mount) throw HyperfsError.EBUSY(`${to} is a mount point`)
        if (isDir(st) && !isDir(existing)) throw HyperfsError.ENOTDIR(to)
        if (!isDir(st) && isDir(existing)) throw HyperfsError.EISDIR(to)
        if (isDir(existing)) for await (const _ of this.trie.list(dstKey)) throw HyperfsError.ENOTEMPTY(to)
      }
      const ops: Array<{ type: 'put' | 'del', key: string, value?: Buffer, hidden?: boolean }> = [...await this.parentOps(dst)]
      const move = (key: string, value: Buffer, hidden: boolean) => {
        ops.push({ type: 'del', key, hidden })
        ops.push({ type: 'put', key: dstKey + key.slice(srcKey.length), value, hidden })
      }
      move(srcKey, encodeStat({ ...st, ctime: Date.now() }), false)
      if (isDir(st)) {
        for await (const e of this.trie.list(srcKey, { recursive: true })) move(e.key, e.value!, false)
      }
      const hidden = await this.trie.get(srcKey, { hidden: true })
      if (hidden) move(srcKey, hidden.value!, true)
      if (isDir(st)) {
        for await (const e of this.trie.list(srcKey, { recursive: true, hidden: true })) move(e.key, e.value!, true)
      }
      await this.trie.batch(ops)
    })
  }

  async symlink (target: string, comps: string[]): Promise<void> {
    this.assertWritable()
    await this.s.meta.run(async () => {
      if (await this.entry(comps)) throw HyperfsError.EEXIST(pathString(comps))
      const st = statEntry({ mode: S_IFLNK | 0o777, linkname: target, size: Buffer.byteLength(target) })
      await this.trie.batch([...await this.parentOps(comps), { type: 'put', key: comps.join('/'), value: encodeStat(st) }])
    })
  }

  // ---- versions ----

  async * history (opts: { gte?: number, lt?: number } = {}): AsyncIterable<HistoryEntry> {
    await this.ready()
    // the node in block s is what version s + 1 added
    const gte = opts.gte === undefined ? undefined : opts.gte - 1
    const lt = opts.lt === undefined ? undefined : opts.lt - 1
    for await (const e of this.trie.history({ gte, lt })) {
      if (e.hidden) continue
      if (!e.value) {
        if (!keyProblem(e.key)) yield { version: e.seq + 1, type: 'del', name: '/' + e.key, value: null }
        continue
      }
      const value = this.entryStat(e)
      if (value) yield { version: e.seq + 1, type: 'put', name: '/' + e.key, value }
    }
  }

  async * diff (from: number, to: number | undefined, prefix: string[]): AsyncIterable<DiffEntry> {
    await this.ready()
    const trie = to === undefined || to === this.version ? this.trie : this.trie.checkout(to)
    for await (const e of trie.diff(from, { prefix: prefix.join('/') })) {
      const previous = e.previous ? this.entryStat({ key: e.key, value: e.previous }) : null
      if (e.type === 'put') {
        const value = this.entryStat(e)
        if (value) yield { type: 'put', name: '/' + e.key, value, previous }
      } else if (previous) {
        yield { type: 'del', name: '/' + e.key, previous }
      }
    }
  }

  protected async changedUnder (from: number, to: number, comps: string[]): Promise<boolean> {
    for await (const _ of this.s.trie.checkout(to).diff(from, { prefix: comps.join('/') })) return true
    return false
  }
}

// The size and block fields of an entry whose content is `list`: the one run
// of an entry written before extents when it is one (every reader reads
// those), else the extents.
async function layout (core: Hypercore, blockSize: number, list: Extent[]): Promise<Pick<Stat, 'size' | 'blocks' | 'offset' | 'byteOffset' | 'extents'>> {
  let size = 0
  let blocks = 0
  for (const e of list) { size += e.length; blocks += e.blocks }
  if (list.length === 0) return { size: 0, blocks: 0, offset: 0, byteOffset: 0 }
  const e = list[0]
  if (list.length === 1 && e.blocks > 0 && e.skip === 0) {
    const byteOffset = await runBase(core, e.offset)
    if (byteOffset !== null) return { size, blocks: e.blocks, offset: e.offset, byteOffset }
  }
  return { size, blocks, offset: 0, byteOffset: 0, extents: list }
}

// The parts of the extents that bytes [start, end) of a file are in: each
// extent's bytes [a, b) counted from the start of its first block.
function rangePieces (list: Extent[], start: number, end: number, blockSize: number): Array<{ e: Extent, a: number, b: number }> {
  const pieces: Array<{ e: Extent, a: number, b: number }> = []
  let pos = 0
  for (const e of list) {
    const s = pos
    pos += e.length
    if (pos <= start) continue
    if (s >= end) break
    const a = e.skip + Math.max(start, s) - s
    const b = e.skip + Math.min(end, pos) - s
    if (e.blocks > 0 && Math.ceil(b / blockSize) > e.blocks) throw HyperfsError.DECODE_ERROR(`an extent at block ${e.offset} names bytes past its ${e.blocks} blocks`)
    pieces.push({ e, a, b })
  }
  return pieces
}

function * zeros (n: number): Generator<Buffer> {
  for (let at = 0; at < n; at += LOCAL_CHUNK) yield Buffer.alloc(Math.min(LOCAL_CHUNK, n - at))
}

// Where content block `offset` starts in the core, from local tree nodes;
// null when the tree cannot tell here (a replica without those nodes): then
// the bytes come block by block.
async function runBase (core: Hypercore, offset: number): Promise<number | null> {
  if (offset >= core.length) return null
  return core.tree.byteOffset(2 * offset).catch(() => null)
}

// Bytes [a, b) of the run of blocks from `offset` (which starts at byte
// `base` of the core), read from the content core's data file a chunk of
// whole blocks at a time, while they are local. The core checks each block
// against its tree the first time it is read (STORAGE_CORRUPT on a writer),
// and refuses bytes outside the blocks named; stops early where a block is
// missing or a replica dropped a damaged one.
function * localChunks (core: Hypercore, offset: number, base: number, blockSize: number, a: number, b: number): Generator<Buffer> {
  const perChunk = Math.max(1, Math.floor(LOCAL_CHUNK / blockSize))
  for (let pos = a; pos < b;) {
    const i = Math.floor(pos / blockSize)
    const chunkEnd = Math.min(b, (i + perChunk) * blockSize)
    const buf = Buffer.allocUnsafe(chunkEnd - pos)
    const n = core.readBytesInto(base + pos, buf, 0, buf.byteLength, offset + i, offset + Math.floor((chunkEnd - 1) / blockSize) + 1)
    if (n !== buf.byteLength) return
    pos = chunkEnd
    yield buf
  }
}

function encodeStat (st: Stat): Buffer {
  return encode(driveStat, st)
}

function decodeStat (b: Buffer): Stat {
  let st: Stat
  try {
    st = decode(driveStat, b)
  } catch (err) {
    throw HyperfsError.DECODE_ERROR('drive entry: ' + (err as Error).message)
  }
  if (st.extents) {
    let total = 0
    for (const e of st.extents) total += e.length
    if (total !== st.size) throw HyperfsError.DECODE_ERROR(`drive entry: extents of ${total} bytes for a file of ${st.size}`)
  }
  return st
}

function decodeMount (b: Buffer): MountInfo {
  try {
    return decode(driveMount, b)
  } catch (err) {
    throw HyperfsError.DECODE_ERROR('mount record: ' + (err as Error).message)
  }
}
