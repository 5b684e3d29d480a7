// Starts a FUSE host in a child process (never in the test process: a
// process must not make blocking calls into its own mount) and tears it down
// whatever happens: the child is stopped (SIGTERM, then SIGKILL), a mount it
// leaves behind is detached, and the folders (the mount point's, and the
// child's TMPDIR, where the fixtures keep their drives) are removed, the
// mount point's only once nothing is mounted on it.
//
// Which drive is served is a parameter: a Fixture names a script that speaks
// the command line of fixtures/serve-drive.ts. The suites in suites/ take one
// and each *.test.ts runs them against one drive kind. HYPERFS_FUSE_FIXTURE
// replaces the in-memory drive with any other script.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { clearStaleMount, isMounted } from '../../src/fuse/stale-mount.js'

export interface Fixture {
  name: string // the drive kind, shown in test names
  script: string // path of the compiled serve-*.js
  args?: string[] // given to the script before the host's own options
}

function fixture (name: string, file: string, args: string[] = []): Fixture {
  return { name, script: fileURLToPath(new URL(`./fixtures/${file}`, import.meta.url)), args }
}

export const MEMORY_FIXTURE: Fixture = process.env.HYPERFS_FUSE_FIXTURE
  ? { name: process.env.HYPERFS_FUSE_FIXTURE, script: process.env.HYPERFS_FUSE_FIXTURE }
  : fixture('memory drive', 'serve-memory-drive.js')
export const HYPERDRIVE_FIXTURE = fixture('hyperdrive on disk', 'serve-hyperdrive.js')
export const REPLICA_FIXTURE = fixture('hyperdrive replica', 'serve-replica.js')
// the same two, their drive in the format of hyperdrive@13
export const HYPERDRIVE13_FIXTURE = fixture('hyperdrive13 on disk', 'serve-hyperdrive.js', ['--format', 'hyperdrive13'])
export const HYPERDRIVE13_REPLICA_FIXTURE = fixture('hyperdrive13 replica', 'serve-replica.js', ['--format', 'hyperdrive13'])

// node:test takes a string as the reason to skip
export const FUSE_SKIP: string | false = existsSync('/dev/fuse')
  ? false
  : 'FUSE is not available here (no /dev/fuse): mount tests skipped'

const READY_MS = 30_000
const STOP_MS = 5_000
const CALLS_MS = 10_000

export interface HostOptions {
  fixture?: Fixture // default MEMORY_FIXTURE
  mnt?: string // mount here instead of in a fresh temp folder
  seed?: string
  generated?: Record<string, number>
  readOnly?: boolean
  checkout?: boolean
  faults?: Record<string, 'timeout' | 'hang'>
  readTimeout?: number
  nested?: string[] // paths where the host mounts a second drive
  nestedCores?: string[] // paths where the host mounts a raw core of coreBlocks() (fixtures/pattern.ts)
  version?: number // serve this version (FuseHost version option)
  countCalls?: boolean // the host counts drive calls; see Host.calls()
  clockStep?: number // ms the stat cache's clock moves each time it is read
  env?: NodeJS.ProcessEnv // added to the host's environment (TMPDIR: where the drive and staged files go)
}

export interface Host {
  mnt: string
  pid: number
  caps: { generated: boolean, nested: boolean, nestedCore: boolean, writable: boolean }
  log (): string // the host's stderr so far
  waitForLog (re: RegExp, ms?: number): Promise<void> // rejects if the host has not said it in time
  signal (sig: NodeJS.Signals): void
  // drive calls by "<method> <path>" since the last calls() (or the start); needs countCalls
  calls (): Promise<Record<string, number>>
  kill9 (): Promise<void>
  stop (): Promise<void>
}

export async function startHost (t: TestContext, opts: HostOptions = {}): Promise<Host> {
  const base = opts.mnt ? null : mkdtempSync(join(tmpdir(), 'hyperfs-mnt-'))
  const mnt = opts.mnt ?? join(base!, 'mnt')
  // a given mount point may hold a dead mount, which even mkdir fails on
  if (base) mkdirSync(mnt)

  const fx = opts.fixture ?? MEMORY_FIXTURE
  const args = [fx.script, ...(fx.args ?? []), '--mount', mnt]
  if (opts.seed) args.push('--seed', opts.seed)
  for (const [path, size] of Object.entries(opts.generated ?? {})) args.push('--generated', `${path}=${size}`)
  if (opts.readOnly) args.push('--read-only')
  if (opts.checkout) args.push('--checkout')
  for (const [path, kind] of Object.entries(opts.faults ?? {})) args.push('--fault', `${path}=${kind}`)
  if (opts.readTimeout) args.push('--read-timeout', String(opts.readTimeout))
  for (const path of opts.nested ?? []) args.push('--nested', path)
  for (const path of opts.nestedCores ?? []) args.push('--nested-core', path)
  if (opts.version !== undefined) args.push('--version', String(opts.version))
  if (opts.countCalls) args.push('--count-calls')
  if (opts.clockStep) args.push('--clock-step', String(opts.clockStep))

  // The host's temp folder (its drive folder, staged files) is ours to
  // remove: a host killed with -9 cannot clean up after itself.
  const hostTmp = mkdtempSync(join(tmpdir(), 'hyperfs-host-'))
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, TMPDIR: hostTmp, ...opts.env } })
  let stderr = ''
  child.stderr!.on('data', (d) => { stderr += d })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))

  const stop = async (): Promise<void> => {
    await stopChild(child, exited)
    // a host killed mid-test leaves a dead mount; one still answering belongs to someone else
    await clearStaleMount(mnt).catch(() => {})
  }
  t.after(async () => {
    await stop()
    rmSync(hostTmp, { recursive: true, force: true })
    if (base && !(await isMounted(mnt))) rmSync(base, { recursive: true, force: true })
  })

  const caps = await waitReady(child, () => stderr)
  return {
    mnt,
    pid: child.pid!,
    caps,
    log: () => stderr,
    waitForLog: async (re, ms = 10_000) => {
      for (let waited = 0; !re.test(stderr); waited += 50) {
        if (waited >= ms) throw new Error(`the host did not log ${re} within ${ms} ms:\n${stderr}`)
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    },
    signal: (sig) => { child.kill(sig) },
    calls: async () => {
      const seen = stderr.length
      child.stdin!.write('calls\n')
      for (let waited = 0; waited < CALLS_MS; waited += 20) {
        const m = /^calls (\{.*\})$/m.exec(stderr.slice(seen))
        if (m) return JSON.parse(m[1])
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      throw new Error(`the host did not report its calls within ${CALLS_MS} ms:\n${stderr}`)
    },
    kill9: async () => {
      child.kill('SIGKILL')
      await exited
    },
    stop
  }
}

async function stopChild (child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGTERM')
  const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), STOP_MS).unref())
  if (!(await Promise.race([exited.then(() => true), timer]))) {
    child.kill('SIGKILL')
    await exited
  }
}

function waitReady (child: ChildProcess, log: () => string): Promise<Host['caps']> {
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => fail(`no "ready" within ${READY_MS} ms`), READY_MS)
    const fail = (why: string): void => {
      clearTimeout(timer)
      reject(new Error(`FUSE host failed to start: ${why}\n${log()}`))
    }
    child.stdout!.on('data', (d) => {
      out += d
      const line = out.split('\n').find((l) => l.startsWith('ready'))
      if (line === undefined || !out.includes('\n')) return
      clearTimeout(timer)
      resolve(JSON.parse(line.slice('ready'.length).trim() || '{}'))
    })
    child.once('exit', (code, signal) => fail(`exited with ${code ?? signal}`))
  })
}

export { run, type RunResult } from '../helpers/run.js'

