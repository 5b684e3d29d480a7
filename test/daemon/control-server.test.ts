// The control server in-process: a client that connects at any moment after
// the socket exists is served. A command polls for the socket of a daemon it
// just started, so it can connect while the server is still making the
// socket private (the chmod after listen); such a client was once accepted
// by the kernel and never served, and its command waited for ever.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire, syncBuiltinESMExports } from 'node:module'
import { connect, type Socket } from 'node:net'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlServer } from '../../src/daemon/control-server.js'
import type { Logger } from '../../src/daemon/logger.js'

const fsp = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises')

const quiet: Logger = { info () {}, warn () {}, error () {} }

function connected (path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path)
    s.once('connect', () => resolve(s))
    s.once('error', reject)
  })
}

// the first answer line on `socket`, or null if none came within `ms`
function answer (socket: Socket, ms: number): Promise<any> {
  return new Promise((resolve) => {
    let got = ''
    const timer = setTimeout(() => { socket.off('data', ondata); resolve(null) }, ms)
    const ondata = (d: Buffer): void => {
      got += d
      const nl = got.indexOf('\n')
      if (nl < 0) return
      clearTimeout(timer)
      socket.off('data', ondata)
      resolve(JSON.parse(got.slice(0, nl)))
    }
    socket.on('data', ondata)
  })
}

test('a client that connects while the socket is being made private is served, and counted as a client', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'hyperfs-control-'))
  const path = join(dir, 'daemon.sock')
  const early: Socket[] = []
  const chmod = fsp.chmod
  // the server's chmod of its socket waits until a client has connected
  // and the server has had a turn to accept it
  fsp.chmod = (async (p: any, mode: any) => {
    if (String(p) === path) {
      early.push(await connected(path))
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    return chmod(p, mode)
  }) as typeof fsp.chmod
  syncBuiltinESMExports()
  let server: ControlServer
  try {
    server = await ControlServer.listen(path, async (method) => ({ method }), { logger: quiet })
  } finally {
    fsp.chmod = chmod
    syncBuiltinESMExports()
  }
  t.after(async () => {
    for (const s of early) s.destroy()
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  })
  assert.equal(early.length, 1, 'a client connected during the chmod')
  assert.equal(statSync(path).mode & 0o777, 0o600)
  assert.equal(server.clients, 1, 'the early client counts (the idle exit must not stop the daemon under it)')
  const [s] = early
  s.write(JSON.stringify({ id: 1, method: 'status', params: {} }) + '\n')
  // a bound on a hang, not a timing: an unserved client gets nothing at all
  assert.deepEqual(await answer(s, 10_000), { id: 1, result: { method: 'status' } })
})
