import { execFile } from 'node:child_process'

export interface RunResult {
  code: number | null
  stdout: string
  stderr: string
}

// Runs a real program with a bound on its time (SIGKILL past it), so a hang
// fails the test instead of stalling the suite. Never rejects: tests assert
// on the exit code (null when killed).
export function run (cmd: string, args: string[], opts: { cwd?: string, timeout?: number, env?: NodeJS.ProcessEnv, input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, {
      cwd: opts.cwd,
      timeout: opts.timeout ?? 60_000,
      killSignal: 'SIGKILL',
      maxBuffer: 64 * 1024 * 1024,
      env: opts.env ?? process.env
    }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : null) : 0
      resolve({ code, stdout: String(stdout), stderr: String(stderr) })
    })
    if (opts.input !== undefined) child.stdin!.end(opts.input)
    else child.stdin!.end()
  })
}
