// What the CLI prints around its commands: quiet when its reader goes away,
// its version, and a hint instead of a stack when it has not been built.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, fileSandbox, lastLine, run, type Node } from './cli-harness.js'

const box = fileSandbox()
const a = box.node('a')

// Runs a command whose stdout is closed before it writes anything (as when
// `| head` has exited), and returns its exit code and stderr.
function withClosedStdout (node: Node, args: string[]): Promise<{ code: number | null, stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args, '--no-dht', '--no-mdns', '--storage', node.storage], { env: node.env, stdio: ['ignore', 'pipe', 'pipe'] })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000)
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stderr }) })
  })
}

test('a command whose reader has gone stops quietly: cat, ls -r and daemon status', { timeout: 90_000 }, async () => {
  const src = join(box.dir, 'src')
  mkdirSync(join(src, 'sub'), { recursive: true })
  writeFileSync(join(src, 'big.bin'), randomBytes(3 * 1024 * 1024))
  for (let i = 0; i < 50; i++) writeFileSync(join(src, 'sub', `file-${i}.txt`), `${i}\n`)
  const created = await a.hyperfs(['create', src])
  assert.equal(created.code, 0, created.stderr)
  const link = lastLine(created.stdout)
  for (const args of [['cat', link, '/big.bin'], ['ls', '-r', link], ['daemon', 'status']]) {
    const r = await withClosedStdout(a, args)
    assert.equal(r.stderr, '', `${args[0]}: nothing on stderr`)
    assert.equal(r.code, 0, args.join(' '))
  }
  // and through a real pipe, as a user types it
  const head = await run('bash', ['-c', '"$0" "$1" cat "$2" /big.bin --storage "$3" --no-dht --no-mdns | head -c 10 | wc -c; echo "status ${PIPESTATUS[0]}"',
    process.execPath, BIN, link, a.storage], { env: a.env })
  assert.equal(head.stderr, '')
  assert.deepEqual(head.stdout.trim().split('\n').map((s) => s.trim()), ['10', 'status 0'])
})

test('hyperfs --version and hyperfs version print the package version', { timeout: 30_000 }, async () => {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'))
  for (const args of [['--version'], ['version']]) {
    const r = await run(process.execPath, [BIN, ...args], { env: a.env })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, version + '\n')
  }
})

test('hyperfs run before the build says to run npm run build, without a stack', { timeout: 30_000 }, async () => {
  // a checkout with bin/ but no dist/
  const bin = join(box.dir, 'unbuilt', 'bin')
  mkdirSync(bin, { recursive: true })
  copyFileSync(BIN, join(bin, 'hyperfs'))
  const r = await run(process.execPath, [join(bin, 'hyperfs'), 'ls', 'x'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /npm run build/)
  assert.doesNotMatch(r.stderr, /ERR_MODULE_NOT_FOUND|\n\s+at /)
})
