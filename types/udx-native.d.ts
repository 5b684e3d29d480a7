// udx-native ships no types. This declares the UDP socket surface the DHT layer
// uses (bind, trySend with TTL, message events, close). Extend it as other
// layers start using streams.
declare module 'udx-native' {
  import { EventEmitter } from 'node:events'

  export interface UDXAddress { host: string, family: number, port: number }

  export class UDXSocket extends EventEmitter {
    readonly bound: boolean
    readonly closing: boolean
    address (): UDXAddress | null
    bind (port?: number, host?: string): void
    close (): Promise<void>
    // fire-and-forget send; ttl 0 means the OS default
    trySend (buffer: Uint8Array, port: number, host: string, ttl?: number): void
    send (buffer: Uint8Array, port: number, host: string, ttl?: number): Promise<boolean>
    setTTL (ttl: number): void
    on (event: 'message', listener: (buffer: Buffer, rinfo: UDXAddress) => void): this
    on (event: 'close' | 'listening', listener: () => void): this
    off (event: 'message', listener: (buffer: Buffer, rinfo: UDXAddress) => void): this
  }

  // A reliable stream multiplexed on a UDXSocket by stream id (a streamx Duplex).
  export class UDXStream extends EventEmitter {
    readonly id: number
    readonly connected: boolean
    readonly destroyed: boolean
    readonly remoteId: number
    readonly remoteHost: string | null
    readonly remotePort: number
    readonly socket: UDXSocket | null
    readonly rtt: number
    connect (socket: UDXSocket, remoteId: number, port: number, host: string): void
    setKeepalive (ms: number): void
    write (data: Uint8Array): boolean
    end (data?: Uint8Array): this
    destroy (err?: Error): void
    pause (): this
    resume (): this
  }

  export interface UDXStreamOptions {
    framed?: boolean
    // called with the first packet for this stream id before connect(); true drops it
    firewall?: (socket: UDXSocket, port: number, host: string, family: number) => boolean
  }

  export default class UDX {
    createStream (id: number, opts?: UDXStreamOptions): UDXStream
    constructor ()
    static isIPv4 (host: string): boolean
    static isIP (host: string): number
    createSocket (opts?: { ipv6Only?: boolean, reuseAddress?: boolean }): UDXSocket
    lookup (host: string, opts?: { family?: 0 | 4 | 6 }): Promise<{ host: string, family: number }>
  }
}
