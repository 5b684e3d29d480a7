// Runs the built CLI (bin/hyperfs) as child processes against a temp storage
// folder, and cleans up whatever happens: every daemon of the storage is
// stopped (hyperfs daemon stop, then SIGKILL by pid), every long-running CLI
// process is killed, every mount point is detached (fusermount -uz) and the
// folders are removed only once nothing is mounted on them.
// HYPERFS_STORAGE is overridden too, so ~/.local/share is never touched.
import { spawn, type ChildProcess } from 'node:child_process'
import { run, type RunResult } from '../helpers/run.js'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, type TestContext } from 'node:test'
import { isMounted } from '../../src/fuse/stale-mount.js'

export const BIN = fileURLToPath(new URL('../../../bin/hyperfs', import.meta.url))

export const FUSE_SKIP: string | false = existsSync('/dev/fuse') ? false : 'FUSE is not available here (no /dev/fuse)'

export { run, type RunResult } from '../helpers/run.js'

export interface Node {
  storage: string
  env: NodeJS.ProcessEnv
  hyperfs (args: string[], opts?: { timeout?: number, input?: string }): Promise<RunResult>
  // a CLI process that keeps running (seed, mount --foreground); killed at teardown
  spawn (args: string[]): { child: ChildProcess, output: () => string, exited: Promise<number | null> }
  daemonPid (): number | null
}

export interface Sandbox {
  dir: string
  node (name: string): Node
  mountpoint (name: string): string
}

export function sandbox (t: TestContext): Sandbox {
  return makeSandbox((fn) => t.after(fn))
}

// One sandbox for a whole test file (its daemons are reused by the file's
// tests, which start fewer processes), cleaned up after the file's last test.
export function fileSandbox (): Sandbox {
  return makeSandbox((fn) => after(fn))
}

function makeSandbox (teardown: (fn: () => Promise<void>) => void): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'hyperfs-cli-'))
  const nodes: Node[] = []
  const mounts: string[] = []
  const children: ChildProcess[] = []
  const pids = new Set<number>()

  teardown(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
    for (const n of nodes) {
      const pid = n.daemonPid()
      if (pid !== null) pids.add(pid)
      await n.hyperfs(['daemon', 'stop'], { timeout: 15_000 })
    }
    for (const pid of pids) if (alive(pid)) try { process.kill(pid, 'SIGKILL') } catch {}
    for (const m of mounts) {
      if (await isMounted(m)) await run('fusermount', ['-uz', m], { timeout: 10_000 })
    }
    let busy = false
    for (const m of mounts) if (await isMounted(m)) busy = true
    if (!busy) rmSync(dir, { recursive: true, force: true })
  })

  return {
    dir,
    node (name) {
      const storage = join(dir, name)
      const env = { ...process.env, HYPERFS_STORAGE: storage, HYPERFS_LOCAL_ONLY: '1' }
      const daemonPid = (): number | null => {
        try {
          const pid = Number(readFileSync(join(storage, 'daemon.lock'), 'utf8').trim())
          return pid > 0 ? pid : null
        } catch { return null }
      }
      const node: Node = {
        storage,
        env,
        daemonPid,
        hyperfs: async (args, opts = {}) => {
          const r = await run(process.execPath, [BIN, ...args, ...localOnly(args), '--storage', storage], { env, timeout: opts.timeout ?? 30_000, input: opts.input })
          const pid = daemonPid()
          if (pid !== null) pids.add(pid)
          // a command killed at its timeout says nothing itself: what its
          // daemon logged is what a failure message can show
          if (r.code === null) r.stderr += `\n[killed after ${opts.timeout ?? 30_000} ms; the end of ${storage}/daemon.log:]\n${logTail(storage)}`
          return r
        },
        spawn: (args) => {
          const child = spawn(process.execPath, [BIN, ...args, ...localOnly(args), '--storage', storage], { env, stdio: ['ignore', 'pipe', 'pipe'] })
          children.push(child)
          let output = ''
          child.stdout!.on('data', (d) => { output += d })
          child.stderr!.on('data', (d) => { output += d })
          const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
          return { child, output: () => output, exited }
        }
      }
      nodes.push(node)
      return node
    },
    mountpoint (name) {
      const m = join(dir, name)
      mkdirSync(m, { recursive: true })
      mounts.push(m)
      return m
    }
  }
}

// Tests never reach the public DHT or multicast on the host's network: MDNS is
// always off, and the DHT too unless the test names a local --bootstrap.
function localOnly (args: string[]): string[] {
  if (args.includes('--help') || args.includes('-h')) return []
  const extra = ['--no-mdns']
  if (!args.includes('--bootstrap') && !args.includes('--dht')) extra.push('--no-dht')
  return extra
}

function logTail (storage: string, lines = 30): string {
  try {
    return readFileSync(join(storage, 'daemon.log'), 'utf8').trim().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no daemon.log)'
  }
}

export function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

// Waits (bounded) for a condition that another process brings about.
export async function eventually (what: string, fn: () => Promise<boolean> | boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await fn()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`timed out after ${ms} ms waiting for: ${what}`)
}

export function lastLine (s: string): string {
  return s.trim().split('\n').pop() ?? ''
}
