// The control socket's framing: large payloads travel in bounded lines, and a
// line past the bound is refused without harm to other clients. One daemon
// serves the whole file.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { connect } from 'node:net'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { MAX_REQUEST_LINE } from '../../src/daemon/control-server.js'
import { BIN, eventually, fileSandbox, lastLine, run } from '../cli/cli-harness.js'

const box = fileSandbox()
const a = box.node('a')

function sha256 (b: Buffer): string {
  return createHash('sha256').update(b).digest('hex')
}

test('a put from stdin several times larger than a control line is streamed into the drive intact', { timeout: 60_000 }, async () => {
  const link = lastLine((await a.hyperfs(['create'])).stdout)
  const data = randomBytes(3 * MAX_REQUEST_LINE + 12345)
  const file = join(box.dir, 'stdin.bin')
  writeFileSync(file, data)
  const put = await run('bash', ['-c', '"$0" "$1" put "$2" /big.bin --storage "$3" --no-dht --no-mdns < "$4"', process.execPath, BIN, link, a.storage, file], { env: a.env })
  assert.equal(put.code, 0, put.stderr)
  assert.match(put.stdout, /wrote \/big\.bin \(1 file/)
  const cat = await run('bash', ['-c', 'set -o pipefail; "$0" "$1" cat "$2" /big.bin --storage "$3" --no-dht --no-mdns | sha256sum', process.execPath, BIN, link, a.storage], { env: a.env })
  assert.equal(cat.code, 0, cat.stderr)
  assert.equal(cat.stdout.split(' ')[0], sha256(data))
  const info = JSON.parse((await a.hyperfs(['ls', link, '/big.bin', '--json'])).stdout)
  assert.equal(info[0].size, data.byteLength)
})

test('a request line past the bound is refused with MESSAGE_TOO_LARGE, and other clients are still served', { timeout: 60_000 }, async (t) => {
  assert.equal((await a.hyperfs(['daemon', 'start'])).code, 0)
  const socketPath = join(a.storage, 'daemon.sock')
  const big = connect(socketPath)
  t.after(() => big.destroy())
  let answer = ''
  big.on('data', (d) => { answer += d })
  big.on('error', () => {})
  const closed = new Promise<void>((resolve) => big.once('close', () => resolve()))
  // one status request, padded past the bound: valid JSON, just too long
  big.write(JSON.stringify({ id: 1, method: 'status', params: { pad: 'x'.repeat(MAX_REQUEST_LINE + 1) } }) + '\n')
  await closed
  const msg = JSON.parse(answer.trim().split('\n')[0])
  assert.equal(msg.error.code, 'MESSAGE_TOO_LARGE')

  const status = await a.hyperfs(['daemon', 'status', '--json'])
  assert.equal(status.code, 0, status.stderr)
  assert.equal(JSON.parse(status.stdout).pid, a.daemonPid())
})

test('input lines for a request that is already answered are dropped, and the connection goes on', { timeout: 60_000 }, async (t) => {
  assert.equal((await a.hyperfs(['daemon', 'start'])).code, 0)
  const socket = connect(join(a.storage, 'daemon.sock'))
  t.after(() => socket.destroy())
  const answers: any[] = []
  let buf = ''
  socket.on('data', (d) => {
    buf += d
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) { answers.push(JSON.parse(buf.slice(0, nl))); buf = buf.slice(nl + 1) }
  })
  socket.write(JSON.stringify({ id: 1, method: 'put', params: { key: 'zz', path: '/x' } }) + '\n')
  await eventually('the bad put is answered', () => answers.length >= 1, 10_000)
  socket.write(JSON.stringify({ id: 1, input: Buffer.from('late').toString('base64') }) + '\n')
  socket.write(JSON.stringify({ id: 1, end: true }) + '\n')
  socket.write(JSON.stringify({ id: 2, method: 'status' }) + '\n')
  await eventually('status is answered', () => answers.some((m) => m.id === 2), 10_000)
  assert.equal(answers.find((m) => m.id === 1).error.code, 'BAD_KEY')
  assert.equal(answers.find((m) => m.id === 2).result.pid, a.daemonPid())
  assert.equal(answers.length, 2, 'nothing answered the stray input')
})
