// Write tokens (docs/wire.md §7.2): token = H[secret](ASCII host), so a token proves
// the requester can receive at that IP. Two secret slots; on rotation the
// slots swap and the older one is re-hashed into a fresh secret. Both slots
// verify, so a token stays valid for one to two rotation periods. The real
// dht-rpc rotates every 10 ticks of 750 ms; the owner of the clock calls
// rotate().
import { hash, keyedHash, randomBytes } from '../crypto/index.js'

export class Tokens {
  private readonly secrets: [Buffer, Buffer]

  constructor () {
    this.secrets = [randomBytes(32), randomBytes(32)]
  }

  // slot 1 is the current secret: new tokens are issued from it
  create (host: string, slot: 0 | 1 = 1): Buffer {
    return keyedHash(this.secrets[slot], Buffer.from(host))
  }

  verify (host: string, token: Uint8Array): boolean {
    if (token.byteLength !== 32) return false
    const t = Buffer.from(token.buffer, token.byteOffset, token.byteLength)
    return t.equals(this.create(host, 1)) || t.equals(this.create(host, 0))
  }

  rotate (): void {
    const older = this.secrets[0]
    this.secrets[0] = this.secrets[1]
    // derive rather than draw: the next secret is unpredictable to peers either way
    this.secrets[1] = hash(older)
  }
}
