// hyperfs drives lists what the storage folder holds, and an import keeps the
// times of the folders and symlinks it copies. One daemon serves the file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lutimesSync, mkdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { FUSE_SKIP, fileSandbox, lastLine } from './cli-harness.js'

const box = fileSandbox()
const a = box.node('a')

test('an import keeps the modification times of folders, files and symlinks', { timeout: 60_000 }, async () => {
  const src = join(box.dir, 'times')
  mkdirSync(join(src, 'old', 'older'), { recursive: true })
  writeFileSync(join(src, 'old', 'older', 'f.txt'), 'f\n')
  symlinkSync('older/f.txt', join(src, 'old', 'link'))
  const times: Record<string, number> = {
    'old/older/f.txt': Date.UTC(2001, 0, 2, 3, 4, 5),
    'old/older': Date.UTC(2002, 1, 3, 4, 5, 6),
    'old/link': Date.UTC(2003, 2, 4, 5, 6, 7),
    old: Date.UTC(2004, 3, 5, 6, 7, 8)
  }
  // deepest first: changing a folder's entries moves its time
  for (const [path, ms] of Object.entries(times)) {
    if (path === 'old/link') lutimesSync(join(src, path), ms / 1000, ms / 1000)
    else utimesSync(join(src, path), ms / 1000, ms / 1000)
  }
  const created = await a.hyperfs(['create', src])
  assert.equal(created.code, 0, created.stderr)
  const ls = await a.hyperfs(['ls', '-r', '--json', lastLine(created.stdout)])
  assert.equal(ls.code, 0, ls.stderr)
  const got = Object.fromEntries(JSON.parse(ls.stdout).map((e: { name: string, mtime: number }) => [e.name, e.mtime]))
  assert.deepEqual(got, times)
})

test('drives lists each drive of the storage folder with its format, writability, size and what is held', { timeout: 60_000 }, async () => {
  const src = join(box.dir, 'files')
  mkdirSync(src)
  writeFileSync(join(src, 'a.bin'), Buffer.alloc(100_000, 1))
  const full = lastLine((await a.hyperfs(['create', src])).stdout)
  const empty = lastLine((await a.hyperfs(['create'])).stdout)
  const r = await a.hyperfs(['drives', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const drives = JSON.parse(r.stdout) as Array<Record<string, any>>
  const byKey = new Map(drives.map((d) => [d.key, d]))
  // the drives of the other test are here too; content cores are not drives
  for (const d of drives) assert.equal(d.format, 'hypertrie', d.key)
  assert.ok(byKey.has(full) && byKey.has(empty))
  assert.equal(byKey.get(full)!.writable, true)
  assert.equal(byKey.get(full)!.byteLength, 100_000)
  assert.equal(byKey.get(full)!.localBytes, 100_000)
  assert.equal(byKey.get(full)!.percentLocal, 100)
  assert.equal(byKey.get(empty)!.byteLength, 0)
  assert.deepEqual(byKey.get(full)!.mounts, [])

  const human = await a.hyperfs(['drives'])
  assert.equal(human.code, 0, human.stderr)
  const line = human.stdout.split('\n').find((l) => l.startsWith(full))!
  assert.match(line, /hypertrie {2}writable .*size 97\.7 KiB {2}held 97\.7 KiB \(100%\)/)
})

test('drives shows where a drive is mounted', { skip: FUSE_SKIP, timeout: 60_000 }, async () => {
  const m = box.mountpoint('m')
  const mounted = await a.hyperfs(['mount', 'new', m, '--json'])
  assert.equal(mounted.code, 0, mounted.stderr)
  const key = JSON.parse(mounted.stdout).key
  const drives = JSON.parse((await a.hyperfs(['drives', '--json'])).stdout) as Array<Record<string, any>>
  assert.deepEqual(drives.find((d) => d.key === key)!.mounts, [m])
  assert.equal((await a.hyperfs(['unmount', m])).code, 0)
})
