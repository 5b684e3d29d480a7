// LAN discovery for the swarm over MDNS (bonjour-service). This is ours:
// Hyperswarm 4 has none, so nothing here touches the DHT wire and peers that
// do not speak it never see it.
//   service type "hyperfs", TCP, port = our LAN listener
//   TXT: t = H[topic]("hyperfs-mdns") hex (the topic itself never goes on the
//        LAN), k = our public key hex
// A browser matches announced t values against joined topics and reports
// {publicKey, host, port}; the swarm then dials TCP and runs Noise XX, checking
// that the remote static key is the advertised k.
import { Bonjour, type Service, type Browser } from 'bonjour-service'
import { keyedHash } from '../crypto/index.js'

const SERVICE_TYPE = 'hyperfs'
const TAG = Buffer.from('hyperfs-mdns')

export interface MdnsPeer {
  publicKey: Buffer
  topic: Buffer
  host: string
  port: number
}

export interface MdnsOptions {
  // the multicast interface address (default: the OS choice)
  interface?: string
}

export function mdnsTopicTag (topic: Uint8Array): string {
  return keyedHash(topic, TAG).toString('hex')
}

export class Mdns {
  private readonly bonjour: Bonjour
  private readonly browser: Browser
  private readonly published = new Map<string, Service>()
  private readonly topics = new Map<string, Buffer>()
  private readonly publicKey: Buffer
  private destroyed = false

  constructor (publicKey: Buffer, private readonly port: number, private readonly onpeer: (p: MdnsPeer) => void, opts: MdnsOptions = {}) {
    this.publicKey = publicKey
    // the options also reach multicast-dns, which takes `interface`
    this.bonjour = new Bonjour((opts.interface !== undefined ? { interface: opts.interface } : {}) as object, () => {})
    this.browser = this.bonjour.find({ type: SERVICE_TYPE, protocol: 'tcp' }, (s) => this.onservice(s))
    this.browser.on('txt-update', (s) => this.onservice(s))
  }

  announce (topic: Buffer): void {
    const tag = mdnsTopicTag(topic)
    this.topics.set(tag, topic)
    if (this.published.has(tag) || this.destroyed) return
    const name = `${this.publicKey.toString('hex').slice(0, 16)}-${tag.slice(0, 16)}`
    const service = this.bonjour.publish({ name, type: SERVICE_TYPE, protocol: 'tcp', port: this.port, txt: { t: tag, k: this.publicKey.toString('hex') }, probe: false, disableIPv6: true })
    service.on('error', () => {})
    this.published.set(tag, service)
    this.browser.update()
  }

  // look for a topic without announcing it
  find (topic: Buffer): void {
    this.topics.set(mdnsTopicTag(topic), topic)
    if (!this.destroyed) this.browser.update()
  }

  remove (topic: Buffer): void {
    const tag = mdnsTopicTag(topic)
    this.topics.delete(tag)
    const s = this.published.get(tag)
    this.published.delete(tag)
    if (s !== undefined) s.stop?.()
  }

  // re-query, e.g. on flush()
  update (): void {
    if (!this.destroyed) this.browser.update()
    for (const s of this.browser.services) this.onservice(s)
  }

  async destroy (): Promise<void> {
    if (this.destroyed) return
    this.destroyed = true
    this.browser.stop()
    await new Promise<void>((resolve) => this.bonjour.unpublishAll(() => resolve()))
    await new Promise<void>((resolve) => this.bonjour.destroy(() => resolve()))
  }

  private onservice (s: Service): void {
    if (this.destroyed) return
    const txt = s.txt as Record<string, unknown> | undefined
    const t = typeof txt?.t === 'string' ? txt.t : null
    const k = typeof txt?.k === 'string' ? txt.k : null
    if (t === null || k === null || !/^[0-9a-f]{64}$/.test(k)) return
    const topic = this.topics.get(t)
    if (topic === undefined) return
    const publicKey = Buffer.from(k, 'hex')
    if (publicKey.equals(this.publicKey)) return
    const host = (s.addresses ?? []).find((a) => /^\d+\.\d+\.\d+\.\d+$/.test(a)) ?? s.referer?.address
    if (host === undefined || !(s.port > 0 && s.port < 65536)) return
    this.onpeer({ publicKey, topic, host, port: s.port })
  }
}
