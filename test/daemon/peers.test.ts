// Two daemons with separate storage folders on 127.0.0.1: A serves a drive
// with --listen, B reaches it with --peer. Reads through B's mount are done
// by real programs started from the test process, never by a daemon.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, FUSE_SKIP, eventually, lastLine, run, sandbox, type Node, type Sandbox } from '../cli/cli-harness.js'

async function serveFolder (box: Sandbox, files: Record<string, Buffer>): Promise<{ a: Node, link: string, address: string }> {
  const src = join(box.dir, 'src')
  mkdirSync(src, { recursive: true })
  for (const [name, data] of Object.entries(files)) writeFileSync(join(src, name), data)
  const a = box.node('a')
  const created = await a.hyperfs(['create', src, '--listen', '127.0.0.1:0'])
  assert.equal(created.code, 0, created.stderr)
  const status = JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout)
  return { a, link: lastLine(created.stdout), address: status.network.listening[0] }
}

function sha256 (b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

test('a drive mounted by key from a peer is read lazily through the mount, and fails with EIO (not a hang) once the peer is gone', { skip: FUSE_SKIP, timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const big = randomBytes(2 * 1024 * 1024 + 1234)
  const other = randomBytes(300 * 1024)
  const { a, link, address } = await serveFolder(box, { 'big.bin': big, 'other.bin': other, 'hello.txt': Buffer.from('hello from a\n') })
  const seed = a.spawn(['seed', link])
  await eventually('A seeds', () => /seeding hyper:\/\//.test(seed.output()))

  const b = box.node('b')
  const m = box.mountpoint('m')
  const mounted = await b.hyperfs(['mount', link, m, '--peer', address, '--read-timeout', '1500'])
  assert.equal(mounted.code, 0, mounted.stderr)
  assert.match(mounted.stdout, /read-only/)

  const before = JSON.parse((await b.hyperfs(['info', link, '--json'])).stdout)
  assert.equal(before.writable, false)
  assert.ok(before.peers >= 1, 'B is connected to A')
  assert.ok(before.byteLength >= big.length + other.length)
  assert.ok(before.localBytes < big.length, `nothing is fetched before it is read (${before.localBytes} bytes held)`)

  const cat = await run('cat', [join(m, 'hello.txt')])
  assert.equal(cat.code, 0, cat.stderr)
  assert.equal(cat.stdout, 'hello from a\n')
  const sum = await run('sha256sum', [join(m, 'big.bin')])
  assert.equal(sum.code, 0, sum.stderr)
  assert.equal(sum.stdout.split(' ')[0], sha256(big))
  const write = await run('sh', ['-c', `echo x > ${join(m, 'new.txt')}`])
  assert.notEqual(write.code, 0, 'a drive created elsewhere is read-only')

  const after = JSON.parse((await b.hyperfs(['info', link, '--json'])).stdout)
  assert.ok(after.localBytes >= big.length, 'the bytes read are now held by B')
  assert.ok(after.localBytes < after.byteLength, 'the file never read is still not held')

  seed.child.kill('SIGTERM')
  assert.equal(await seed.exited, 0)
  assert.equal((await a.hyperfs(['daemon', 'stop'])).code, 0)
  const missing = await run('cat', [join(m, 'other.bin')], { timeout: 30_000 })
  assert.notEqual(missing.code, null, 'the read ended instead of hanging')
  assert.notEqual(missing.code, 0)
  assert.match(missing.stderr, /Input\/output error/)
  // what was read before still reads
  const again = await run('sha256sum', [join(m, 'big.bin')])
  assert.equal(again.stdout.split(' ')[0], sha256(big))
})

test('download fetches a whole drive with its totals, and it then reads with the peer gone', { timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const big = randomBytes(6 * 1024 * 1024 + 7) // more than 64 blocks of 64 KiB
  const { a, link, address } = await serveFolder(box, { 'big.bin': big, 'small.txt': Buffer.from('small\n') })
  const b = box.node('b')
  const dl = await b.hyperfs(['download', link, '--peer', address, '--json'])
  assert.equal(dl.code, 0, dl.stderr)
  const r = JSON.parse(dl.stdout)
  assert.equal(r.files, 2)
  assert.equal(r.total, big.length + 6)
  assert.equal(r.bytes, r.total)
  const human = await b.hyperfs(['download', link])
  assert.match(human.stdout, /downloaded 6\.0 MiB in 2 files/)

  assert.equal((await a.hyperfs(['daemon', 'stop'])).code, 0)
  const info = JSON.parse((await b.hyperfs(['info', link, '--json'])).stdout)
  assert.equal(info.percentLocal, 100)
  // binary through a pipe, as a user would: hyperfs cat ... | sha256sum
  const cat = await run('bash', ['-c', `set -o pipefail; "$0" "$1" cat "$2" /big.bin --timeout 1000 --storage "$3" | sha256sum`,
    process.execPath, BIN, link, b.storage], { env: b.env })
  assert.equal(cat.code, 0, cat.stderr)
  assert.equal(cat.stdout.split(' ')[0], sha256(big))
})

test('a peer that is not listening yet is redialled and reached once it is', { timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const port = await freePort()
  const b = box.node('b')
  assert.equal((await b.hyperfs(['daemon', 'start', '--peer', `127.0.0.1:${port}`])).code, 0)
  const status = JSON.parse((await b.hyperfs(['daemon', 'status', '--json'])).stdout)
  assert.equal(status.network.peers[0].connected, false)

  const a = box.node('a')
  const src = join(box.dir, 'src')
  mkdirSync(src)
  writeFileSync(join(src, 'late.txt'), 'worth the wait\n')
  const created = await a.hyperfs(['create', src, '--listen', `127.0.0.1:${port}`])
  assert.equal(created.code, 0, created.stderr)
  const cat = await b.hyperfs(['cat', lastLine(created.stdout), '/late.txt', '--timeout', '20000'])
  assert.equal(cat.code, 0, cat.stderr)
  assert.equal(cat.stdout, 'worth the wait\n')
})

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port
      s.close(() => resolve(port))
    })
  })
}

test('a file the writer adds later appears in a reader\'s mount', { skip: FUSE_SKIP, timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const { a, link, address } = await serveFolder(box, { 'one.txt': Buffer.from('one\n') })
  const b = box.node('b')
  const m = box.mountpoint('m')
  const mounted = await b.hyperfs(['mount', link, m, '--peer', address])
  assert.equal(mounted.code, 0, mounted.stderr)
  assert.equal((await run('cat', [join(m, 'one.txt')])).stdout, 'one\n')
  // listed before the change: the kernel may keep this listing (cache_readdir)
  assert.equal((await run('ls', [m])).stdout, 'one.txt\n')
  const later = join(box.dir, 'later.txt')
  writeFileSync(later, 'written later\n')
  const put = await a.hyperfs(['put', link, '/later.txt', later])
  assert.equal(put.code, 0, put.stderr)
  await eventually('the new file shows in the mount\'s listing', async () => (await run('ls', [m])).stdout === 'later.txt\none.txt\n')
  assert.equal((await run('cat', [join(m, 'later.txt')])).stdout, 'written later\n')
})
