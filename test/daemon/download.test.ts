// Issue 12 through the real CLI and daemons over 127.0.0.1: node A serves a
// drive with a local drive mounted in it and a drive that no peer serves
// (made by node C, whose daemon is stopped and never met B); node B
// downloads it. The drive nobody serves fails on its own, after the rest.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lastLine, sandbox, type Sandbox, type Node } from '../cli/cli-harness.js'
import { DownloadProgress } from '../../src/daemon/download-progress.js'
import type { DownloadStatus } from '../../src/drive/types.js'
import { HyperfsError } from '../../src/errors.js'

const TIMEOUT = '3000' // ms B waits for a peer's blocks

function folder (box: Sandbox, name: string, files: Record<string, Buffer | string>): string {
  const dir = join(box.dir, name)
  for (const [p, data] of Object.entries(files)) {
    mkdirSync(join(dir, p, '..'), { recursive: true })
    writeFileSync(join(dir, p), data)
  }
  return dir
}

async function create (node: Node, dir: string, extra: string[] = []): Promise<string> {
  const r = await node.hyperfs(['create', dir, ...extra])
  assert.equal(r.code, 0, r.stderr)
  return lastLine(r.stdout)
}

// many files, in ranges with holes between them, and a file of more blocks than one batch of gets
function manyFiles (): Record<string, Buffer | string> {
  const files: Record<string, Buffer | string> = { 'folder/big.bin': Buffer.alloc(20 * 64 * 1024, 7) }
  for (let i = 0; i < 30; i++) files[`folder/sub/f${i}.txt`] = `file ${i}\n`
  return files
}

test('download of a drive whose nested mount no peer serves downloads the rest, reports that mount, and exits 1; a folder of a nested mount counts its files; no listener leak', { timeout: 120_000 }, async (t) => {
  const box = sandbox(t)
  const c = box.node('c')
  const lost = await create(c, folder(box, 'lost', { 'lost.txt': 'nobody serves this\n' }))
  assert.equal((await c.hyperfs(['daemon', 'stop'])).code, 0)

  const a = box.node('a')
  const top = await create(a, folder(box, 'top', { 'a.txt': 'top a\n', 'dir/b.bin': Buffer.alloc(200 * 1024, 1) }), ['--listen', '127.0.0.1:0'])
  const local = await create(a, folder(box, 'local', manyFiles()))
  // rewritten files leave holes in the local drive's content: several ranges
  const rewrites: Record<string, string> = {}
  for (let i = 0; i < 30; i += 3) rewrites[`f${i}.txt`] = `rewritten ${i}\n`
  const put = await a.hyperfs(['put', local, '/folder/sub', folder(box, 'rewrites', rewrites)])
  assert.equal(put.code, 0, put.stderr)
  for (const [path, target] of [['/nested-local', local], ['/lost', lost]]) {
    const m = await a.hyperfs(['mkmount', top, path, target])
    assert.equal(m.code, 0, m.stderr)
  }
  const address = JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout).network.listening[0]

  const b = box.node('b')
  const folderOnly = await b.hyperfs(['download', top, '/nested-local/folder', '--peer', address, '--timeout', TIMEOUT, '--json'], { timeout: 60_000 })
  assert.equal(folderOnly.code, 0, folderOnly.stderr)
  const f = JSON.parse(folderOnly.stdout)
  assert.equal(f.files, 31)
  assert.equal(f.bytes, f.total)
  assert.equal(f.drives.length, 1)
  assert.equal(f.drives[0].path, '/nested-local/folder')

  const mount = await b.hyperfs(['download', top, '/nested-local', '--timeout', TIMEOUT, '--json'], { timeout: 60_000 })
  assert.equal(mount.code, 0, mount.stderr)
  assert.equal(JSON.parse(mount.stdout).files, 31)

  const whole = await b.hyperfs(['download', top, '--timeout', TIMEOUT], { timeout: 60_000 })
  assert.equal(whole.code, 1, 'something failed')
  assert.match(whole.stderr, /1 of 3 drives failed/)
  assert.match(whole.stderr, /failed \/lost \(hyper:\/\/[a-z0-9]+\): DRIVE_NOT_FOUND/)
  assert.match(whole.stderr, /done \/ \(hyper:\/\/[a-z0-9]+\): 2 files/)
  assert.match(whole.stderr, /done \/nested-local \(hyper:\/\/[a-z0-9]+\): 31 files/)

  // the rest was downloaded: it reads with A gone
  assert.equal((await a.hyperfs(['daemon', 'stop'])).code, 0)
  const info = async (key: string): Promise<any> => JSON.parse((await b.hyperfs(['info', key, '--json', '--timeout', TIMEOUT])).stdout)
  assert.equal((await info(top)).percentLocal, 100, top)
  // held here counts bytes, not blocks: what the local drive's files were
  // before they were rewritten is in no version the download fetched
  const l = await info(local)
  let before = 0
  for (const name of Object.keys(rewrites)) before += Buffer.byteLength(`file ${name.slice(1, -4)}\n`)
  assert.equal(l.byteLength - l.localBytes, before)
  const cat = await b.hyperfs(['cat', top, '/nested-local/folder/sub/f3.txt', '--timeout', '1000'])
  assert.equal(cat.stdout, 'rewritten 3\n')

  const log = readFileSync(join(b.storage, 'daemon.log'), 'utf8')
  assert.match(log, /\/lost .*failed: DRIVE_NOT_FOUND/)
  assert.doesNotMatch(log, /MaxListenersExceededWarning/)
})

test('download progress sums every drive, names the one being fetched, and lists failed drives first', () => {
  const p = new DownloadProgress('/')
  const key = (n: number): Buffer => Buffer.alloc(32, n)
  const status = (path: string, n: number, s: Partial<DownloadStatus>): DownloadStatus =>
    ({ path, key: key(n), kind: 'drive', files: 0, bytes: 0, total: 0, state: 'listing', error: null, ...s })
  p.update(status('/', 1, { files: 2, bytes: 10, total: 10, state: 'done' }))
  p.update(status('/lost', 2, { state: 'failed', error: HyperfsError.from('DRIVE_NOT_FOUND', 'no peer sent this drive') }))
  p.update(status('/m', 3, { files: 3, bytes: 5, total: 20, state: 'fetching' }))
  const tick = p.tick(1)
  assert.deepEqual([tick.files, tick.bytes, tick.total, tick.peers], [5, 15, 30, 1])
  assert.equal(tick.drive?.path, '/m')
  assert.equal(tick.drive?.key, key(3).toString('hex'))
  const totals = p.totals(1)
  assert.deepEqual(totals.drives.map((d) => [d.path, d.state, d.error?.code ?? null]), [['/', 'done', null], ['/lost', 'failed', 'DRIVE_NOT_FOUND'], ['/m', 'fetching', null]])
  assert.deepEqual(p.failed().map((s) => s.path), ['/lost'])
  const lines = p.describe().split('\n')
  assert.match(lines[0], /^1 of 3 drives failed/)
  assert.match(lines[1], /^ {2}failed \/lost \(hyper:\/\/\w+\): DRIVE_NOT_FOUND: no peer sent this drive$/)
  assert.equal(lines.length, 4)
})
