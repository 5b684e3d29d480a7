// UDP holepunching between two NATed peers (docs/wire.md §8.5 steps 7–9), simplified:
// both sides punch from the socket their DHT requests leave from, so the
// address a relay saw for us is the mapping the peer must hit.
//   client: probe round (round 0, punching = 0) through a relay of the
//           server, then a punch round (punching = 1); after each reply,
//           fire 1-byte 0x00 probes at every address the server reported
//   server: answers each round with its firewall and addresses; once the
//           client is punching it fires probes too and echoes any probe
//   the client takes the first probe that reaches it as the punched path;
//   the server learns the path from the client's first UDX packet.
// Payloads travel as nonce(24) ‖ secretbox(holepunchSecret), and a payload
// that fails to decrypt is dropped and counted. Probes are bounded
// (PROBE_ROUNDS × PROBE_INTERVAL) and everything stops on destroy().
import sodium from 'sodium-native'
import type { UDXSocket } from 'udx-native'
import { encode, type IPv4Address } from '../codec/index.js'
import { holepunchMessage, holepunchPayload, tryDecode, MODE, type HolepunchPayload } from '../codec/hyperdht-messages.js'
import { randomBytes, keyedHash } from '../crypto/index.js'
import { HyperfsError } from '../errors.js'
import { sameAddress } from './addresses.js'
import { COMMANDS, FIREWALL, PAYLOAD_ERROR } from './hyperdht-constants.js'
import type { IncomingRequest, SocketKind } from './io.js'
import type { HyperDHT } from './hyper-dht.js'

const PROBE_INTERVAL = 150
const PROBE_ROUNDS = 40

export interface PunchHooks {
  onconnect (socket: UDXSocket, port: number, host: string): void
  onabort (err?: Error): void
}

export class Holepuncher {
  readonly isInitiator: boolean
  readonly remoteFirewall: number
  destroyed = false
  private readonly dht: HyperDHT
  private readonly secret: Buffer
  private readonly localSecret = randomBytes(32)
  private readonly hooks: PunchHooks
  private remoteAddresses: IPv4Address[] = []
  private probeTimer: NodeJS.Timeout | null = null
  private probes = 0
  private round = 0
  private readonly onprobe = (kind: SocketKind, host: string, port: number): void => this.probe(kind, host, port)

  constructor (dht: HyperDHT, isInitiator: boolean, remoteFirewall: number, holepunchSecret: Buffer, hooks: PunchHooks) {
    this.dht = dht
    this.isInitiator = isInitiator
    this.remoteFirewall = remoteFirewall
    this.secret = holepunchSecret
    this.hooks = hooks
    dht.addProbeListener(this.onprobe)
  }

  get socketKind (): SocketKind {
    return this.dht.io.defaultSocket
  }

  async ready (): Promise<void> {}

  get firewall (): number {
    if (this.dht.host === null) return FIREWALL.UNKNOWN
    return this.dht.port === 0 ? FIREWALL.RANDOM : FIREWALL.CONSISTENT
  }

  get addresses (): IPv4Address[] {
    return this.dht.host !== null && this.dht.port !== 0 ? [{ host: this.dht.host, port: this.dht.port }] : []
  }

  encrypt (p: HolepunchPayload): Buffer {
    const plain = encode(holepunchPayload, p)
    const out = Buffer.allocUnsafe(24 + 16 + plain.byteLength)
    const nonce = out.subarray(0, 24)
    sodium.randombytes_buf(nonce)
    sodium.crypto_secretbox_easy(out.subarray(24), plain, nonce, this.secret)
    return out
  }

  decrypt (buf: Uint8Array): HolepunchPayload | null {
    if (buf.byteLength <= 24 + 16) return null
    const b = Buffer.from(buf)
    const plain = Buffer.allocUnsafe(b.byteLength - 40)
    if (!sodium.crypto_secretbox_open_easy(plain, b.subarray(24), b.subarray(0, 24), this.secret)) return null
    return tryDecode(holepunchPayload, plain)
  }

  token (addr: IPv4Address): Buffer {
    return keyedHash(this.localSecret, Buffer.from(addr.host))
  }

  // client: run the probe and punch rounds through the server's relay
  async punchClient (target: Buffer, info: { id: number, relays: Array<{ relayAddress: IPv4Address, peerAddress: IPv4Address }> }, relayAddress: IPv4Address, serverAddress: IPv4Address): Promise<void> {
    const relay = info.relays.find((r) => sameAddress(r.relayAddress, relayAddress)) ?? info.relays[0]
    // open our NAT towards the server's last known address before asking it to punch
    this.send(serverAddress, this.dht.punchTTL)
    for (const punching of [false, true]) {
      if (this.destroyed) return
      const payload = this.encrypt({
        error: PAYLOAD_ERROR.NONE,
        firewall: this.firewall,
        round: this.round++,
        connected: false,
        punching,
        addresses: this.addresses,
        remoteAddress: null,
        token: null,
        remoteToken: null
      })
      const res = await this.dht.request(relay.relayAddress, {
        command: COMMANDS.PEER_HOLEPUNCH,
        target,
        value: encode(holepunchMessage, { mode: MODE.FROM_CLIENT, id: info.id, payload, peerAddress: relay.peerAddress })
      }, { retries: 2 })
      if (this.destroyed) return
      const hp = tryDecode(holepunchMessage, res.value)
      if (hp === null || hp.mode !== MODE.REPLY) throw HyperfsError.CANNOT_HOLEPUNCH('bad holepunch reply')
      const remote = this.decrypt(hp.payload)
      if (remote === null) {
        this.dht.hyperStats.dropped.badHolepunch++
        throw HyperfsError.CANNOT_HOLEPUNCH('holepunch payload did not decrypt')
      }
      if (remote.error !== PAYLOAD_ERROR.NONE) throw HyperfsError.CANNOT_HOLEPUNCH('server aborted the holepunch: ' + remote.error)
      this.setRemote(remote.addresses ?? [], hp.peerAddress ?? relay.peerAddress)
      if (remote.firewall === FIREWALL.RANDOM && this.firewall === FIREWALL.RANDOM) throw HyperfsError.CANNOT_HOLEPUNCH('both NATs randomise ports')
    }
    this.startProbing()
  }

  // server: one holepunch round from the client, relayed to us
  async onremote (buf: Buffer, peerAddress: IPv4Address, req: IncomingRequest, fromOurRelay: boolean): Promise<Buffer | null> {
    if (this.destroyed) return null
    const remote = this.decrypt(buf)
    if (remote === null) {
      this.dht.hyperStats.dropped.badHolepunch++
      return null
    }
    if (remote.error !== PAYLOAD_ERROR.NONE) {
      this.destroy()
      this.hooks.onabort()
      return null
    }
    this.round = Math.max(this.round, remote.round)
    this.setRemote(remote.addresses ?? [], peerAddress)
    if (remote.punching) this.startProbing()
    const token = this.token(peerAddress)
    return this.encrypt({
      error: PAYLOAD_ERROR.NONE,
      firewall: this.firewall,
      round: this.round,
      connected: false,
      punching: remote.punching,
      addresses: this.addresses,
      remoteAddress: null,
      token: fromOurRelay ? token : null,
      remoteToken: remote.token
    })
  }

  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    if (this.probeTimer !== null) clearInterval(this.probeTimer)
    this.probeTimer = null
    this.dht.removeProbeListener(this.onprobe)
  }

  private setRemote (addresses: IPv4Address[], seen: IPv4Address): void {
    const list = [seen, ...addresses]
    this.remoteAddresses = list.filter((a, i) => list.findIndex((b) => sameAddress(a, b)) === i).slice(0, 4)
  }

  private startProbing (): void {
    if (this.probeTimer !== null || this.destroyed) return
    const tick = (): void => {
      if (this.probes++ >= PROBE_ROUNDS) {
        this.destroy()
        this.hooks.onabort(HyperfsError.CANNOT_HOLEPUNCH('no probe got through'))
        return
      }
      // the first rounds use a low TTL: enough to open our NAT, too little to
      // reach (and upset) theirs before they punch
      for (const a of this.remoteAddresses) this.send(a, this.probes < 3 ? this.dht.punchTTL : 0)
    }
    tick()
    this.probeTimer = setInterval(tick, PROBE_INTERVAL)
  }

  private send (to: IPv4Address, ttl: number): void {
    this.dht.io.send(this.socketKind, Buffer.from([0]), to, ttl)
  }

  private probe (kind: SocketKind, host: string, port: number): void {
    if (this.destroyed || kind !== this.socketKind) return
    if (!this.remoteAddresses.some((a) => a.host === host)) return
    if (!this.isInitiator) {
      this.send({ host, port }, 0)
      return
    }
    const socket = this.dht.io.udxSocket(kind)
    if (socket === null) return
    this.destroy()
    this.hooks.onconnect(socket, port, host)
  }
}
