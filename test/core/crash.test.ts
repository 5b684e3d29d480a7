import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Hypercore } from '../../src/core/hypercore.js'
import { expectedBlock } from '../fixtures/crash-blocks.js'
import { tmpDir, prng } from '../helpers/tmp.js'

const CHILD = fileURLToPath(new URL('../fixtures/crash-appender.js', import.meta.url))
const KILLS = 50

// Runs the appender until it has acknowledged at least one append past
// `minAck` (or a short while has passed), then kills it with SIGKILL at a
// random moment. Returns the last length it acknowledged.
function runAndKill (dir: string, seed: number, delayMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] })
    let lastAck = -1
    let buf = ''
    let stderr = ''
    let killed = false
    const kill = () => { if (!killed) { killed = true; child.kill('SIGKILL') } }
    child.stdout.on('data', (d) => {
      buf += d
      let nl
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl)
        buf = buf.slice(nl + 1)
        const m = /^ack (\d+)$/.exec(line)
        if (m) lastAck = Number(m[1])
        if (lastAck >= 0 && !killed) setTimeout(kill, delayMs)
      }
    })
    child.stderr.on('data', (d) => { stderr += d })
    const guard = setTimeout(kill, 10000) // bounded even if the child never acks
    child.on('exit', (code, signal) => {
      clearTimeout(guard)
      if (signal !== 'SIGKILL') reject(new Error(`appender exited on its own (${code}): ${stderr}`))
      else resolve(lastAck)
    })
  })
}

test('kill -9 at any moment never loses an acknowledged append', async (t) => {
  const dir = tmpDir(t)
  const rand = prng(1234)
  let verified = 0
  for (let k = 0; k < KILLS; k++) {
    const lastAck = await runAndKill(dir, k + 1, Math.floor(rand() * 30))
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
