// The daemon's drive API on both formats (issue 9): create takes a format, and
// the other calls find it from the drive itself; info names it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { join } from 'node:path'
import { eventually, sandbox } from '../cli/cli-harness.js'

test('create --format hyperdrive13 makes a drive that put, mkdir, ls and info work on, and info names its format', { timeout: 60_000 }, async (t) => {
  const a = sandbox(t).node('a')
  assert.equal((await a.hyperfs(['daemon', 'start', '--no-dht', '--no-mdns'])).code, 0)
  const socket = connect(join(a.storage, 'daemon.sock'))
  t.after(() => socket.destroy())
  const answers = new Map<number, any>()
  let buf = ''
  socket.on('data', (d) => {
    buf += d
    let nl
    while ((nl = buf.indexOf('\n')) >= 0) { const m = JSON.parse(buf.slice(0, nl)); if (m.id !== undefined && (m.result !== undefined || m.error)) answers.set(m.id, m); buf = buf.slice(nl + 1) }
  })
  let id = 0
  // `input`: bytes streamed after the request (a put), as the control protocol sends them
  const call = async (method: string, params: object, input?: Buffer): Promise<any> => {
    const n = ++id
    socket.write(JSON.stringify({ id: n, method, params }) + '\n')
    if (input) {
      socket.write(JSON.stringify({ id: n, input: input.toString('base64') }) + '\n')
      socket.write(JSON.stringify({ id: n, end: true }) + '\n')
    }
    await eventually(`an answer to ${method}`, () => answers.has(n), 20_000)
    return answers.get(n)
  }
  const created = await call('create', { format: 'hyperdrive13' })
  assert.equal(created.result.format, 'hyperdrive13')
  const key = created.result.key
  assert.equal((await call('put', { key, path: '/docs/a.txt' }, Buffer.from('hello'))).result.bytes, 5)
  assert.equal((await call('mkdir', { key, path: '/empty' })).error, undefined)
  const ls = (await call('ls', { key, path: '/' })).result
  assert.deepEqual(ls.map((e: any) => `${e.name} ${e.type}`), ['docs dir', 'empty dir'])
  assert.equal((await call('info', { key })).result.format, 'hyperdrive13')
  const plain = await call('create', {})
  assert.equal(plain.result.format, 'hypertrie', 'the default format')
  assert.equal((await call('info', { key: plain.result.key })).result.format, 'hypertrie')
  assert.equal((await call('create', { format: 'nope' })).error.code, 'BAD_ARGUMENT')
})
