// Client side of a hyperdht connection (docs/wire.md §8.5):
//   1. relays: the caller's relayAddresses (from a LOOKUP record), our own
//      forward if we hold the server's record, then a FIND_PEER query on H(pk)
//   2. PEER_HANDSHAKE {FROM_CLIENT, IK msg1} through one relay at a time; the
//      answer is a REPLY with msg2 and the server's address as the relay saw it
//   3. path: straight to the server when it answered itself or is OPEN;
//      wait for it when we are OPEN; otherwise holepunch
//   4. our UDX stream connects to the server's stream id; the SecretStream
//      starts as the initiator from the IK result
//   5. tcp fallback (hyperfs servers only, tcp: true): msg1 carries the
//      hyperfs-only tcp field, and a server that answers with its TCP port
//      gets a second chance: when the UDX path fails, or nothing arrives on
//      its stream within UDX_OPEN_TIMEOUT, we dial that port and start the same
//      secret-stream from the IK result (tcp-fallback.ts). Without that answer
//      (a real hyperdht server) nothing differs from the steps above.
// Every step is bounded: each request retries a few times, the query stops by
// itself, and the passive wait and the punch have timeouts.
import type { Duplex } from 'node:stream'
import type { UDXSocket } from 'udx-native'
import { encode, type IPv4Address } from '../codec/index.js'
import { handshakeMessage, tryDecode, MODE, type NoisePayload } from '../codec/hyperdht-messages.js'
import { hash, type KeyPair } from '../crypto/index.js'
import { HyperfsError, isHyperfsError } from '../errors.js'
import { SecretStream } from '../net/secret-stream.js'
import { isBogon, sameAddress } from './addresses.js'
import { COMMANDS, FIREWALL, PAYLOAD_ERROR } from './hyperdht-constants.js'
import { PeerHandshake, emptyPayload } from './peer-handshake.js'
import { Holepuncher } from './holepuncher.js'
import { hex } from './router.js'
import type { HyperDHT } from './hyper-dht.js'
import { dialTcp } from './tcp-fallback.js'

const PASSIVE_TIMEOUT = 10_000
const UDX_OPEN_TIMEOUT = 5_000
const MAX_RELAYS_TRIED = 4

export interface ConnectOptions {
  keyPair?: KeyPair
  // relays from a LOOKUP record: tried before any FIND_PEER query
  relayAddresses?: IPv4Address[]
  signal?: AbortSignal
  // false: fail instead of holepunching
  holepunch?: boolean
  // offer the TCP fallback to hyperfs servers (default false)
  tcp?: boolean
  // false: count every UDX path as failed, as when UDP beyond the DHT is lost
  // (tests force the TCP fallback with it)
  udx?: boolean
}

interface Reached {
  payload: NoisePayload
  relayAddress: IPv4Address
  serverAddress: IPv4Address
  clientAddress: IPv4Address
  relayed: boolean
}

export async function connect (dht: HyperDHT, remotePublicKey: Uint8Array, opts: ConnectOptions = {}): Promise<SecretStream> {
  const keyPair = opts.keyPair ?? dht.defaultKeyPair
  const target = hash(remotePublicKey)
  const signal = opts.signal
  await dht.fullyBootstrapped()
  if (signal?.aborted === true) throw HyperfsError.REQUEST_CANCELLED()

  let onsocket: ((socket: UDXSocket, port: number, host: string) => void) | null = null
  let early: { socket: UDXSocket, port: number, host: string } | null = null
  const raw = dht.createRawStream({
    firewall: (socket, port, host) => {
      if (!(port > 0 && port < 65536)) return true
      if (onsocket !== null) onsocket(socket, port, host)
      else early = { socket, port, host }
      return false
    }
  })

  try {
    const hs = new PeerHandshake(keyPair, remotePublicKey)
    const ourAddress = dht.remoteAddress()
    const payload = emptyPayload()
    payload.firewall = ourAddress !== null ? FIREWALL.OPEN : FIREWALL.UNKNOWN
    payload.addresses4 = ourAddress !== null ? [ourAddress] : []
    payload.udx = { version: 1, reusableSocket: false, id: raw.id, seq: 0 }
    payload.secretStream = { version: 1 }
    // we only dial: port 0
    if (opts.tcp === true) payload.tcp = { port: 0 }
    const msg1 = hs.send(payload)

    const reached = await findAndHandshake(dht, target, msg1, hs, opts)
    const remote = reached.payload
    if (remote.version !== 1) throw HyperfsError.SERVER_ERROR('server speaks another handshake version')
    if (remote.error !== PAYLOAD_ERROR.NONE) throw HyperfsError.SERVER_ERROR('server aborted with error ' + remote.error)
    if (remote.udx === null) throw HyperfsError.SERVER_ERROR('server sent no UDX info')
    const h = hs.final()
    const remoteId = remote.udx.id
    const tcpPort = opts.tcp === true && remote.tcp != null && remote.tcp.port > 0 ? remote.tcp.port : 0

    const connected = new Promise<SecretStream>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null
      const onabort = (): void => finish(HyperfsError.REQUEST_CANCELLED())
      const finish = (err: Error | null, socket?: UDXSocket, port?: number, host?: string): void => {
        if (onsocket === null) return
        onsocket = null
        if (timer !== null) clearTimeout(timer)
        signal?.removeEventListener('abort', onabort)
        if (punch !== null) punch.destroy()
        if (err !== null) { reject(err); return }
        try {
          raw.connect(socket as UDXSocket, remoteId, port as number, host as string)
        } catch (e) {
          reject(e as Error)
          return
        }
        resolve(new SecretStream(true, raw as any, { handshake: h, keepAlive: dht.connectionKeepAlive }))
      }
      onsocket = (socket, port, host) => finish(null, socket, port, host)
      signal?.addEventListener('abort', onabort, { once: true })
      let punch: Holepuncher | null = null

      if (opts.udx === false) { finish(HyperfsError.PEER_CONNECTION_FAILED('udx disabled')); return }
      // the server already reached our stream
      if (early !== null) { finish(null, early.socket, early.port, early.host); return }
      const socket = dht.socket
      if (socket === null) { finish(HyperfsError.REQUEST_DESTROYED('dht closed')); return }
      if (!reached.relayed) {
        finish(null, socket, reached.relayAddress.port, reached.relayAddress.host)
        return
      }
      const holepunchable = remote.holepunch !== null && remote.holepunch.relays.length > 0
      if (remote.firewall === FIREWALL.OPEN || !holepunchable) {
        const addr = remote.addresses4.find((a) => !isBogon(a.host)) ?? reached.serverAddress
        finish(null, socket, addr.port, addr.host)
        return
      }
      timer = setTimeout(() => finish(HyperfsError.PEER_CONNECTION_FAILED('timed out waiting for the server')), PASSIVE_TIMEOUT)
      // we are reachable: the server connects to us
      if (payload.firewall === FIREWALL.OPEN) return
      if (opts.holepunch === false) { finish(HyperfsError.CANNOT_HOLEPUNCH('holepunching disabled')); return }
      punch = new Holepuncher(dht, true, remote.firewall, h.holepunchSecret, {
        onconnect: (s, port, host) => onsocket?.(s, port, host),
        onabort: (err) => finish(err ?? HyperfsError.CANNOT_HOLEPUNCH())
      })
      punch.punchClient(target, remote.holepunch as { id: number, relays: Array<{ relayAddress: IPv4Address, peerAddress: IPv4Address }> }, reached.relayAddress, reached.serverAddress)
        .catch((err: Error) => finish(err))
    })
    if (tcpPort === 0) return await connected

    let udxError: Error
    try {
      const stream = await connected
      if (await heardWithin(stream, raw as unknown as Duplex, UDX_OPEN_TIMEOUT, signal)) return stream
      stream.destroy()
      udxError = HyperfsError.PEER_CONNECTION_FAILED('nothing arrived on the udx stream')
    } catch (err) {
      if (isHyperfsError(err, 'REQUEST_CANCELLED')) throw err
      udxError = err as Error
    }
    raw.destroy()
    const hosts = [reached.serverAddress.host, ...remote.addresses4.map((a) => a.host)]
    try {
      return await dialTcp(hosts, tcpPort, h, { keepAlive: dht.connectionKeepAlive, signal })
    } catch (err) {
      if (isHyperfsError(err, 'REQUEST_CANCELLED')) throw err
      throw HyperfsError.from('PEER_CONNECTION_FAILED', 'udx: ' + udxError.message + '; tcp: ' + (err as Error).message, err)
    }
  } catch (err) {
    raw.destroy()
    throw err
  }
}

async function findAndHandshake (dht: HyperDHT, target: Buffer, msg1: Buffer, hs: PeerHandshake, opts: ConnectOptions): Promise<Reached> {
  const tried = new Set<string>()
  let attempts = 0
  const tryNode = async (addr: IPv4Address): Promise<Reached | null> => {
    const key = addr.host + ':' + addr.port
    if (tried.has(key) || tried.size >= MAX_RELAYS_TRIED) return null
    tried.add(key)
    attempts++
    let res
    try {
      res = await dht.request(addr, {
        command: COMMANDS.PEER_HANDSHAKE,
        target,
        value: encode(handshakeMessage, { mode: MODE.FROM_CLIENT, noise: msg1, peerAddress: null, relayAddress: null })
      }, { signal: opts.signal, retries: 2 })
    } catch (err) {
      if (isHyperfsError(err, 'REQUEST_CANCELLED')) throw err
      return null
    }
    const m = tryDecode(handshakeMessage, res.value)
    if (m === null || m.mode !== MODE.REPLY || m.noise.byteLength === 0 || !sameAddress(res.from, addr)) return null
    let payload: NoisePayload
    try {
      payload = hs.recv(m.noise)
    } catch (err) {
      dht.hyperStats.dropped.badHandshake++
      throw err
    }
    return { payload, relayAddress: addr, serverAddress: m.peerAddress ?? addr, clientAddress: res.to, relayed: m.peerAddress !== null }
  }

  for (const addr of opts.relayAddresses ?? []) {
    const r = await tryNode(addr)
    if (r !== null) return r
  }
  const route = dht.router.get(hex(target))
  if (route !== null && route.relay !== null) {
    const r = await tryNode(route.relay)
    if (r !== null) return r
  }
  const q = dht.query({ target, command: COMMANDS.FIND_PEER }, { signal: opts.signal })
  try {
    for await (const reply of q) {
      if (reply.value === null || reply.error !== 0) continue
      const r = await tryNode(reply.from)
      if (r !== null) return r
    }
    // the walk may end before any relay reported the record: the closest nodes are the relays
    for (const reply of q.closestReplies.slice(0, 3)) {
      const r = await tryNode(reply.from)
      if (r !== null) return r
    }
  } finally {
    q.destroy()
  }
  throw attempts > 0 ? HyperfsError.PEER_CONNECTION_FAILED() : HyperfsError.PEER_NOT_FOUND()
}

// true once the server's first bytes (its id frame) arrive on the UDX stream;
// false when it fails or stays silent. The stream's `opened` cannot tell: it
// resolves as soon as our side starts from the IK result.
function heardWithin (stream: SecretStream, raw: Duplex, ms: number, signal?: AbortSignal): Promise<boolean> {
  if (stream.rawBytesRead > 0) return Promise.resolve(true)
  return new Promise((resolve, reject) => {
    const finish = (ok: boolean | null): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onabort)
      raw.removeListener('data', ondata)
      raw.removeListener('close', onclose)
      if (ok === null) { stream.destroy(); reject(HyperfsError.REQUEST_CANCELLED()); return }
      resolve(ok)
    }
    const ondata = (): void => finish(true)
    const onclose = (): void => finish(false)
    const onabort = (): void => finish(null)
    const timer = setTimeout(() => finish(false), ms)
    signal?.addEventListener('abort', onabort, { once: true })
    raw.once('data', ondata)
    raw.once('close', onclose)
  })
}
