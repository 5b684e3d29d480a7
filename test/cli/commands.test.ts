// The drive commands through the real CLI and its daemon, on one storage.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseKey } from '../../src/cli/drive-key.js'
import { sandbox, lastLine } from './cli-harness.js'

test('create imports a folder and prints hyper://KEY last; ls, cat, info, log, put, rm and mkdir work on it', { timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const src = join(box.dir, 'src')
  mkdirSync(join(src, 'docs'), { recursive: true })
  writeFileSync(join(src, 'hello.txt'), 'hello world\n')
  writeFileSync(join(src, 'docs', 'readme.md'), '# readme\n')

  const created = await a.hyperfs(['create', src])
  assert.equal(created.code, 0, created.stderr)
  const link = lastLine(created.stdout)
  assert.match(link, /^hyper:\/\/[ybndrfg8ejkmcpqxot1uwisza345h769]{52}$/)
  assert.match(created.stdout, /imported 2 files/)

  const ls = await a.hyperfs(['ls', link])
  assert.equal(ls.code, 0, ls.stderr)
  assert.deepEqual(ls.stdout.trim().split('\n'), ['docs/', 'hello.txt'])

  const lsr = await a.hyperfs(['ls', link, '/', '--recursive', '--json'])
  assert.equal(lsr.code, 0, lsr.stderr)
  const entries = JSON.parse(lsr.stdout)
  assert.deepEqual(entries.map((e: { name: string }) => e.name), ['docs', 'docs/readme.md', 'hello.txt'])
  assert.equal(entries.find((e: { name: string }) => e.name === 'hello.txt').size, 12)

  const cat = await a.hyperfs(['cat', link, '/docs/readme.md'])
  assert.equal(cat.code, 0, cat.stderr)
  assert.equal(cat.stdout, '# readme\n')

  const put = await a.hyperfs(['put', link, '/notes/new.txt'], { input: 'from stdin\n' })
  assert.equal(put.code, 0, put.stderr)
  const local = join(box.dir, 'local.bin')
  writeFileSync(local, Buffer.alloc(200_000, 3))
  const putFile = await a.hyperfs(['put', link, '/bin/local.bin', local, '--json'])
  assert.equal(putFile.code, 0, putFile.stderr)
  assert.equal(JSON.parse(putFile.stdout).bytes, 200_000)
  assert.equal((await a.hyperfs(['cat', link, '/notes/new.txt'])).stdout, 'from stdin\n')

  const rm = await a.hyperfs(['rm', link, '/hello.txt'])
  assert.equal(rm.code, 0, rm.stderr)
  const gone = await a.hyperfs(['cat', link, '/hello.txt'])
  assert.equal(gone.code, 1)
  assert.match(gone.stderr, /hello\.txt/)
  const notEmpty = await a.hyperfs(['rm', link, '/docs'])
  assert.notEqual(notEmpty.code, 0, 'a folder with files is not removed without -r')
  assert.equal((await a.hyperfs(['rm', link, '/docs', '-r'])).code, 0)
  assert.equal((await a.hyperfs(['mkdir', link, '/empty'])).code, 0)
  assert.deepEqual((await a.hyperfs(['ls', link])).stdout.trim().split('\n'), ['bin/', 'empty/', 'notes/'])

  const info = await a.hyperfs(['info', link, '--json'])
  assert.equal(info.code, 0, info.stderr)
  const i = JSON.parse(info.stdout)
  assert.equal(i.link, link)
  assert.equal(i.writable, true)
  assert.equal(i.percentLocal, 100)
  assert.equal(i.byteLength >= 200_000, true)
  assert.match(i.discoveryKey, /^[0-9a-f]{64}$/)
  const human = await a.hyperfs(['info', link])
  for (const label of ['key:', 'discovery key:', 'version:', 'size:', 'held here:', 'peers:']) assert.ok(human.stdout.includes(label), label)

  const log = await a.hyperfs(['log', link, '--json'])
  assert.equal(log.code, 0, log.stderr)
  const history = JSON.parse(log.stdout) as Array<{ version: number, type: string, name: string }>
  assert.ok(history.some((h) => h.type === 'put' && h.name.endsWith('hello.txt')))
  assert.ok(history.some((h) => h.type === 'del' && h.name.endsWith('hello.txt')))
  const versions = history.map((h) => h.version)
  assert.deepEqual(versions, [...versions].sort((x, y) => x - y))

  // the old version still has the removed file
  const putVersion = history.find((h) => h.type === 'put' && h.name.endsWith('hello.txt'))!.version
  const old = await a.hyperfs(['cat', link, '/hello.txt', '--version', String(putVersion)])
  assert.equal(old.code, 0, old.stderr)
  assert.equal(old.stdout, 'hello world\n')
})

test('create prints JSON with --json, and an empty drive can be created without a folder', { timeout: 60_000 }, async (t) => {
  const a = sandbox(t).node('a')
  const r = await a.hyperfs(['create', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const out = JSON.parse(r.stdout)
  assert.match(out.key, /^hyper:\/\//)
  assert.equal(out.files, 0)
  const plain = await a.hyperfs(['create'])
  assert.match(lastLine(plain.stdout), /^hyper:\/\//)
  assert.equal((await a.hyperfs(['ls', lastLine(plain.stdout)])).stdout, '')
})

test('keys are accepted as z-base-32 or hex, with or without hyper://', { timeout: 60_000 }, async (t) => {
  const a = sandbox(t).node('a')
  const link = lastLine((await a.hyperfs(['create'])).stdout)
  const hex = parseKey(link).toString('hex')
  for (const form of [link, link.slice('hyper://'.length), hex, 'hyper://' + hex, hex.toUpperCase()]) {
    const r = await a.hyperfs(['info', form, '--json'])
    assert.equal(r.code, 0, `${form}: ${r.stderr}`)
    assert.equal(JSON.parse(r.stdout).link, link)
  }
})

test('a bad key fails with exit code 2 and a message that says what a key looks like', { timeout: 60_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const cases = [
    ['ls', 'hyper://not-a-key'],
    ['cat', 'abc', '/x'],
    ['info', 'f'.repeat(63)],
    ['mount', 'y'.repeat(51), join(box.dir, 'mnt')]
  ]
  for (const args of cases) {
    const r = await a.hyperfs(args)
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, /not a drive key.*z-base-32.*hex/, args.join(' '))
  }
  assert.equal(a.daemonPid(), null, 'no daemon was started for a command with a bad key')
})

test('a drive nobody has fails with a clear error within the command\'s --timeout instead of hanging', { timeout: 60_000 }, async (t) => {
  const a = sandbox(t).node('a')
  assert.equal((await a.hyperfs(['daemon', 'start'])).code, 0) // with the default timeout
  const r = await a.hyperfs(['ls', '1'.repeat(64), '--timeout', '1000'])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /no peer sent it within 1000 ms/)
  assert.match(r.stderr, /--peer/)
})

test('unknown commands and options are usage errors (exit 2)', { timeout: 30_000 }, async (t) => {
  const a = sandbox(t).node('a')
  const unknown = await a.hyperfs(['frobnicate'])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /--help/)
  const badOption = await a.hyperfs(['ls', 'x', '--no-such-option'])
  assert.equal(badOption.code, 2)
  const badPeer = await a.hyperfs(['ls', 'x'.repeat(64), '--peer', 'nohostport'])
  assert.equal(badPeer.code, 2)
  assert.match(badPeer.stderr, /HOST:PORT/)
  const none = await a.hyperfs([])
  assert.equal(none.code, 2)
})

test('mkmount puts one drive inside another, and ls and cat reach through it', { timeout: 60_000 }, async (t) => {
  const a = sandbox(t).node('a')
  const outer = lastLine((await a.hyperfs(['create'])).stdout)
  const inner = lastLine((await a.hyperfs(['create'])).stdout)
  assert.equal((await a.hyperfs(['put', inner, '/inside.txt'], { input: 'nested\n' })).code, 0)
  const mk = await a.hyperfs(['mkmount', outer, '/lib', inner])
  assert.equal(mk.code, 0, mk.stderr)
  const ls = await a.hyperfs(['ls', outer, '--json'])
  const [entry] = JSON.parse(ls.stdout)
  assert.equal(entry.type, 'mount')
  assert.equal(entry.mount.key, inner)
  assert.equal((await a.hyperfs(['cat', outer, '/lib/inside.txt'])).stdout, 'nested\n')
  assert.equal((await a.hyperfs(['rm', outer, '/lib'])).code, 0)
  assert.equal((await a.hyperfs(['ls', outer])).stdout, '')
})
