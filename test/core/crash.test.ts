import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Hypercore } from '../../src/core/hypercore.js'
import { expectedBlock, EVICTOR_BLOCKS } from '../fixtures/crash-blocks.js'
import { PATCHED_FILE, firstContent, patchFor, applyPatch } from '../fixtures/crash-patches.js'
import { DriveStore } from '../../src/drive/drive-store.js'
import { tmpDir, prng } from '../helpers/tmp.js'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url))
const KILLS = 50
const CLEAR_KILLS = 30
const EVICT_KILLS = 20
const PATCH_KILLS = 20

// Runs a child fixture until it has printed a line that `ready` accepts,
// then kills it with SIGKILL `delayMs` later. Every line goes to `online`.
function runAndKill (script: string, args: string[], delayMs: number, online: (line: string) => boolean): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let buf = ''
    let stderr = ''
    let killed = false
    let armed = false
    const kill = () => { if (!killed) { killed = true; child.kill('SIGKILL') } }
    child.stdout.on('data', (d) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        if (online(line) && !armed) { armed = true; setTimeout(kill, delayMs) }
      }
    })
    child.stderr.on('data', (d) => { stderr += d })
    const guard = setTimeout(kill, 20000) // bounded even if the child never gets going
    // 'close', not 'exit': every line the child wrote before it died is read
    child.on('close', (code, signal) => {
      clearTimeout(guard)
      if (signal !== 'SIGKILL') reject(new Error(`${script} exited on its own (${code}): ${stderr}`))
      else resolve()
    })
  })
}

test('kill -9 at any moment never loses an acknowledged append', async (t) => {
  const dir = tmpDir(t)
  const rand = prng(1234)
  let verified = 0
  for (let k = 0; k < KILLS; k++) {
    let lastAck = -1
    await runAndKill(fixture('crash-appender'), [dir, String(k + 1)], Math.floor(rand() * 30), (line) => {
      const m = /^ack (\d+)$/.exec(line)
      if (m) lastAck = Number(m[1])
      return lastAck >= 0
    })
    const core = new Hypercore(dir)
    await core.ready()
    try {
      assert.ok(core.length >= lastAck, `kill ${k}: length ${core.length} < acknowledged ${lastAck}`)
      assert.ok(core.length <= Math.max(lastAck, verified) + 40, `kill ${k}: length ${core.length} is past anything written`)
      // every new block, and a sample of old ones, reads back verified and intact
      const check = new Set<number>()
      for (let i = verified; i < core.length; i++) check.add(i)
      for (let s = 0; s < 20 && core.length > 0; s++) check.add(Math.floor(rand() * core.length))
      for (const i of check) assert.ok((await core.get(i))!.equals(expectedBlock(i)), `kill ${k}: block ${i}`)
      verified = core.length
    } finally {
      await core.close()
    }
  }
  assert.ok(verified > 0)
})

// Every block the core claims reads back right (verify reads and hashes each
// one): nothing is claimed, or served to a peer, that a punched hole took.
async function claimsOnlyWhatItHolds (core: Hypercore, k: number): Promise<number> {
  const report = await core.verify()
  assert.deepEqual(report.corrupt.map((c) => c.error.message), [], `kill ${k}: claimed blocks that are not held`)
  let held = 0
  for (let i = 0; i < core.length; i++) {
    if (!core.has(i)) continue
    held++
    assert.ok((await core.get(i, { wait: false }))!.equals(expectedBlock(i)), `kill ${k}: block ${i}`)
  }
  assert.equal(report.checked, held)
  return held
}

test('kill -9 in the middle of clearing a writer\'s blocks: nothing claimed that is gone, no acknowledged block lost that was never cleared', async (t) => {
  const dir = tmpDir(t)
  const rand = prng(4321)
  const cleared: Array<[number, number]> = [] // every clear that started, in any run
  let cuts = 0
  for (let k = 0; k < CLEAR_KILLS; k++) {
    let lastAck = -1
    let clears = 0
    await runAndKill(fixture('crash-clearer'), [dir, String(k + 1)], Math.floor(rand() * 40), (line) => {
      const ack = /^ack (\d+)$/.exec(line)
      if (ack) lastAck = Number(ack[1])
      const c = /^clearing (\d+) (\d+)$/.exec(line)
      if (c) { cleared.push([Number(c[1]), Number(c[2])]); clears++ }
      return clears > 0 || lastAck > 200
    })
    const core = new Hypercore(dir)
    await core.ready()
    try {
      assert.ok(core.length >= lastAck, `kill ${k}: length ${core.length} < acknowledged ${lastAck}`)
      const held = await claimsOnlyWhatItHolds(core, k)
      for (let i = 0; i < core.length; i++) {
        if (core.has(i)) continue
        assert.ok(cleared.some(([s, e]) => i >= s && i < e), `kill ${k}: block ${i} was never cleared, and is lost`)
      }
      if (held < core.length) cuts++
    } finally {
      await core.close()
    }
  }
  assert.ok(cuts > 0, 'some runs cleared blocks')
})

test('kill -9 in the middle of evictions from a reader\'s cache: the replica reopens holding only blocks that verify', async (t) => {
  const dir = tmpDir(t)
  const rand = prng(999)
  let key: Buffer | null = null
  let evicted = 0
  for (let k = 0; k < EVICT_KILLS; k++) {
    let reads = 0
    await runAndKill(fixture('crash-evictor'), [dir, String(k + 1)], Math.floor(rand() * 200), (line) => {
      const m = /^key ([0-9a-f]{64})$/.exec(line)
      if (m) key = Buffer.from(m[1], 'hex')
      if (/^read \d+$/.test(line)) reads++
      return reads > 0
    })
    const core = new Hypercore(dir, key!)
    await core.ready()
    try {
      assert.equal(core.length, EVICTOR_BLOCKS)
      const held = await claimsOnlyWhatItHolds(core, k)
      if (held < EVICTOR_BLOCKS) evicted++
    } finally {
      await core.close()
    }
  }
  assert.ok(evicted > 0)
})

// The file as it stands after patch `n` and after patch n - 1, built from the
// one after patch `from` (the last state a reopen found) and the one before.
function fileAfter (file: Buffer, prev: Buffer, from: number, n: number): [Buffer, Buffer] {
  for (let i = from + 1; i <= n; i++) [prev, file] = [file, applyPatch(file, patchFor(i, file.length))]
  return [file, prev]
}

test('kill -9 in the middle of copy-on-write writes (patchFile): the drive reopens with the last acknowledged file or the one after, whole, and its cores verify', async (t) => {
  const dir = tmpDir(t)
  const rand = prng(2024)
  let keyHex = '-'
  let state = 0 // the patches in the file as the last reopen found it
  let file = firstContent()
  let prev = file // the file one patch before
  let ahead = 0
  for (let k = 0; k < PATCH_KILLS; k++) {
    let lastAck = -1
    await runAndKill(fixture('crash-patcher'), [dir, keyHex, String(state)], Math.floor(rand() * 150), (line) => {
      const key = /^key ([0-9a-f]{64})$/.exec(line)
      if (key) keyHex = key[1]
      const m = /^ack (\d+)$/.exec(line)
      if (m) lastAck = Number(m[1])
      return lastAck >= 0
    })
    assert.ok(lastAck >= state, `kill ${k}: acknowledged ${lastAck}, before ${state}`)
    const store = DriveStore.directory(dir)
    try {
      const drive = await store.open(Buffer.from(keyHex, 'hex'))
      const read = await drive.read(PATCHED_FILE)
      // a patch is one entry: the file is the acknowledged one, or the one
      // whose patch was in flight, never part of it
      const [acked, beforeAcked] = fileAfter(file, prev, state, lastAck)
      const inFlight = applyPatch(acked, patchFor(lastAck + 1, acked.length))
      if (read.equals(acked)) {
        state = lastAck
        ;[file, prev] = [acked, beforeAcked]
      } else {
        assert.ok(read.equals(inFlight), `kill ${k}: the file is neither patch ${lastAck} (acknowledged) nor ${lastAck + 1}`)
        state = lastAck + 1
        ;[file, prev] = [inFlight, acked]
        ahead++
      }
      assert.equal((await drive.stat(PATCHED_FILE)).size, file.length)
      // the version before holds the patch before, read through the same extents
      if (state > 0) {
        const before = await drive.checkout(drive.version - 1).read(PATCHED_FILE)
        assert.ok(before.equals(prev), `kill ${k}: version ${drive.version - 1} is not patch ${state - 1}`)
      }
      // nothing claimed that is not held: every block of both cores reads and hashes right
      for (const core of [drive.metadata, drive.content!]) {
        const report = await core.verify()
        assert.deepEqual(report.corrupt.map((c) => c.error.message), [], `kill ${k}: claimed blocks that are not held`)
        let held = 0
        for (let i = 0; i < core.length; i++) if (core.has(i)) held++
        assert.equal(held, core.length, `kill ${k}: a writer holds every block it wrote`)
        assert.equal(report.checked, held)
      }
    } finally {
      await store.close()
    }
  }
  assert.ok(state > PATCH_KILLS, `only ${state} patches in ${PATCH_KILLS} runs`)
  t.diagnostic(`${state} patches, ${ahead} kills found the patch in flight stored`)
})
