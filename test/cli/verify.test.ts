// A flipped byte in a drive's content files, through the real CLI and daemon:
// cat fails (exit 1, STORAGE_CORRUPT logged naming the file and the block)
// and never prints the wrong byte; `hyperfs verify` reports it with exit 1.
// A replica's damaged copy is fetched again from the writer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, openSync, readFileSync, readSync, writeSync, writeFileSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { discoveryKey } from '../../src/crypto/index.js'
import { TREE_RECORD_SIZE } from '../../src/codec/core-storage.js'
import { lastLine, sandbox, type Node, type Sandbox } from './cli-harness.js'

const BLOCK = 64 * 1024
// text, so that stdout compares as a string; 5 blocks of 64 KiB (the last short)
const TEXT = Array.from({ length: 40_000 }, (_, i) => `line ${i}\n`).join('').slice(0, 4 * BLOCK + 1000)

function flipByte (file: string, offset: number): void {
  const fd = openSync(file, 'r+')
  try {
    const b = Buffer.alloc(1)
    readSync(fd, b, 0, 1, offset)
    b[0] ^= 0x01
    writeSync(fd, b, 0, 1, offset)
  } finally {
    closeSync(fd)
  }
}

// the content core's folder of the only file's drive (the file starts at byte 0)
async function contentFolder (node: Node, link: string): Promise<string> {
  const info = JSON.parse((await node.hyperfs(['info', link, '--json'])).stdout)
  const dk = discoveryKey(Buffer.from(info.contentKey, 'hex')).toString('hex')
  return join(node.storage, 'cores', dk.slice(0, 2), dk)
}

async function createWith (box: Sandbox, node: Node, args: string[] = []): Promise<string> {
  const src = join(box.dir, 'src')
  mkdirSync(src, { recursive: true })
  writeFileSync(join(src, 'f.txt'), TEXT)
  const created = await node.hyperfs(['create', src, ...args])
  assert.equal(created.code, 0, created.stderr)
  return lastLine(created.stdout)
}

test('on the writer, a flipped byte in the content data or tree file fails cat with STORAGE_CORRUPT, is logged, and verify exits 1', { timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const link = await createWith(box, a)
  const folder = await contentFolder(a, link)

  const clean = await a.hyperfs(['verify', link])
  assert.equal(clean.code, 0, clean.stderr)
  assert.match(clean.stdout, /content\s+5 blocks checked, 0 damaged/)
  assert.match(clean.stdout, /all of \d+ blocks held here are intact/)
  assert.equal((await a.hyperfs(['daemon', 'stop'])).code, 0) // verified blocks are trusted until the drive is opened again

  // a byte of block 1 in the data file
  flipByte(join(folder, 'data'), BLOCK + 100)
  const cat = await a.hyperfs(['cat', link, '/f.txt'])
  assert.equal(cat.code, 1)
  assert.match(cat.stderr, /STORAGE_CORRUPT/)
  assert.match(cat.stderr, /block 1\b/)
  assert.ok(TEXT.startsWith(cat.stdout), 'what was printed is the start of the file, without the damaged byte')
  assert.ok(cat.stdout.length <= BLOCK)
  const log = readFileSync(join(a.storage, 'daemon.log'), 'utf8')
  assert.ok(log.includes(`STORAGE_CORRUPT: ${join(folder, 'data')}: block 1 does not match its hash`), log.slice(-2000))

  const v = await a.hyperfs(['verify', link, '--json'])
  assert.equal(v.code, 1)
  const report = JSON.parse(v.stdout)
  assert.equal(report.corrupt, 1)
  const content = report.cores.find((c: { name: string }) => c.name === 'content')
  assert.deepEqual(content.corrupt.map((c: { block: number }) => c.block), [1])
  assert.match(content.corrupt[0].message, /\/data: block 1/)
  const human = await a.hyperfs(['verify', link])
  assert.equal(human.code, 1)
  assert.match(human.stdout, /block 1: STORAGE_CORRUPT: .*data: block 1 does not match its hash/)

  // the data mended, a byte of a tree node instead: node 1 is the parent of
  // blocks 0 and 1, and the sibling on the path of blocks 2 and 3 to root 3
  assert.equal((await a.hyperfs(['daemon', 'stop'])).code, 0)
  flipByte(join(folder, 'data'), BLOCK + 100)
  flipByte(join(folder, 'tree'), 1 * TREE_RECORD_SIZE + 7)
  const cat2 = await a.hyperfs(['cat', link, '/f.txt'])
  assert.equal(cat2.code, 1)
  assert.match(cat2.stderr, /tree: node 1 does not match its children \(block 0\) \(STORAGE_CORRUPT\)/)
  assert.equal(cat2.stdout, '')
  const v2 = await a.hyperfs(['verify', link, '--json'])
  assert.equal(v2.code, 1)
  assert.deepEqual(JSON.parse(v2.stdout).cores.find((c: { name: string }) => c.name === 'content').corrupt.map((c: { block: number }) => c.block), [0, 1, 2, 3])
})

test('on a replica, a flipped byte in the cached content is reported by verify, dropped, and fetched again from the writer', { timeout: 90_000 }, async (t) => {
  const box = sandbox(t)
  const a = box.node('a')
  const link = await createWith(box, a, ['--listen', '127.0.0.1:0'])
  const address = JSON.parse((await a.hyperfs(['daemon', 'status', '--json'])).stdout).network.listening[0]
  const b = box.node('b')
  const dl = await b.hyperfs(['download', link, '--peer', address])
  assert.equal(dl.code, 0, dl.stderr)
  const folder = await contentFolder(b, link)

  flipByte(join(folder, 'data'), 3 * BLOCK + 5)
  const v = await b.hyperfs(['verify', link, '--json', '--peer', address])
  assert.equal(v.code, 1)
  assert.deepEqual(JSON.parse(v.stdout).cores.find((c: { name: string }) => c.name === 'content').corrupt.map((c: { block: number }) => c.block), [3])
  const cat = await b.hyperfs(['cat', link, '/f.txt', '--peer', address])
  assert.equal(cat.code, 0, cat.stderr)
  assert.equal(cat.stdout, TEXT)
  const again = await b.hyperfs(['verify', link, '--peer', address])
  assert.equal(again.code, 0, again.stdout)

  // damaged again, and read before any verify: cat fetches it again by itself
  assert.equal((await b.hyperfs(['daemon', 'stop'])).code, 0)
  flipByte(join(folder, 'data'), 2 * BLOCK + 7)
  const cat2 = await b.hyperfs(['cat', link, '/f.txt', '--peer', address])
  assert.equal(cat2.code, 0, cat2.stderr)
  assert.equal(cat2.stdout, TEXT)
  const log = readFileSync(join(b.storage, 'daemon.log'), 'utf8')
  assert.ok(log.includes(`STORAGE_CORRUPT: ${join(folder, 'data')}: block 2 does not match its hash`), log.slice(-2000))
})
