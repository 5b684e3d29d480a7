// Shared test plumbing for net/ and interop/: loopback TCP pairs, finished
// handshakes, and bounded waits. Every resource is closed through t.after.
import net from 'node:net'
import type { Duplex } from 'node:stream'
import type { TestContext } from 'node:test'
import { NoiseState } from '../../src/net/noise.js'
import type { HandshakeResult } from '../../src/net/secret-stream.js'
import { keyPair, type KeyPair } from '../../src/crypto/sign.js'

export async function tcpPair (t: TestContext): Promise<[net.Socket, net.Socket]> {
  const server = net.createServer()
  t.after(() => server.close())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as net.AddressInfo
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const client = net.connect(port, '127.0.0.1')
  const connected = new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  const [serverSide] = await Promise.all([accepted, connected])
  t.after(() => { client.destroy(); serverSide.destroy() })
  return [client, serverSide]
}

// Both halves of a finished XX handshake, as hyperdht hands them to a stream.
export function handshakePair (a: KeyPair = keyPair(), b: KeyPair = keyPair()): [HandshakeResult, HandshakeResult] {
  const i = new NoiseState('XX', true, a)
  const r = new NoiseState('XX', false, b)
  r.recv(i.send())
  i.recv(r.send())
  r.recv(i.send())
  return [
    { tx: i.tx!, rx: i.rx!, hash: i.hash!, publicKey: a.publicKey, remotePublicKey: b.publicKey },
    { tx: r.tx!, rx: r.rx!, hash: r.hash!, publicKey: b.publicKey, remotePublicKey: a.publicKey }
  ]
}

// Resolves with the first n 'data' chunks, copied; rejects on error or close first.
export function collect (stream: Duplex, n: number): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = []
    const ondata = (d: Uint8Array): void => {
      out.push(Buffer.from(d))
      if (out.length === n) done()
    }
    const onerror = (err: Error): void => { cleanup(); reject(err) }
    const onclose = (): void => { cleanup(); reject(new Error(`closed after ${out.length} of ${n} chunks`)) }
    const cleanup = (): void => {
      stream.off('data', ondata)
      stream.off('error', onerror)
      stream.off('close', onclose)
    }
    const done = (): void => { cleanup(); resolve(out) }
    stream.on('data', ondata)
    stream.once('error', onerror)
    stream.once('close', onclose)
  })
}

// Resolves with the error the stream is destroyed with (null when none).
export function closedWith (stream: Duplex): Promise<Error | null> {
  return new Promise((resolve) => {
    let error: Error | null = null
    stream.on('error', (err: Error) => { error = err })
    if (stream.destroyed) resolve(stream.errored ?? null)
    else stream.once('close', () => resolve(error ?? stream.errored ?? null))
  })
}
