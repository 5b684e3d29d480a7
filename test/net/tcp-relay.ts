// A TCP relay on 127.0.0.1 that a test can take down and bring back, to play
// a link outage without root or netem. TCP never loses bytes, it delays
// them: while the link is down every byte is held in the relay, and it is
// delivered, in order, when the link returns. Closed through t.after.
import net from 'node:net'
import type { TestContext } from 'node:test'

interface Leg { from: net.Socket, to: net.Socket, held: Buffer[] }

export interface TcpRelay {
  port: number
  down (): void // hold every byte in both directions
  up (): void // deliver what was held, then relay again
  connections (): number // open now
  accepted (): number // ever
}

export async function tcpRelay (t: TestContext, targetPort: number): Promise<TcpRelay> {
  let isDown = false
  let accepted = 0
  const legs = new Set<Leg>()
  const closing = new Set<net.Socket>() // closed on the other side while the link was down
  const sockets = new Set<net.Socket>()
  const track = (s: net.Socket) => {
    sockets.add(s)
    s.on('error', () => {})
    s.once('close', () => sockets.delete(s))
  }
  const server = net.createServer((inbound) => {
    accepted++
    const outbound = net.connect(targetPort, '127.0.0.1')
    track(inbound)
    track(outbound)
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]]) {
      const leg: Leg = { from, to, held: [] }
      legs.add(leg)
      from.on('data', (chunk: Buffer) => {
        if (isDown) leg.held.push(chunk)
        else to.write(chunk)
      })
      // a close does not cross a link that is down either: the far end would
      // otherwise learn of it at once, where a real outage tells it nothing
      from.once('close', () => {
        legs.delete(leg)
        if (isDown) closing.add(to)
        else to.destroy()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return {
    port: (server.address() as net.AddressInfo).port,
    down () { isDown = true },
    up () {
      isDown = false
      for (const leg of legs) for (const chunk of leg.held.splice(0)) leg.to.write(chunk)
      for (const s of closing) s.destroy()
      closing.clear()
    },
    connections: () => sockets.size / 2,
    accepted: () => accepted
  }
}
