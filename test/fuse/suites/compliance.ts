// Real programs on a real mount of a writable drive: what a user would do
// with hyperfs, checked against the same work done on a local folder or
// against bytes computed here. One host serves every subtest in order.
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { open, readFile, rename, writeFile, appendFile, stat, mkdir, rmdir, unlink } from 'node:fs/promises'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { prng, randomBuffer, tmpDir } from '../../helpers/tmp.js'
import { FUSE_SKIP, type Fixture, run, startHost } from '../mount-harness.js'
import { pattern } from '../fixtures/pattern.js'

const BIG = 5 * 1024 ** 3 + 12345 // past 4 GiB, so 32-bit offsets would show

function sha256 (b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex')
}

function makeSeed (dir: string, rand: () => number): { blob: Buffer } {
  const blob = randomBuffer(rand, 3 * 1024 * 1024 + 777)
  writeFileSync(join(dir, 'blob.bin'), blob)
  writeFileSync(join(dir, 'readme.txt'), 'hyperfs seed\nthe needle is here\n')
  mkdirSync(join(dir, 'docs/deep/deeper'), { recursive: true })
  for (let i = 0; i < 40; i++) {
    const where = i % 3 === 0 ? 'docs' : i % 3 === 1 ? 'docs/deep' : 'docs/deep/deeper'
    writeFileSync(join(dir, where, `note-${i}.txt`), `note ${i}\n${i % 7 === 0 ? 'needle\n' : ''}${'x'.repeat(i * 97)}\n`)
  }
  writeFileSync(join(dir, 'docs/empty'), '')
  symlinkSync('readme.txt', join(dir, 'link-to-readme'))
  return { blob }
}
export function complianceSuite (fixture: Fixture): void {
  describe(fixture.name, () => {
    test('real programs work on a mounted writable drive', { skip: FUSE_SKIP, timeout: 240_000 }, async (t) => {
      const suiteStart = Date.now()
      const rand = prng(42)
      const seedDir = tmpDir(t, 'hyperfs-seed-')
      const work = tmpDir(t, 'hyperfs-work-')
      const { blob } = makeSeed(seedDir, rand)
      const host = await startHost(t, { fixture, seed: seedDir, generated: { '/big.bin': BIG } })
      const mnt = host.mnt

      await t.test('diff -r finds the seeded tree identical, symlinks included', async () => {
        const r = await run('diff', ['-r', '--no-dereference', seedDir, mnt], {})
        // the generated file exists only on the drive
        assert.equal(r.stdout.trim(), host.caps.generated ? `Only in ${mnt}: big.bin` : '', r.stderr)
      })

      await t.test('find lists the same files as on the local folder', async () => {
        const local = await run('find', ['.', '-type', 'f'], { cwd: seedDir })
        const mounted = await run('find', ['.', '-type', 'f', '-not', '-name', 'big.bin'], { cwd: mnt })
        assert.equal(mounted.code, 0, mounted.stderr)
        assert.deepEqual(mounted.stdout.split('\n').sort(), local.stdout.split('\n').sort())
      })

      await t.test('grep -r finds the needle in the same files', async () => {
        const local = await run('grep', ['-rl', 'needle', '.'], { cwd: seedDir })
        const mounted = await run('grep', ['-rl', '--exclude=big.bin', 'needle', '.'], { cwd: mnt })
        assert.equal(mounted.code, 0, mounted.stderr)
        assert.deepEqual(mounted.stdout.split('\n').sort(), local.stdout.split('\n').sort())
      })

      await t.test('sha256sum of a file read through the mount matches its bytes', async () => {
        const r = await run('sha256sum', [join(mnt, 'blob.bin')])
        assert.equal(r.stdout.split(' ')[0], sha256(blob))
      })

      await t.test('cp -r copies a tree into the drive and diff -r agrees', async () => {
        const r = await run('cp', ['-r', join(seedDir, 'docs'), join(mnt, 'docs-copy')])
        assert.equal(r.code, 0, r.stderr)
        const d = await run('diff', ['-r', join(seedDir, 'docs'), join(mnt, 'docs-copy')])
        assert.equal(d.code, 0, d.stdout + d.stderr)
      })

      await t.test('dd reads at random offsets return the right bytes', async () => {
        for (let i = 0; i < 12; i++) {
          const off = Math.floor(rand() * blob.length)
          const len = 1 + Math.floor(rand() * 200_000)
          const out = join(work, 'dd-read')
          const r = await run('dd', [`if=${join(mnt, 'blob.bin')}`, `of=${out}`, 'bs=65536', `skip=${off}`, `count=${len}`, 'iflag=skip_bytes,count_bytes'])
          assert.equal(r.code, 0, r.stderr)
          assert.ok((await readFile(out)).equals(blob.subarray(off, off + len)), `dd at ${off}+${len}`)
        }
      })

      await t.test('dd writes at random offsets (one past the end) land where they should', async () => {
        const target = join(mnt, 'dd-target.bin')
        let expected = Buffer.from(blob.subarray(0, 1024 * 1024))
        await writeFile(target, expected)
        for (let i = 0; i < 8; i++) {
          const off = i === 7 ? expected.length + 5000 : Math.floor(rand() * expected.length)
          const patch = randomBuffer(rand, 1 + Math.floor(rand() * 50_000))
          const src = join(work, 'patch')
          writeFileSync(src, patch)
          const r = await run('dd', [`if=${src}`, `of=${target}`, 'bs=65536', `seek=${off}`, 'oflag=seek_bytes', 'conv=notrunc'])
          assert.equal(r.code, 0, r.stderr)
          const grown = Buffer.alloc(Math.max(expected.length, off + patch.length))
          expected.copy(grown)
          patch.copy(grown, off)
          expected = grown
        }
        const r = await run('sha256sum', [target])
        assert.equal(r.stdout.split(' ')[0], sha256(expected))
      })

      await t.test('tail -f sees lines appended by another writer', async () => {
        const log = join(mnt, 'app.log')
        await writeFile(log, 'line 0\n')
        const tail = spawn('tail', ['-n', '+1', '-F', '-s', '0.1', log], { stdio: ['ignore', 'pipe', 'pipe'] })
        let seen = ''
        tail.stdout.on('data', (d) => { seen += d })
        const expected = Array.from({ length: 6 }, (_, i) => `line ${i}\n`).join('')
        try {
          for (let i = 1; i < 6; i++) {
            await new Promise((resolve) => setTimeout(resolve, 150))
            await appendFile(log, `line ${i}\n`)
          }
          // bounded wait for tail to catch up; the assertion below reports what it saw
          for (let i = 0; i < 100 && seen !== expected; i++) await new Promise((resolve) => setTimeout(resolve, 100))
        } finally {
          tail.kill('SIGKILL')
        }
        assert.equal(seen, expected)
      })

      await t.test('an editor-style save (write a temp file, fsync, rename over) replaces the file atomically', async () => {
        const file = join(mnt, 'notes.txt')
        await writeFile(file, 'version 1\n')
        const reader = await open(file, 'r')
        try {
          const tmp = join(mnt, '.notes.txt.tmp')
          const fh = await open(tmp, 'w')
          await fh.writeFile('version 2\n')
          await fh.sync()
          await fh.close()
          await rename(tmp, file)
          assert.equal(await readFile(file, 'utf8'), 'version 2\n')
          // a reader that had the old file open keeps reading the old file
          const buf = Buffer.alloc(64)
          const { bytesRead } = await reader.read(buf, 0, 64, 0)
          assert.equal(buf.subarray(0, bytesRead).toString(), 'version 1\n')
        } finally {
          await reader.close()
        }
        await assert.rejects(stat(join(mnt, '.notes.txt.tmp')), { code: 'ENOENT' })
      })

      await t.test('vim edits and saves a file on the mount', async () => {
        const file = join(mnt, 'vim.txt')
        await writeFile(file, 'first\n')
        const r = await run('vim', ['-Nu', 'NONE', '-es', '-c', 'normal Gosecond', '-c', 'wq', file], { timeout: 30_000 })
        assert.equal(r.code, 0, r.stderr)
        assert.equal(await readFile(file, 'utf8'), 'first\nsecond\n')
      })

      await t.test('git init, add and commit work in the mount, and fsck is clean', async () => {
        const repo = join(mnt, 'repo')
        await mkdir(repo)
        const cp = await run('cp', ['-r', join(seedDir, 'docs'), join(seedDir, 'readme.txt'), repo])
        assert.equal(cp.code, 0, cp.stderr)
        const env = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@t', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@t', GIT_CONFIG_NOSYSTEM: '1', HOME: work }
        for (const args of [['init', '-q', '.'], ['add', '-A'], ['commit', '-qm', 'first'], ['fsck', '--strict']]) {
          const r = await run('git', args, { cwd: repo, env })
          assert.equal(r.code, 0, `git ${args.join(' ')}: ${r.stderr}`)
        }
        await appendFile(join(repo, 'readme.txt'), 'changed\n')
        const c2 = await run('git', ['commit', '-qam', 'second'], { cwd: repo, env })
        assert.equal(c2.code, 0, c2.stderr)
        const log = await run('git', ['log', '--format=%s'], { cwd: repo, env })
        assert.equal(log.stdout, 'second\nfirst\n')
        const status = await run('git', ['status', '--porcelain'], { cwd: repo, env })
        assert.equal(status.stdout, '')
      })

      await t.test('sqlite3 commits inserts and updates in the mount (rollback journal), and the database checks out', async () => {
        // each commit writes a few pages in place of a file opened for writing, and a journal beside it
        const db = join(mnt, 'app.db')
        const r = await run('python3', ['-c', `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute('create table t (id integer primary key, name text, n integer)')
db.commit()
for b in range(0, 2000, 100):
    db.executemany('insert into t (name, n) values (?, ?)', [('name %d' % i, i) for i in range(b, b + 100)])
    db.commit()
for i in range(30):
    db.execute('update t set n = n + 1, name = ? where id = ?', ('updated %d' % i, 1 + i * 61))
    db.commit()
db.close()
db = sqlite3.connect(sys.argv[1])
assert db.execute('pragma integrity_check').fetchone()[0] == 'ok'
assert db.execute('select count(*), sum(n) from t').fetchone() == (2000, 2000 * 1999 // 2 + 30)
assert db.execute("select count(*) from t where name like 'updated %'").fetchone()[0] == 30
`, db], { timeout: 120_000 })
        assert.equal(r.code, 0, r.stderr)
        await unlink(db)
      })

      await t.test('ffmpeg writes a video into the drive and ffprobe reads it back', async () => {
        const video = join(mnt, 'test.mp4')
        const mk = await run('ffmpeg', ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=2:size=160x120:rate=10', '-y', video], { timeout: 90_000 })
        assert.equal(mk.code, 0, mk.stderr)
        const probe = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=width,height,nb_frames', '-of', 'json', video])
        assert.equal(probe.code, 0, probe.stderr)
        const stream = JSON.parse(probe.stdout).streams[0]
        assert.deepEqual([stream.width, stream.height, Number(stream.nb_frames)], [160, 120, 20])
      })

      const noBig = !host.caps.generated && 'the served drive cannot hold a generated 5 GiB file'
      await t.test('a file past 4 GiB has the right size and the right bytes at the far end', { skip: noBig }, async () => {
        const file = join(mnt, 'big.bin')
        assert.equal((await stat(file)).size, BIG)
        const off = 4 * 1024 ** 3 + 7 * 4096 + 3
        const out = join(work, 'big-piece')
        const r = await run('dd', [`if=${file}`, `of=${out}`, 'bs=65536', `skip=${off}`, 'count=100000', 'iflag=skip_bytes,count_bytes'])
        assert.equal(r.code, 0, r.stderr)
        assert.ok((await readFile(out)).equals(pattern(off, 100000)))
        const tail = await run('sh', ['-c', `tail -c 1000 '${file}' | sha256sum`])
        assert.equal(tail.stdout.split(' ')[0], sha256(pattern(BIG - 1000, 1000)))
      })

      await t.test('many handles and concurrent readers each get their own bytes', async () => {
        const file = join(mnt, 'blob.bin')
        const handles = await Promise.all(Array.from({ length: 128 }, () => open(file, 'r')))
        try {
          await Promise.all(handles.map(async (fh) => {
            for (let i = 0; i < 4; i++) {
              const off = Math.floor(rand() * (blob.length - 8192))
              const buf = Buffer.alloc(8192)
              const { bytesRead } = await fh.read(buf, 0, buf.length, off)
              assert.ok(buf.subarray(0, bytesRead).equals(blob.subarray(off, off + bytesRead)) && bytesRead === 8192)
            }
          }))
        } finally {
          await Promise.all(handles.map((fh) => fh.close()))
        }
        const sums = await Promise.all(Array.from({ length: 6 }, () => run('sha256sum', [file])))
        for (const s of sums) assert.equal(s.stdout.split(' ')[0], sha256(blob))
      })

      await t.test('truncate, chmod, symlink and touch -d behave as on a local disk', async () => {
        const file = join(mnt, 'meta.txt')
        await writeFile(file, 'abcdefgh')
        assert.equal((await run('truncate', ['-s', '3', file])).code, 0)
        assert.equal(await readFile(file, 'utf8'), 'abc')
        assert.equal((await run('truncate', ['-s', '6', file])).code, 0)
        assert.ok((await readFile(file)).equals(Buffer.from('abc\0\0\0')))
        assert.equal((await run('chmod', ['640', file])).code, 0)
        assert.equal((await stat(file)).mode & 0o777, 0o640)
        assert.equal((await run('ln', ['-s', 'meta.txt', join(mnt, 'meta-link')])).code, 0)
        assert.equal((await run('readlink', [join(mnt, 'meta-link')])).stdout, 'meta.txt\n')
        assert.equal(await readFile(join(mnt, 'meta-link'), 'utf8'), 'abc\0\0\0')
        assert.equal((await run('touch', ['-d', '2001-02-03T04:05:06Z', file])).code, 0)
        assert.equal((await stat(file)).mtime.toISOString(), '2001-02-03T04:05:06.000Z')
      })

      await t.test('errors come back as the errno POSIX asks for', async () => {
        await assert.rejects(readFile(join(mnt, 'missing')), { code: 'ENOENT' })
        await assert.rejects(mkdir(join(mnt, 'docs')), { code: 'EEXIST' })
        await assert.rejects(rmdir(join(mnt, 'docs')), { code: 'ENOTEMPTY' })
        await assert.rejects(unlink(join(mnt, 'docs')), (err: NodeJS.ErrnoException) => err.code === 'EISDIR' || err.code === 'EPERM')
        await assert.rejects(readFile(join(mnt, 'readme.txt', 'x')), { code: 'ENOTDIR' })
        await assert.rejects(rename(join(mnt, 'docs'), join(mnt, 'docs', 'deep', 'inside')), { code: 'EINVAL' })
      })

      await t.test('user.* xattrs are stored on the entry; hyperfs.* describe the drive and are read-only', async () => {
        const file = join(mnt, 'readme.txt')
        const py = `
import os, sys, json
f, root = sys.argv[1], sys.argv[2]
os.setxattr(f, 'user.color', b'blue')
out = {'color': os.getxattr(f, 'user.color').decode(), 'list': os.listxattr(f)}
os.removexattr(f, 'user.color')
out['after'] = os.listxattr(f)
out['key'] = os.getxattr(root, 'hyperfs.key').decode()
out['version'] = int(os.getxattr(root, 'hyperfs.version'))
out['bytes'] = int(os.getxattr(root, 'hyperfs.byte-length'))
out['local'] = int(os.getxattr(root, 'hyperfs.local-bytes'))
out['root'] = sorted(n for n in os.listxattr(root) if n.startswith('hyperfs.'))
try:
    os.setxattr(root, 'hyperfs.key', b'x')
    out['set'] = 'allowed'
except OSError as e:
    out['set'] = e.errno
try:
    os.getxattr(f, 'user.missing')
except OSError as e:
    out['missing'] = e.errno
print(json.dumps(out))
`
        const r = await run('python3', ['-c', py, file, mnt])
        assert.equal(r.code, 0, r.stderr)
        const out = JSON.parse(r.stdout)
        assert.equal(out.color, 'blue')
        assert.deepEqual(out.list, ['user.color'])
        assert.deepEqual(out.after, [])
        assert.match(out.key, /^[0-9a-f]{64}$/)
        assert.ok(out.version > 1)
        assert.ok(out.bytes >= blob.length && out.local === out.bytes)
        assert.ok(out.root.includes('hyperfs.peers') && out.root.includes('hyperfs.key-z32'))
        assert.equal(out.set, 1) // EPERM
        assert.equal(out.missing, 61) // ENODATA
      })

      await t.test('the mount root shows the time of the drive\'s last change, not 1970', async () => {
        // the drive was filled at the start of this suite: its last change is no older
        const root = await stat(mnt)
        assert.ok(root.mtimeMs >= suiteStart - 2000, `root mtime ${new Date(root.mtimeMs).toISOString()} is before the drive was filled`)
      })

      await t.test('statfs reports the drive size from drive.info()', async () => {
        const r = await run('python3', ['-c', `
import os, sys, json
s = os.statvfs(sys.argv[1])
print(json.dumps({'frsize': s.f_frsize, 'blocks': s.f_blocks, 'bfree': s.f_bfree, 'bytes': int(os.getxattr(sys.argv[1], 'hyperfs.byte-length'))}))
`, mnt])
        assert.equal(r.code, 0, r.stderr)
        const s = JSON.parse(r.stdout)
        assert.equal(s.frsize, 4096)
        assert.equal(s.blocks, Math.ceil(s.bytes / 4096))
        assert.equal(s.bfree, 0) // everything is local in this drive
      })
    })
  })
}
