// The hyperfs command line. Every command except `daemon` is a thin client of
// the storage folder's daemon (src/daemon), which it starts on demand. This
// file parses arguments (yargs), turns keys and paths into what the control
// API takes, and prints answers for people (or as JSON with --json).
//
// Exit codes: 0 done, 1 the operation failed, 2 bad usage (unknown option,
// bad key or address), 3 the daemon is not running (daemon status/stop) or
// could not be started. A command whose output is closed early (`| head`)
// stops quietly with 0, as it has nothing left to do.
import yargs, { type Argv } from 'yargs'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { isHyperfsError, safetyCatch, systemCode } from '../errors.js'
import { type DaemonConfig, DEFAULT_TIMEOUT, DEFAULT_IDLE_EXIT, defaultStorage, formatAddress, implicitIdleExit, parseAddress } from '../daemon/daemon-config.js'
import { DEFAULT_CALL_MS, DaemonClient, connectOrStart } from './daemon-client.js'
import { endDaemon, lockHolder } from './daemon-process.js'
import { parseSize } from '../daemon/byte-size.js'
import { formatKey, parseKey } from './drive-key.js'
import { ProgressBar, bytes } from './progress-bar.js'

// A stopping daemon forces its own exit after STOP_MS (run-daemon.ts); past
// this, `daemon stop` kills it.
const KILL_AFTER_MS = 25_000
const STOP_CALL_MS = 10_000
// An answer may wait --timeout for the drive, then as long again for each of a
// few lookups; past this many times --timeout (and DEFAULT_CALL_MS), the
// daemon is taken to have stopped answering.
const CALL_WAITS = 3

export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, NO_DAEMON: 3 } as const

const USAGE_CODES = new Set(['BAD_KEY', 'BAD_ADDRESS', 'USAGE'])
const NO_DAEMON_CODES = new Set(['DAEMON_NOT_RUNNING', 'DAEMON_START_FAILED', 'DAEMON_UNREACHABLE'])

interface Io {
  stdout: NodeJS.WriteStream
  stderr: NodeJS.WriteStream
  stdin: NodeJS.ReadStream
}

type Args = Record<string, any>

export async function main (argv: string[], io: Io = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }): Promise<number> {
  // the reader of our output went away (`hyperfs cat ... | head`): nothing is
  // left to do; the daemon ends the request when the connection drops
  io.stdout.on('error', (err) => {
    if (systemCode(err) === 'EPIPE') process.exit(EXIT.OK)
    process.stderr.write(`hyperfs: cannot write the output: ${err.message}\n`)
    process.exit(EXIT.FAILED)
  })
  io.stderr.on('error', safetyCatch) // nowhere left to report anything
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout.write(packageVersion() + '\n')
    return EXIT.OK
  }
  let code: number = EXIT.OK
  const out = (line: string): void => { io.stdout.write(line + '\n') }
  const setCode = (c: number): void => { code = c }
  const cli = buildCli(argv, { io, out, setCode })
  try {
    await cli.parseAsync()
  } catch (err) {
    const e = err as { code?: string, message?: string, usage?: boolean }
    if (e.usage) {
      io.stderr.write(`hyperfs: ${e.message}\nRun hyperfs --help (or hyperfs COMMAND --help) for usage.\n`)
      return EXIT.USAGE
    }
    const c = e.code ?? ''
    const msg = (e.message ?? String(err)).replace(/^[A-Z_]+: /, '')
    io.stderr.write(`hyperfs: ${msg}${c && !/^[A-Z_]+$/.test(msg) ? ` (${c})` : ''}\n`)
    return USAGE_CODES.has(c) ? EXIT.USAGE : NO_DAEMON_CODES.has(c) ? EXIT.NO_DAEMON : EXIT.FAILED
  }
  return code
}

interface Ctx {
  io: Io
  out: (line: string) => void
  setCode: (c: number) => void
}

function usageError (message: string): Error {
  return Object.assign(new Error(message), { usage: true })
}

function buildCli (argv: string[], ctx: Ctx): Argv {
  const { out, io } = ctx
  const json = (v: unknown): void => out(JSON.stringify(v))

  return yargs(argv)
    .scriptName('hyperfs')
    .usage('hyperfs COMMAND [options]\n\nA peer-to-peer filesystem: share a folder as a drive, mount drives by key.\n' +
      'Commands talk to a daemon that owns the storage folder; it starts on demand.')
    .version(false)
    .help('help')
    .alias('help', 'h')
    .strict()
    .exitProcess(false)
    .wrap(Math.min(100, process.stdout.columns || 100))
    .parserConfiguration({ 'duplicate-arguments-array': true })
    .fail((msg, err) => { throw err ?? usageError(msg ?? 'bad usage') })
    .options(commonOptions())
    .group(Object.keys(commonOptions()), 'Storage and network (every command):')
    .command('create [folder]', 'Create a new drive, importing FOLDER if given. The last line printed is hyper://KEY.', (y) => y
      .positional('folder', { type: 'string', describe: 'a local folder (or file) to import' })
      .option('format', { type: 'string', choices: ['hypertrie', 'hyperdrive13'], default: 'hypertrie', describe: 'hypertrie: hyperfs drives, with mounts; hyperdrive13: drives every Holepunch app (hyperdrive@13) reads, without mounts' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' })
      .example('hyperfs create ~/photos', 'share a folder; prints hyper://KEY')
      .example('hyperfs create ~/site --format hyperdrive13', 'a drive that Pear and other hyperdrive@13 apps can read'),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('create', { from: a.folder ? resolve(String(a.folder)) : undefined, format: a.format }, { timeout: 0 })
      if (a.json) return json({ ...r, key: formatKey(r.key) })
      if (a.folder) out(`imported ${r.files} file${r.files === 1 ? '' : 's'} (${bytes(r.bytes)}) from ${a.folder}`)
      for (const s of r.skipped ?? []) io.stderr.write(`skipped ${s} (not a file, folder or symlink)\n`)
      out(formatKey(r.key))
    }))
    .command('mount <key> <mountpoint>', 'Mount a drive (KEY) or a new writable drive ("new") at MOUNTPOINT. A drive created elsewhere mounts read-only.', (y) => y
      .positional('key', { type: 'string', describe: 'hyper://KEY, z-base-32 or hex key, or "new"' })
      .positional('mountpoint', { type: 'string', describe: 'an empty folder (created if missing)' })
      .option('version', { type: 'number', describe: 'mount this version (a read-only checkout)' })
      .option('foreground', { type: 'boolean', describe: 'stay in the foreground; SIGINT/SIGTERM unmounts and exits 0' })
      .option('read-timeout', { type: 'number', describe: 'ms a read may wait for peers before it fails with EIO (default 5000)' })
      .option('json', { type: 'boolean', describe: 'print the mount as JSON' })
      .example('hyperfs mount hyper://KEY ~/x', 'mount a friend\'s drive, found by key on the DHT or the LAN')
      .example('hyperfs mount hyper://KEY ~/x --peer 10.0.0.2:7000', 'the same, dialling a peer by address'),
    (a) => withDaemon(ctx, a, async (client) => {
      const key = a.key === 'new' ? 'new' : parseKey(String(a.key)).toString('hex')
      if (a.key === 'new' && a.version !== undefined) throw usageError('--version cannot be used with "new"')
      const mountpoint = resolve(String(a.mountpoint))
      const r = await client.call('mount', {
        key, mountpoint, version: a.version, readTimeout: a['read-timeout'], session: a.foreground === true
      }, { timeout: callMs(a) })
      if (a.json) json({ ...r, key: formatKey(r.key) })
      else {
        out(`mounted ${formatKey(r.key)}${r.version === null ? '' : ` version ${r.version}`} at ${r.mountpoint} (${r.writable ? 'writable' : 'read-only'})`)
        if (a.key === 'new') out(formatKey(r.key))
      }
      if (!a.foreground) return
      const why = await untilSignalOr(client.closed)
      if (why === 'closed') {
        io.stderr.write('hyperfs: the daemon went away; the mount is gone\n')
        ctx.setCode(EXIT.FAILED)
        return
      }
      await client.call('unmount', { mountpoint }, { timeout: 30_000 })
      if (!a.json) out(`unmounted ${mountpoint}`)
    }))
    .command('unmount <mountpoint>', 'Unmount a drive (also clears a mount left behind by a killed daemon).', (y) => y
      .positional('mountpoint', { type: 'string' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('unmount', { mountpoint: resolve(String(a.mountpoint)) }, { timeout: 30_000 })
      out(r.was === 'stale' ? `cleared a dead mount at ${r.mountpoint}` : `unmounted ${r.mountpoint}`)
    }))
    .command('seed <keys..>', 'Serve drives to peers until Ctrl-C (SIGINT/SIGTERM), or with --detach in the daemon until unseed. A drive created elsewhere is downloaded in full first.', (y) => y
      .positional('keys', { type: 'string', array: true, describe: 'one or more drive keys' })
      .option('detach', { type: 'boolean', describe: 'leave the seed running in the daemon and exit (end it with hyperfs unseed KEY)' })
      .example('hyperfs seed hyper://KEY', 'serve a drive to peers that look it up by key')
      .example('hyperfs seed hyper://KEY --listen 7000', 'also accept peers that dial port 7000')
      .example('hyperfs seed hyper://KEY --detach', 'keep serving after this command exits'),
    (a) => withDaemon(ctx, a, async (client) => {
      const keys = (a.keys as string[]).map((k) => parseKey(String(k)).toString('hex'))
      const detach = a.detach === true
      const bar = new ProgressBar(io.stderr)
      // Ctrl-C ends the seed at any point, even while the drives are looked up:
      // the daemon ends what this command started when its connection drops
      const seeding = client.call('seed', { keys, detach }, {
        timeout: 0,
        onEvent: (e) => {
          if (e.seeding) {
            for (const d of e.seeding) out(`seeding ${formatKey(d.key)} (version ${d.version}${d.writable ? '' : ', downloading'})`)
            if (e.listening.length) out(`listening on ${e.listening.join(', ')}`)
            if (detach) out(`the daemon seeds until hyperfs unseed${e.seeding.length === 1 ? ' ' + formatKey(e.seeding[0].key) : ' KEY'} (or daemon stop)`)
            else out('press Ctrl-C to stop')
          } else if (e.progress) {
            bar.update(e.progress)
          } else if (e.held) {
            bar.done()
            out(`downloaded ${formatKey(e.held.key)} (${bytes(e.held.bytes)}); it is held in full and seeded`)
          } else if (e.failed) {
            bar.done()
            io.stderr.write(`hyperfs: downloading ${formatKey(e.failed.key)} stopped: ${e.failed.message.replace(/^[A-Z_]+: /, '')}; seeding what is held\n`)
          }
        }
      })
      const why = await untilSignalOr(seeding.then(() => {}, () => {}))
      bar.done()
      if (why === 'signal') return
      await seeding.catch((err) => {
        if (!isHyperfsError(err, 'DAEMON_GONE')) throw err
        io.stderr.write('hyperfs: the daemon went away\n')
        ctx.setCode(EXIT.FAILED)
      })
    }))
    .command('unseed <keys..>', 'End seeds left running in the daemon by seed --detach.', (y) => y
      .positional('keys', { type: 'string', array: true, describe: 'one or more drive keys' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('unseed', { keys: (a.keys as string[]).map((k) => parseKey(String(k)).toString('hex')) })
      for (const k of r.unseeded) out(`stopped seeding ${formatKey(k)}`)
    }))
    .command('download <key> [path]', 'Fetch a drive (or a folder or file of it) so it can be read offline, with a progress bar.', (y) => y
      .positional('key', { type: 'string' })
      .positional('path', { type: 'string', default: '/', describe: 'a folder or file in the drive' })
      .option('json', { type: 'boolean', describe: 'print the totals as JSON (no progress bar)' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const bar = new ProgressBar(io.stderr)
      const r = await client.call('download', { key: parseKey(String(a.key)).toString('hex'), path: a.path }, {
        timeout: 0,
        onEvent: (e) => { if (e.progress && !a.json) bar.update(e.progress) }
      })
      if (!a.json) bar.update({ bytes: r.bytes, total: r.total, peers: r.peers })
      bar.done()
      if (a.json) json(r)
      else out(`downloaded ${bytes(r.bytes)} in ${r.files} file${r.files === 1 ? '' : 's'} under ${r.path}`)
    }))
    .command('ls <key> [path]', 'List a folder of a drive.', (y) => y
      .positional('key', { type: 'string' })
      .positional('path', { type: 'string', default: '/' })
      .option('version', { type: 'number', describe: 'list an older version' })
      .option('recursive', { alias: 'r', type: 'boolean', describe: 'list subfolders too' })
      .option('long', { alias: 'l', type: 'boolean', describe: 'show type, mode, size and time' })
      .option('json', { type: 'boolean', describe: 'print entries as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const entries = await client.call('ls', { key: parseKey(String(a.key)).toString('hex'), path: a.path, version: a.version, recursive: a.recursive === true }, { timeout: callMs(a) })
      if (a.json) return json(entries.map((e: any) => e.mount ? { ...e, mount: { ...e.mount, key: formatKey(e.mount.key) } } : e))
      for (const e of entries) {
        const name = e.name + (e.type === 'dir' || e.type === 'mount' ? '/' : '') + (e.link ? ` -> ${e.link}` : '') +
          (e.mount ? ` -> ${formatKey(e.mount.key)}${e.mount.version === null ? '' : '@' + e.mount.version}` : '')
        if (!a.long) { out(name); continue }
        out(`${e.type.padEnd(7)} ${(e.mode & 0o7777).toString(8).padStart(4, '0')} ${String(e.size).padStart(12)} ${new Date(e.mtime).toISOString()} ${name}`)
      }
    }))
    .command('cat <key> <path>', 'Write a file of a drive to stdout.', (y) => y
      .positional('key', { type: 'string' })
      .positional('path', { type: 'string' })
      .option('version', { type: 'number', describe: 'read an older version' }),
    (a) => withDaemon(ctx, a, async (client) => {
      await client.call('cat', { key: parseKey(String(a.key)).toString('hex'), path: a.path, version: a.version }, {
        timeout: 0,
        onEvent: async (e) => {
          if (!e.data) return
          if (!io.stdout.write(Buffer.from(e.data, 'base64'))) await new Promise((resolve) => io.stdout.once('drain', resolve))
        }
      })
    }))
    .command('info <key>', 'Show a drive: key, discovery key, version, size, how much is held here, peers.', (y) => y
      .positional('key', { type: 'string' })
      .option('json', { type: 'boolean', describe: 'print as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('info', { key: parseKey(String(a.key)).toString('hex') }, { timeout: callMs(a) })
      if (a.json) return json({ ...r, link: formatKey(r.key) })
      out(`key:           ${formatKey(r.key)}`)
      out(`discovery key: ${r.discoveryKey}`)
      out(`format:        ${r.format}`)
      out(`version:       ${r.version}`)
      out(`writable:      ${r.writable ? 'yes' : 'no'}`)
      out(`size:          ${bytes(r.byteLength)} (${r.byteLength} bytes)`)
      out(`held here:     ${bytes(r.localBytes)} (${r.percentLocal}%)`)
      if (r.diskBytes !== undefined) out(`on disk:       ${bytes(r.diskBytes)} (content and metadata)`)
      if (r.reclaimable !== undefined) out(`reclaimable:   ${r.reclaimable === null ? 'unknown (the history is not all held here)' : `${bytes(r.reclaimable)} only older versions use (hyperfs gc)`}`)
      if (r.pinnedBytes !== undefined && (r.pins ?? []).length > 0) out(`pinned:        ${bytes(r.pinnedBytes)}`)
      for (const pin of r.pins ?? []) out(`pin:           ${pin.path}${pin.by === 'download' ? ' (by download)' : ''}`)
      if (r.cache) out(`cache:         ${bytes(r.cache.drive)} of this drive; ${bytes(r.cache.used)} of ${bytes(r.cache.capacity)} in all`)
      if (r.autoGc && r.writable) out(`history:       gc runs by itself past ${bytes(r.autoGc.budget)} (--keep-history); ${autoGcLine(r.autoGc)}`)
      out(`peers:         ${r.peers}`)
      if (r.seeding) out('seeding:       yes')
      for (const m of r.mounts) out(`mounted at:    ${m}`)
    }))
    .command('log <key>', 'Show the history of a drive, one change per version.', (y) => y
      .positional('key', { type: 'string' })
      .option('limit', { type: 'number', describe: 'show only the last N changes' })
      .option('json', { type: 'boolean', describe: 'print as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('log', { key: parseKey(String(a.key)).toString('hex'), limit: a.limit }, { timeout: callMs(a) })
      if (a.json) return json(r)
      for (const h of r) out(`${String(h.version).padStart(6)}  ${h.type.padEnd(3)}  /${h.name.replace(/^\//, '')}${h.size === null ? '' : `  ${h.size}`}`)
    }))
    .command('verify <key>', 'Check every block of a drive held here against its signed tree, hashing each one (reads trust a block whose checksum matches one recorded when it was last checked; this does not, and rewrites checksums that are wrong). Exits 1 when any block is damaged; a copy of someone else\'s drive drops damaged blocks and fetches them again.', (y) => y
      .positional('key', { type: 'string' })
      .option('json', { type: 'boolean', describe: 'print as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('verify', { key: parseKey(String(a.key)).toString('hex') }, { timeout: 0 })
      if (r.corrupt > 0) ctx.setCode(EXIT.FAILED)
      if (a.json) return json({ ...r, link: formatKey(r.key) })
      for (const c of r.cores) {
        out(`${c.name.padEnd(9)} ${c.checked} block${c.checked === 1 ? '' : 's'} checked, ${c.corrupt.length} damaged`)
        for (const d of c.corrupt) out(`  block ${d.block}: ${d.message}`)
      }
      out(`${formatKey(r.key)}: ${r.corrupt === 0 ? 'all' : r.checked - r.corrupt} of ${r.checked} blocks held here are intact`)
    }))
    .command('put <key> <path> [file]', 'Write FILE (or a folder, or stdin when FILE is "-" or absent) to PATH in a writable drive.', (y) => y
      .positional('key', { type: 'string' })
      .positional('path', { type: 'string', describe: 'where in the drive' })
      .positional('file', { type: 'string', describe: 'a local file or folder; stdin if "-" or absent' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const key = parseKey(String(a.key)).toString('hex')
      const params: Record<string, unknown> = { key, path: a.path }
      const stdin = !a.file || a.file === '-'
      if (!stdin) params.from = resolve(String(a.file))
      const r = await client.call('put', params, { timeout: 0, input: stdin ? io.stdin : undefined })
      if (a.json) json(r)
      else out(`wrote ${r.path} (${r.files} file${r.files === 1 ? '' : 's'}, ${bytes(r.bytes)}); now at version ${r.version}`)
    }))
    .command('rm <key> <path>', 'Remove a file, an empty folder (any folder with -r), or a mount from a writable drive.', (y) => y
      .positional('key', { type: 'string' })
      .positional('path', { type: 'string' })
      .option('recursive', { alias: 'r', type: 'boolean', describe: 'remove a folder and everything in it' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('rm', { key: parseKey(String(a.key)).toString('hex'), path: a.path, recursive: a.recursive === true })
      if (a.json) json(r)
      else out(`removed ${r.path}; now at version ${r.version}`)
    }))
    .command('mkdir <key> <path>', 'Create a folder in a writable drive.', (y) => y
      .positional('key', { type: 'string' })
      .positional('path', { type: 'string' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('mkdir', { key: parseKey(String(a.key)).toString('hex'), path: a.path })
      out(`created ${r.path}; now at version ${r.version}`)
    }))
    .command('mkmount <key> <path> <target>', 'Mount drive TARGET inside drive KEY at PATH (a drive within a drive).', (y) => y
      .positional('key', { type: 'string', describe: 'the writable drive to change' })
      .positional('path', { type: 'string' })
      .positional('target', { type: 'string', describe: 'the drive to mount there' })
      .option('version', { type: 'number', describe: 'pin TARGET to this version' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('mkmount', {
        key: parseKey(String(a.key)).toString('hex'), path: a.path, target: parseKey(String(a.target)).toString('hex'), version: a.version
      })
      out(`mounted ${formatKey(r.target)} at ${r.path}; now at version ${r.version}`)
    }))
    .command('drives', 'List the drives in the storage folder: key, format, writable, size, how much is held here, where mounted.', (y) => y
      .option('json', { type: 'boolean', describe: 'print as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('drives', {}, { timeout: callMs(a) })
      if (a.json) return json(r.map((d: any) => ({ ...d, key: formatKey(d.key) })))
      for (const d of r) {
        const held = d.format === null ? 'nothing held' : `held ${bytes(d.localBytes)} (${d.percentLocal}%)`
        out(`${formatKey(d.key)}  ${d.format ?? 'unknown'}  ${d.writable ? 'writable' : 'read-only'}  version ${d.version}  ` +
          `size ${bytes(d.byteLength)}  ${held}${d.mounts.length ? '  mounted at ' + d.mounts.join(', ') : ''}${d.seeding ? '  seeding' : ''}`)
      }
    }))
    .command('gc <key>', 'Free the content blocks held here that only older versions use (history still lists; old content is fetched from peers when read).', (y) => y
      .positional('key', { type: 'string' })
      .option('keep-versions', { type: 'number', describe: 'keep what the last N versions use (default 1: the latest)' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' })
      .example('hyperfs gc hyper://KEY', 'after rm of big files, give their space back')
      .example('hyperfs gc hyper://KEY --keep-versions 10', 'keep the content of the last 10 versions'),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('gc', { key: parseKey(String(a.key)).toString('hex'), keepVersions: a['keep-versions'] }, { timeout: 0 })
      if (a.json) return json({ ...r, link: formatKey(r.key) })
      out(`freed ${bytes(r.bytes)} in ${r.blocks} block${r.blocks === 1 ? '' : 's'} of ${formatKey(r.key)} (kept what the last ${r.keepVersions} version${r.keepVersions === 1 ? '' : 's'} use)`)
      out(`on disk: ${bytes(r.diskBefore)} before, ${bytes(r.diskAfter)} now`)
      if (!r.punched) io.stderr.write('hyperfs: this filesystem cannot punch holes: the blocks are no longer used, but their bytes stay on disk\n')
    }))
    .command('pin <key> [path]', 'Keep the content of a drive (or a folder or file of it), and of the drives mounted there, out of the reader cache\'s eviction (see --cache-size).', (y) => y
      .positional('key', { type: 'string' })
      .positional('path', { type: 'string', default: '/', describe: 'a folder or file in the drive' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('pin', { key: parseKey(String(a.key)).toString('hex'), path: a.path })
      if (a.json) return json(r)
      out(`pinned ${r.path} of ${formatKey(r.key)} (${bytes(r.pinnedBytes)} held here now; hyperfs download fetches the rest)`)
    }))
    .command('unpin <key> [path]', 'Remove the pin on PATH (every pin of the drive without PATH), so its content may be evicted again.', (y) => y
      .positional('key', { type: 'string' })
      .positional('path', { type: 'string', describe: 'the pinned folder or file (default: every pin of the drive)' })
      .option('json', { type: 'boolean', describe: 'print the result as JSON' }),
    (a) => withDaemon(ctx, a, async (client) => {
      const r = await client.call('unpin', { key: parseKey(String(a.key)).toString('hex'), path: a.path })
      if (a.json) return json(r)
      for (const p of r.removed) out(`unpinned ${p.path} of ${formatKey(r.key)}`)
    }))
    .command('daemon [action]', 'Run the daemon in the foreground (no ACTION; for a service manager), or start/stop/status the background one. ' +
      'Either stays up until stopped; one that a command started by itself exits once idle.', (y) => y
      .positional('action', { type: 'string', choices: ['start', 'stop', 'status'] })
      .option('json', { type: 'boolean', describe: 'status as JSON' })
      .option('idle-exit', { type: 'number', describe: 'with no ACTION: exit after MS with no clients, mounts or seeds (default: never)' })
      .option('kill-after', { type: 'number', describe: `with stop: kill the daemon (SIGKILL) if it has not exited MS after it was asked to (default ${KILL_AFTER_MS})` }),
    (a) => daemonCommand(ctx, a))
    .command('version', 'Print the version of hyperfs (also: hyperfs --version).', (y) => y,
      () => out(packageVersion()))
    .command('dht-node', 'Run a HyperDHT node that others can bootstrap from (--bootstrap HOST:PORT on their side), until SIGINT/SIGTERM.', (y) => y
      .option('port', { type: 'number', default: 49737, describe: 'UDP port to bind' })
      .option('json', { type: 'boolean', describe: 'print the bound address as JSON' }),
    (a) => dhtNodeCommand(ctx, a))
    .demandCommand(1, 'name a command')
    .epilogue('Keys print as hyper://<z-base-32> and are accepted as z-base-32 or hex, with or without hyper://.\n' +
      'Storage defaults to $HYPERFS_STORAGE or ~/.local/share/hyperfs. A daemon that a command started by itself exits after ' +
      `${DEFAULT_IDLE_EXIT / 1000} s with no clients, mounts or seeds ($HYPERFS_IDLE_EXIT_MS). Exit codes: 0 ok, 1 failed, 2 bad usage, 3 no daemon.`)
}

// A bootstrap node joins the network named by --bootstrap, or stands alone
// as the first node of a new one (it never reaches the public nodes by itself).
async function dhtNodeCommand (ctx: { out: (line: string) => void }, a: Args): Promise<void> {
  const out = ctx.out
  const host = a.host ? String(a.host) : '0.0.0.0'
  const bootstrap = a.bootstrap === undefined ? [] : list(a.bootstrap).map((s) => parseAddress(s))
  const { runBootstrapNode } = await import('../dht/bootstrap-node.js')
  const node = await runBootstrapNode({ host, port: Number(a.port), bootstrap })
  const addr = node.address()!
  if (a.json) out(JSON.stringify({ host: addr.host, port: addr.port }))
  else out(`dht node listening on ${addr.host}:${addr.port}`)
  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await node.destroy()
}

function commonOptions (): Record<string, Record<string, unknown>> {
  return {
    storage: { type: 'string', describe: 'storage folder (default $HYPERFS_STORAGE or ~/.local/share/hyperfs)' },
    listen: { type: 'string', array: true, describe: '[HOST:]PORT to accept peers on, over TCP (repeatable)' },
    peer: { type: 'string', array: true, describe: 'HOST:PORT of a peer to connect to, over TCP (repeatable)' },
    host: { type: 'string', describe: 'address to bind listeners given without a host (default 0.0.0.0)' },
    bootstrap: { type: 'string', array: true, describe: 'HOST:PORT of a DHT bootstrap node (repeatable, or comma-separated; default: the public HyperDHT nodes)' },
    dht: { type: 'boolean', default: true, describe: 'find peers on the HyperDHT by discovery key (--no-dht: do not)' },
    mdns: { type: 'boolean', default: true, describe: 'find peers on the LAN with MDNS (--no-mdns: do not)' },
    timeout: { type: 'number', describe: `ms to wait for peers to send a drive, or a part of one, not held here (default: the daemon's, ${DEFAULT_TIMEOUT} unless it was started with another)` },
    'cache-size': { type: 'string', describe: 'keep at most SIZE of other people\'s content (bytes, or K/M/G), least recently read out first; pinned content and your own drives stay' },
    'keep-history': { type: 'string', describe: 'on drives you write, keep at most SIZE (bytes, or K/M/G) of content that only older versions use: past it, gc runs by itself and frees the oldest first, down to half of SIZE (default: all history stays until hyperfs gc)' }
  }
}

function configFrom (a: Args): DaemonConfig {
  const storage = a.storage ? resolve(String(a.storage)) : defaultStorage()
  const host = a.host ? String(a.host) : null
  if (a.timeout !== undefined && !(Number.isFinite(a.timeout) && a.timeout > 0)) throw usageError('--timeout takes a number of ms above 0')
  if (a['idle-exit'] !== undefined && !(Number.isFinite(a['idle-exit']) && a['idle-exit'] >= 0)) throw usageError('--idle-exit takes a number of ms (0: never)')
  const wrap = (f: () => DaemonConfig): DaemonConfig => {
    try { return f() } catch (err) { throw usageError((err as Error).message.replace(/^[A-Z_]+: /, '')) }
  }
  return wrap(() => ({
    storage,
    host,
    listen: list(a.listen).map((s) => parseAddress(s, host ?? '0.0.0.0')),
    peers: list(a.peer).map((s) => parseAddress(s)),
    bootstrap: a.bootstrap === undefined ? null : list(a.bootstrap).map((s) => parseAddress(s)),
    dht: a.dht !== false,
    mdns: a.mdns !== false,
    timeout: a.timeout ?? DEFAULT_TIMEOUT,
    idleExit: a['idle-exit'] ?? 0,
    cacheSize: a['cache-size'] === undefined ? null : parseSize(String(a['cache-size'])),
    keepHistory: a['keep-history'] === undefined ? null : parseSize(String(a['keep-history']))
  }))
}

// How long the CLI waits for the answer to a request that waits on peers: the
// daemon bounds each wait by --timeout, so this only catches a daemon that
// has stopped answering.
function callMs (a: Args): number {
  return Math.max(DEFAULT_CALL_MS, CALL_WAITS * (a.timeout ?? DEFAULT_TIMEOUT))
}

function list (v: unknown): string[] {
  if (v === undefined || v === null) return []
  return (Array.isArray(v) ? v : [v]).flatMap((s) => String(s).split(',')).map((s) => s.trim()).filter(Boolean)
}

// The command line of the daemon a command starts: its storage and network
// settings. A --timeout given to a command travels with its requests; the
// daemon keeps its own only when `daemon start` was given one.
function daemonArgs (c: DaemonConfig, opts: { timeout: boolean, idleExit: number }): string[] {
  const args = ['--storage', c.storage]
  if (opts.timeout) args.push('--timeout', String(c.timeout))
  if (opts.idleExit > 0) args.push('--idle-exit', String(opts.idleExit))
  for (const l of c.listen) args.push('--listen', formatAddress(l))
  for (const p of c.peers) args.push('--peer', formatAddress(p))
  if (c.host) args.push('--host', c.host)
  for (const b of c.bootstrap ?? []) args.push('--bootstrap', formatAddress(b))
  if (!c.dht) args.push('--no-dht')
  if (!c.mdns) args.push('--no-mdns')
  if (c.cacheSize) args.push('--cache-size', String(c.cacheSize))
  if (c.keepHistory) args.push('--keep-history', String(c.keepHistory))
  return args
}

async function withDaemon (ctx: Ctx, a: Args, fn: (client: DaemonClient) => Promise<void>): Promise<void> {
  const config = configFrom(a)
  // bad keys are usage errors; no daemon is started for them
  for (const k of [a.key, a.target, ...(Array.isArray(a.keys) ? a.keys : [])]) if (k !== undefined && k !== 'new') parseKey(String(k))
  // a daemon started for this command alone exits once idle
  const { client, started } = await connectOrStart(config.storage, daemonArgs(config, { timeout: false, idleExit: implicitIdleExit() }))
  if (a.timeout !== undefined) client.setDefaults({ timeout: config.timeout })
  try {
    // a daemon already running learns this command's --listen/--peer now
    if (!started && (config.listen.length > 0 || config.peers.length > 0)) {
      await client.call('network.add', { listen: config.listen.map(formatAddress), peers: config.peers.map(formatAddress) })
    }
    // and its --cache-size
    if (!started && config.cacheSize) await client.call('cache', { size: config.cacheSize })
    // and its --keep-history
    if (!started && config.keepHistory) await client.call('keep-history', { size: config.keepHistory })
    await fn(client)
  } finally {
    client.close()
  }
}

async function daemonCommand (ctx: Ctx, a: Args): Promise<void> {
  const { out } = ctx
  const config = configFrom(a)
  if (!a.action) {
    // a daemon whose output is closed goes on serving: it logs to stderr, and
    // its mounts must not die with a terminal or a pipe
    ctx.io.stdout.removeAllListeners('error')
    ctx.io.stdout.on('error', safetyCatch)
    const { runDaemon } = await import('../daemon/run-daemon.js')
    await runDaemon(config, { onReady: () => out(`hyperfs daemon ${process.pid} serving ${config.storage}`) })
    return
  }
  if (a.action === 'start') {
    const { client, started } = await connectOrStart(config.storage, daemonArgs(config, { timeout: a.timeout !== undefined, idleExit: 0 }))
    try {
      const s = await client.call('status')
      // one that a command started by itself stays up from now on, as asked
      if (!started && s.idleExit > 0) await client.call('stay')
      out(`${started ? 'started' : 'already running:'} daemon ${s.pid} for ${s.storage}`)
    } finally { client.close() }
    return
  }
  let client: DaemonClient | null = null
  try {
    client = await DaemonClient.connect(daemonSocket(config))
  } catch (err) {
    if (!isHyperfsError(err, 'DAEMON_NOT_RUNNING')) throw err
  }
  if (a.action === 'status') {
    if (client) {
      try { return printStatus(ctx, a, await client.call('status')) } finally { client.close() }
    }
    const pid = await lockHolder(config.storage)
    if (pid === null) {
      if (a.json) out(JSON.stringify({ running: false, storage: config.storage }))
      else out(`no daemon is running for ${config.storage}`)
      ctx.setCode(EXIT.NO_DAEMON)
      return
    }
    if (a.json) out(JSON.stringify({ running: true, answering: false, pid, storage: config.storage }))
    else out(`daemon ${pid} holds ${config.storage} but does not answer on its socket (it is stopping, or stuck); hyperfs daemon stop ends it`)
    ctx.setCode(EXIT.FAILED)
    return
  }
  await stopCommand(ctx, a, config, client)
}

function printStatus (ctx: Ctx, a: Args, s: any): void {
  const { out } = ctx
  if (a.json) return out(JSON.stringify({ running: true, ...s }))
  out(`daemon ${s.pid} for ${s.storage}, up ${Math.round(s.uptime / 1000)} s` +
    (s.idleExit > 0 ? `; started by a command, exits after ${Math.round(s.idleExit / 1000)} s idle` : ''))
  out(`listening: ${s.network.listening.join(', ') || 'no'}`)
  for (const p of s.network.peers) out(`peer ${p.address}: ${p.connected ? 'connected' : `not connected (${p.attempts} attempts)`}`)
  out(`connections: ${s.network.connections}; DHT: ${s.network.dht}; MDNS: ${s.network.mdns}`)
  const shutOut = [...(s.network.penalised ?? []), ...(s.network.swarmPenalised ?? []).map((k: string) => `swarm peer ${k.slice(0, 16)}…`)]
  if (shutOut.length > 0 || s.network.refused > 0) out(`refused for sending data that does not verify: ${shutOut.join(', ') || 'none now'} (${s.network.refused ?? 0} connections refused)`)
  for (const m of s.mounts) out(`mounted ${formatKey(m.key)}${m.version === null ? '' : '@' + m.version} at ${m.mountpoint} (${m.writable ? 'writable' : 'read-only'})`)
  for (const k of s.seeding) out(`seeding ${formatKey(k)}`)
  if (s.cache) out(`cache: ${bytes(s.cache.used)} of ${bytes(s.cache.capacity)} held, ${bytes(s.cache.evicted)} evicted since start`)
  if (s.keepHistory) out(`history: drives written here keep at most ${bytes(s.keepHistory)} of old versions' content; gc runs by itself past it`)
}

// What the history budget last did to a drive (info).
function autoGcLine (g: { last: { at: number, oldestKept: number, bytes: number, kept: number } | null, error: string | null }): string {
  const last = g.last
    ? `last at ${new Date(g.last.at).toISOString()}: freed ${bytes(g.last.bytes)} that only versions before ${g.last.oldestKept} used, ${bytes(g.last.kept)} of history stayed`
    : 'it has not had to yet'
  return g.error ? `${last}; the last check failed: ${g.error}` : last
}

// A stop always ends the daemon: asked over its socket when it answers, with
// SIGTERM when it does not, and killed when it has not exited in time.
async function stopCommand (ctx: Ctx, a: Args, config: DaemonConfig, client: DaemonClient | null): Promise<void> {
  const { out } = ctx
  const grace = Number.isFinite(a['kill-after']) && a['kill-after'] >= 0 ? a['kill-after'] : KILL_AFTER_MS
  let pid: number | null = null
  if (client) {
    try {
      pid = (await client.call('stop', {}, { timeout: STOP_CALL_MS })).pid
    } catch (err) {
      if (!isHyperfsError(err, 'DAEMON_STOPPING', 'DAEMON_GONE', 'REQUEST_TIMEOUT')) throw err
    } finally {
      client.close()
    }
  }
  if (pid === null) {
    pid = await lockHolder(config.storage)
    if (pid === null) {
      out(`no daemon is running for ${config.storage}`)
      return
    }
    ctx.io.stderr.write(`hyperfs: daemon ${pid} does not answer on its socket; sending it SIGTERM\n`)
    process.kill(pid, 'SIGTERM')
  }
  if (await endDaemon(pid, grace) === 'stopped') {
    out(`stopped daemon ${pid}`)
    return
  }
  out(`killed daemon ${pid}: it had not exited ${grace} ms after it was asked to stop`)
  ctx.io.stderr.write('hyperfs: its mounts, if it had any, are dead now; hyperfs unmount MOUNTPOINT clears each\n')
}

function packageVersion (): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function daemonSocket (c: DaemonConfig): string {
  return resolve(c.storage, 'daemon.sock')
}

function untilSignalOr (closed: Promise<void>): Promise<'signal' | 'closed'> {
  return new Promise((resolve) => {
    const done = (why: 'signal' | 'closed'): void => {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
      resolve(why)
    }
    const onSignal = (): void => done('signal')
    process.on('SIGINT', onSignal)
    process.on('SIGTERM', onSignal)
    void closed.then(() => done('closed'))
  })
}
