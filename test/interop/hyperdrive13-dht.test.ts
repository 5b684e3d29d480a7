// hyperdrive@13 drives between the real stack and the hyperfs CLI over a
// local DHT testnet, each side knowing only the drive's key:
// - a drive the real hyperdrive@13 (corestore@7, Hyperswarm 4) serves mounts
//   with `hyperfs mount KEY DIR` and matches byte for byte, and a file its
//   writer adds later appears in the mount;
// - a drive made with `hyperfs create --format hyperdrive13` and seeded is
//   read completely by the real hyperdrive@13.
// The real DHT binds 127.0.0.1 (it would take 0.0.0.0), ours gets --host.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { lstatSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { oracle } from '../helpers/oracle.js'
import { prng, randomBuffer, tmpDir } from '../helpers/tmp.js'
import { onTeardown } from '../swarm/teardown.js'
import { FUSE_SKIP, eventually, lastLine, run, sandbox } from '../cli/cli-harness.js'
import { parseKey } from '../../src/cli/drive-key.js'

const RealHyperdrive = oracle('hyperdrive')
const Corestore = oracle('corestore')
const Hyperswarm = oracle('hyperswarm')
const RealDHT = oracle('hyperdht')
const createTestnet = oracle('hyperdht/testnet')
const LOCAL = '127.0.0.1'
const MiB = 1024 * 1024
// ms the CLI waits for peers; the real reader's wait for a block
const PEER_TIMEOUT = 30_000
// characters of a daemon's log shown when an assertion fails
const LOG_TAIL = 4000

function sha256 (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

async function testnet (t: TestContext): Promise<{ nodes: Array<{ host: string, port: number }>, flag: string }> {
  const net = await createTestnet(5, { host: LOCAL })
  onTeardown(t, () => net.destroy())
  return { nodes: net.bootstrap, flag: net.bootstrap.map((b: { host: string, port: number }) => `${b.host}:${b.port}`).join(',') }
}

// A real Hyperswarm on the testnet, replicating `store` on every connection.
function realSwarm (t: TestContext, bootstrap: unknown[], store: any): any {
  const swarm = new Hyperswarm({ dht: new RealDHT({ bootstrap, host: LOCAL }) })
  swarm.on('connection', (conn: any) => { conn.on('error', () => {}); store.replicate(conn) })
  onTeardown(t, async () => { await swarm.destroy(); await swarm.dht.destroy() })
  return swarm
}

// the end of a daemon's log, for the message of a failed assertion
function daemonLog (storage: string): string {
  try {
    return '\ndaemon.log:\n' + readFileSync(join(storage, 'daemon.log'), 'utf8').slice(-LOG_TAIL)
  } catch {
    return ''
  }
}

async function writeStream (drive: any, path: string, chunks: Buffer[]): Promise<void> {
  const ws = drive.createWriteStream(path)
  await new Promise<void>((resolve, reject) => {
    ws.on('error', reject)
    ws.on('close', resolve)
    for (const c of chunks) ws.write(c)
    ws.end()
  })
}

test('a drive the real hyperdrive@13 serves mounts by key with hyperfs mount and matches byte for byte', { skip: FUSE_SKIP, timeout: 180_000 }, async (t) => {
  const net = await testnet(t)
  const store = new Corestore(tmpDir(t))
  onTeardown(t, () => store.close())
  const w = new RealHyperdrive(store)
  await w.ready()
  onTeardown(t, () => w.close())
  const rand = prng(9)
  const files: Record<string, Buffer> = {
    '/readme.txt': Buffer.from('served by the real hyperdrive\n'),
    '/big.bin': randomBuffer(rand, 6 * MiB + 77),
    '/nested/deep/folder/data.bin': randomBuffer(rand, 300_000),
    '/nested/side.txt': Buffer.from('side\n'),
    '/ünïcødé/名前.txt': Buffer.from('名前 ✓\n'),
    '/bin/run.sh': Buffer.from('#!/bin/sh\necho hi\n')
  }
  for (const [path, data] of Object.entries(files)) await w.put(path, data, path === '/bin/run.sh' ? { executable: true } : {})
  await w.symlink('/link', '/readme.txt')
  // blocks of any size: each write of a stream is one block
  const parts = [Buffer.alloc(10, 1), randomBuffer(rand, 100_000), Buffer.alloc(3, 2), randomBuffer(rand, 70_000)]
  await writeStream(w, '/streamed.bin', parts)
  files['/streamed.bin'] = Buffer.concat(parts)

  const swarm = realSwarm(t, net.nodes, store)
  await swarm.join(w.discoveryKey, { server: true, client: false }).flushed()

  const box = sandbox(t)
  const b = box.node('b')
  const m = box.mountpoint('m')
  const key = w.key.toString('hex')
  const mounted = await b.hyperfs(['mount', key, m, '--bootstrap', net.flag, '--host', LOCAL, '--timeout', String(PEER_TIMEOUT)], { timeout: 90_000 })
  assert.equal(mounted.code, 0, mounted.stderr + mounted.stdout)

  await t.test('every file reads back with the writer\'s bytes (sha256sum through the mount)', async () => {
    const paths = Object.keys(files)
    const r = await run('sha256sum', paths.map((p) => join(m, p)), { timeout: 120_000 })
    assert.equal(r.code, 0, r.stderr + daemonLog(b.storage))
    assert.deepEqual(r.stdout.trim().split('\n').map((l) => l.split(' ')[0]), paths.map((p) => sha256(files[p])))
  })

  await t.test('folders, unicode names, the exec bit and the symlink show as the writer made them', async () => {
    assert.deepEqual((await readdir(m)).sort(), ['big.bin', 'bin', 'link', 'nested', 'readme.txt', 'streamed.bin', 'ünïcødé'])
    assert.deepEqual((await readdir(join(m, 'nested'))).sort(), ['deep', 'side.txt'])
    assert.deepEqual(await readdir(join(m, 'nested', 'deep')), ['folder'])
    assert.deepEqual(await readdir(join(m, 'ünïcødé')), ['名前.txt'])
    assert.ok(lstatSync(join(m, 'nested', 'deep')).isDirectory())
    assert.equal(lstatSync(join(m, 'bin', 'run.sh')).mode & 0o111, 0o111, 'executable')
    assert.equal(lstatSync(join(m, 'readme.txt')).mode & 0o111, 0, 'not executable')
    assert.ok(lstatSync(join(m, 'link')).isSymbolicLink())
    assert.equal(readlinkSync(join(m, 'link')), '/readme.txt')
    const sh = await run(join(m, 'bin', 'run.sh'), [])
    assert.equal(sh.stdout, 'hi\n', sh.stderr)
  })

  await t.test('a file the writer adds later appears in the mount', async () => {
    const later = randomBuffer(rand, 200_000)
    await w.put('/later/added.bin', later)
    let seen: Buffer | null = null
    await eventually('the new file shows in the mount', async () => {
      try { seen = await readFile(join(m, 'later', 'added.bin')) } catch { return false }
      return seen.length === later.length
    }, 60_000)
    assert.equal(sha256(seen!), sha256(later))
  })

  // (a failed test leaves this to the sandbox, whose daemon stop unmounts)
  assert.equal((await b.hyperfs(['unmount', m])).code, 0)
})

test('a drive made with hyperfs create --format hyperdrive13 reads completely in the real hyperdrive@13, over the DHT, by key alone', { timeout: 180_000 }, async (t) => {
  const net = await testnet(t)
  const box = sandbox(t)
  const rand = prng(10)
  const src = join(box.dir, 'src')
  const files: Record<string, Buffer> = {
    '/readme.txt': Buffer.from('made by hyperfs\n'),
    '/big.bin': randomBuffer(rand, 5 * MiB + 3),
    '/nested/deep/folder/data.bin': randomBuffer(rand, 200_000),
    '/ünïcødé/名前.txt': Buffer.from('名前 ✓\n'),
    '/bin/run.sh': Buffer.from('#!/bin/sh\necho hi\n'),
    '/zero': Buffer.alloc(0)
  }
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(src, path, '..'), { recursive: true })
    writeFileSync(join(src, path), data, { mode: path === '/bin/run.sh' ? 0o755 : 0o644 })
  }
  symlinkSync('readme.txt', join(src, 'link'))
  mkdirSync(join(src, 'empty'))

  const a = box.node('a')
  const created = await a.hyperfs(['create', src, '--format', 'hyperdrive13', '--bootstrap', net.flag, '--host', LOCAL], { timeout: 60_000 })
  assert.equal(created.code, 0, created.stderr)
  const link = lastLine(created.stdout)
  const seed = a.spawn(['seed', link, '--bootstrap', net.flag, '--host', LOCAL])
  await eventually('A seeds', () => /seeding hyper:\/\//.test(seed.output()))

  // the real reader knows the key and nothing else
  const key = parseKey(link)
  const store = new Corestore(tmpDir(t))
  onTeardown(t, () => store.close())
  const r = new RealHyperdrive(store, key)
  await r.ready()
  onTeardown(t, () => r.close())
  const swarm = realSwarm(t, net.nodes, store)
  swarm.join(r.discoveryKey, { server: false, client: true })
  await swarm.flush()
  await eventually('the real reader has the drive', async () => {
    await r.update({ wait: true })
    return r.version > 1
  }, 60_000)

  for (const [path, data] of Object.entries(files)) {
    const got = await r.get(path, { wait: true, timeout: PEER_TIMEOUT })
    assert.ok(got, `the real reader has ${path}`)
    assert.equal(sha256(got), sha256(data), path)
  }
  assert.equal((await r.entry('/bin/run.sh')).value.executable, true)
  assert.equal((await r.entry('/readme.txt')).value.executable, false)
  assert.equal((await r.entry('/link')).value.linkname, 'readme.txt')
  const list = async (p: string) => { const out: string[] = []; for await (const n of r.readdir(p)) out.push(n); return out.sort() }
  assert.deepEqual(await list('/'), ['big.bin', 'bin', 'empty', 'link', 'nested', 'readme.txt', 'zero', 'ünïcødé'])
  assert.deepEqual(await list('/nested/deep'), ['folder'])
  assert.deepEqual(await list('/ünïcødé'), ['名前.txt'])
  // and all of it: every blob block arrives
  await r.download('/')
  const blobs = (await r.getBlobs()).core
  assert.equal(blobs.contiguousLength, blobs.length)
  // nothing in the source folder that the reader lacks
  const walk = (dir: string, at: string): string[] => readdirSync(dir).flatMap((n) => {
    const st = lstatSync(join(dir, n))
    return st.isDirectory() ? walk(join(dir, n), `${at}${n}/`) : [`${at}${n}`]
  })
  for (const p of walk(src, '/')) assert.ok(await r.entry(p), p)
})
