// Throughput of our SecretStream against @hyperswarm/secret-stream: one side
// writes N messages of a given size over loopback TCP, the other counts them.
// Prints MB/s for both and the ours/real ratio. Not part of the test suite.
import net from 'node:net'
import { createRequire } from 'node:module'
import type { Duplex } from 'node:stream'
import { SecretStream } from '../src/net/secret-stream.js'

const require = createRequire(import.meta.url)
const RealSecretStream = require('@hyperswarm/secret-stream')

type Make = (isInitiator: boolean, raw: Duplex) => Duplex & { opened: Promise<boolean> }

async function run (make: Make, size: number, total: number): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve))
  const client = net.connect(port, '127.0.0.1')
  const raw = await accepted
  const a = make(true, client)
  const b = make(false, raw)
  await Promise.all([a.opened, b.opened])

  const count = Math.floor(total / size)
  const msg = Buffer.alloc(size, 1)
  const start = process.hrtime.bigint()
  const done = new Promise<void>((resolve) => {
    let got = 0
    b.on('data', () => { if (++got === count) resolve() })
  })
  let i = 0
  const pump = (): void => {
    while (i < count) {
      i++
      if (!a.write(msg)) { a.once('drain', pump); return }
    }
  }
  pump()
  await done
  const secs = Number(process.hrtime.bigint() - start) / 1e9
  a.destroy()
  b.destroy()
  server.close()
  return (count * size) / secs / 1e6
}

const ours: Make = (i, raw) => new SecretStream(i, raw)
const real: Make = (i, raw) => new RealSecretStream(i, raw)

for (const [size, total] of [[65536, 512 * 1024 * 1024], [4096, 128 * 1024 * 1024], [256, 16 * 1024 * 1024]]) {
  // warm up both once, then measure alternately
  await run(real, size, total / 8)
  await run(ours, size, total / 8)
  const r = await run(real, size, total)
  const o = await run(ours, size, total)
  console.log(`${size}-byte messages: ours ${o.toFixed(0)} MB/s, real ${r.toFixed(0)} MB/s, ours/real ${(o / r).toFixed(2)}`)
}
