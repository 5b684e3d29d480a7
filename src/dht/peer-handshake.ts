// The Noise IK exchange hyperdht relays in PEER_HANDSHAKE (docs/wire.md §8.4): the
// client knows the server's Ed25519 key, the prologue is NS.PEER_HANDSHAKE,
// and each side's message carries an encoded noise payload. When it is done:
//   holepunchSecret = H[handshakeHash](NS.PEER_HOLEPUNCH)
// and the secret-stream starts from tx/rx/hash with no second handshake.
import { encode, decode } from '../codec/index.js'
import { noisePayload, type NoisePayload } from '../codec/hyperdht-messages.js'
import { keyedHash, type KeyPair } from '../crypto/index.js'
import { HyperfsError } from '../errors.js'
import { NoiseState } from '../net/noise.js'
import type { HandshakeResult } from '../net/secret-stream.js'
import { NS } from './hyperdht-constants.js'

export interface PeerHandshakeResult extends HandshakeResult {
  isInitiator: boolean
  holepunchSecret: Buffer
}

export class PeerHandshake {
  readonly isInitiator: boolean
  private readonly noise: NoiseState
  private readonly keyPair: KeyPair

  // remotePublicKey given: we are the client (IK initiator)
  constructor (keyPair: KeyPair, remotePublicKey: Uint8Array | null) {
    this.isInitiator = remotePublicKey !== null
    this.keyPair = keyPair
    this.noise = new NoiseState('IK', this.isInitiator, keyPair, { prologue: NS.PEER_HANDSHAKE, remoteStaticKey: remotePublicKey })
  }

  get remotePublicKey (): Buffer | null {
    return this.noise.remotePublicKey
  }

  send (payload: NoisePayload): Buffer {
    return this.noise.send(encode(noisePayload, payload))
  }

  // throws HANDSHAKE_FAILED (bad MAC, bad point) or DECODE_ERROR
  recv (message: Uint8Array): NoisePayload {
    const plain = this.noise.recv(message)
    try {
      return decode(noisePayload, plain, true)
    } catch (err) {
      throw HyperfsError.from('HANDSHAKE_FAILED', 'bad noise payload: ' + (err as Error).message, err)
    }
  }

  final (): PeerHandshakeResult {
    if (!this.noise.complete) throw HyperfsError.HANDSHAKE_FAILED('handshake unfinished')
    const hash = this.noise.hash as Buffer
    return {
      isInitiator: this.isInitiator,
      tx: this.noise.tx as Buffer,
      rx: this.noise.rx as Buffer,
      hash,
      publicKey: this.keyPair.publicKey,
      remotePublicKey: this.noise.remotePublicKey as Buffer,
      holepunchSecret: keyedHash(hash, NS.PEER_HOLEPUNCH)
    }
  }
}

export function emptyPayload (): NoisePayload {
  return {
    version: 1,
    error: 0,
    firewall: 0,
    holepunch: null,
    addresses4: [],
    addresses6: [],
    udx: null,
    secretStream: null,
    relayThrough: null,
    relayAddresses: null,
    tcp: null
  }
}
