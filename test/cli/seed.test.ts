// seed ends what it started, --detach keeps a seed in the daemon, and a
// command's --timeout bounds its waits. Two daemons over TCP on 127.0.0.1
// (A holds the drives, B reaches A by address) serve the whole file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseKey } from '../../src/cli/drive-key.js'
import { eventually, fileSandbox, lastLine } from './cli-harness.js'

const box = fileSandbox()
const a = box.node('a')
const b = box.node('b')
let address = ''

async function status (node: typeof b): Promise<any> {
  const r = await node.hyperfs(['daemon', 'status', '--json'])
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout)
}

async function createOnA (name: string, files: Record<string, string>): Promise<string> {
  if (!address) {
    assert.equal((await a.hyperfs(['daemon', 'start', '--listen', '127.0.0.1:0'])).code, 0)
    address = (await status(a)).network.listening[0]
    assert.equal((await b.hyperfs(['daemon', 'start', '--peer', address, '--timeout', '30000'])).code, 0)
  }
  const src = join(box.dir, name)
  for (const [path, data] of Object.entries(files)) {
    mkdirSync(join(src, path, '..'), { recursive: true })
    writeFileSync(join(src, path), data)
  }
  const created = await a.hyperfs(['create', src])
  assert.equal(created.code, 0, created.stderr)
  return lastLine(created.stdout)
}

test('seed of a drive held elsewhere says when it is downloaded, and Ctrl-C ends the seed and its lookup', { timeout: 90_000 }, async () => {
  const link = await createOnA('one', { 'a.txt': 'a\n', 'b.bin': 'b'.repeat(300_000) })
  const hex = parseKey(link).toString('hex')
  const seed = b.spawn(['seed', link])
  await eventually('the download is reported done', () => /downloaded hyper:\/\/\S+ \(.*\); it is held in full/.test(seed.output()))
  assert.match(seed.output(), /seeding hyper:\/\/\S+ \(version \d+, downloading\)/)
  let s = await status(b)
  assert.deepEqual(s.seeding, [hex])
  assert.ok(s.network.topics >= 1)

  seed.child.kill('SIGINT')
  assert.equal(await seed.exited, 0, seed.output())
  await eventually('the seed and the lookup are gone', async () => {
    s = await status(b)
    return s.seeding.length === 0 && s.network.topics === 0
  }, 10_000)
})

test('of two seeds of one drive, ending one leaves it seeded; --detach keeps a seed after its command, until unseed', { timeout: 90_000 }, async () => {
  const link = await createOnA('two', { 'c.txt': 'c\n' })
  const hex = parseKey(link).toString('hex')
  const first = b.spawn(['seed', link])
  const second = b.spawn(['seed', link])
  await eventually('both seed', () => /press Ctrl-C/.test(first.output()) && /press Ctrl-C/.test(second.output()))
  first.child.kill('SIGINT')
  assert.equal(await first.exited, 0)
  assert.deepEqual((await status(b)).seeding, [hex], 'still held by the second')
  second.child.kill('SIGTERM')
  assert.equal(await second.exited, 0)
  await eventually('not seeded', async () => (await status(b)).seeding.length === 0, 10_000)

  const detached = await b.hyperfs(['seed', link, '--detach'])
  assert.equal(detached.code, 0, detached.stderr)
  assert.match(detached.stdout, /hyperfs unseed/)
  assert.deepEqual((await status(b)).seeding, [hex], 'seeded after the command exited')
  const notDetached = await b.hyperfs(['unseed', await createOnA('three', { 'x.txt': 'x\n' })])
  assert.equal(notDetached.code, 1)
  assert.match(notDetached.stderr, /not seeded/)
  const unseed = await b.hyperfs(['unseed', link])
  assert.equal(unseed.code, 0, unseed.stderr)
  const s = await status(b)
  assert.equal(s.seeding.length, 0)
  assert.equal(s.network.topics, 0)
})

test('a command\'s --timeout bounds each wait for peers, not the running daemon\'s start-up value', { timeout: 90_000 }, async () => {
  const files: Record<string, string> = {}
  for (let i = 0; i < 6; i++) files[`d${i}/hi.txt`] = `hi ${i}\n`
  const link = await createOnA('four', files)
  // B learns the drive's length and header, not the entries under /d1 and /d2
  const info = await b.hyperfs(['info', link, '--json'])
  assert.equal(info.code, 0, info.stderr)
  assert.equal((await a.hyperfs(['daemon', 'stop'])).code, 0)

  // B's daemon was started with --timeout 30000
  for (const args of [['cat', link, '/d1/hi.txt'], ['ls', link, '/d2']]) {
    const r = await b.hyperfs([...args, '--timeout', '1000'])
    assert.equal(r.code, 1, `${args[0]}: ${r.stdout}`)
    assert.match(r.stderr, /within 1000 ms/, args[0])
  }
})
