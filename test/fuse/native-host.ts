// Starts fixtures/serve-native.js in a child process (never in the test
// process: it must not make blocking calls into its own mount) with one or
// more mount points on one drive, and tears it all down whatever happens:
// the child is stopped (SIGTERM, then SIGKILL), mounts it leaves behind are
// detached, and the folders go only once nothing is mounted on them.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { TestContext } from 'node:test'
import { clearStaleMount, isMounted } from '../../src/fuse/stale-mount.js'

const SCRIPT = fileURLToPath(new URL('./fixtures/serve-native.js', import.meta.url))
const READY_MS = 30_000
const STOP_MS = 5_000
const STATS_MS = 5_000

export interface NativeHostOptions {
  mounts?: number // mount points on the one drive (default 1)
  binding?: 'native' | 'fuse-native'
  drive?: 'memory' | 'disk'
  files?: number // small files in /many
  big?: number // bytes of /big.bin
  replica?: boolean // the second mount serves a replica of the drive
}

export interface NativeHost {
  mnts: string[]
  log (): string
  // the native binding's stats() of each mount
  stats (): Promise<Array<{ inodes: number, pending: number, requests: Record<string, number> }>>
  // SIGTERM: the host unmounts and exits; its exit code, or null if it had
  // to be killed after STOP_MS
  stop (): Promise<number | null>
}

export async function startNativeHost (t: TestContext, opts: NativeHostOptions = {}): Promise<NativeHost> {
  const base = mkdtempSync(join(tmpdir(), 'hyperfs-native-'))
  const mnts = Array.from({ length: opts.mounts ?? 1 }, (_, i) => join(base, `m${i}`))
  for (const m of mnts) mkdirSync(m)
  const args = [SCRIPT, ...mnts.flatMap((m) => ['--mount', m]), '--binding', opts.binding ?? 'native', '--drive', opts.drive ?? 'memory']
  if (opts.files) args.push('--files', String(opts.files))
  if (opts.big) args.push('--big', String(opts.big))
  if (opts.replica) args.push('--replica')

  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'pipe'] })
  let stderr = ''
  let stdout = ''
  child.stderr!.on('data', (d) => { stderr += d })
  child.stdout!.on('data', (d) => { stdout += d })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const stop = async (): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM')
      const timer = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), STOP_MS).unref())
      if (!(await Promise.race([exited.then(() => true), timer]))) {
        child.kill('SIGKILL')
        await exited
      }
    }
    return child.exitCode
  }
  t.after(async () => {
    await stop()
    for (const m of mnts) await clearStaleMount(m).catch(() => {})
    let busy = false
    for (const m of mnts) busy = busy || await isMounted(m)
    if (!busy) rmSync(base, { recursive: true, force: true })
  })

  await waitFor(() => /^ready /m.test(stdout), READY_MS, () => `no "ready" from the host:\n${stderr}`, exited)
  return {
    mnts,
    log: () => stderr,
    stats: async () => {
      const before = stdout.length
      child.kill('SIGUSR2')
      await waitFor(() => /^stats .*\n/m.test(stdout.slice(before)), STATS_MS, () => `no stats from the host:\n${stderr}`, exited)
      const line = stdout.slice(before).split('\n').find((l) => l.startsWith('stats '))!
      return JSON.parse(line.slice('stats '.length))
    },
    stop
  }
}

async function waitFor (ok: () => boolean, ms: number, why: () => string, exited: Promise<void>): Promise<void> {
  let gone = false
  void exited.then(() => { gone = true })
  for (let waited = 0; !ok(); waited += 20) {
    if (gone || waited >= ms) throw new Error(why())
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
