// hyperdht 6 constants (docs/wire.md §8.1). Its commands travel with the dht-rpc
// internal flag clear, so their numbers overlap the internal ones.
// NS.x = H(H("hyperswarm/dht") ‖ byte x), x the command number.
import { namespace } from '../crypto/index.js'

export const COMMANDS = {
  PEER_HANDSHAKE: 0,
  PEER_HOLEPUNCH: 1,
  FIND_PEER: 2,
  LOOKUP: 3,
  ANNOUNCE: 4,
  UNANNOUNCE: 5,
  MUTABLE_PUT: 6,
  MUTABLE_GET: 7,
  IMMUTABLE_PUT: 8,
  IMMUTABLE_GET: 9,
  PLUGIN: 10
} as const

const [ANNOUNCE, UNANNOUNCE, MUTABLE_PUT, PEER_HANDSHAKE, PEER_HOLEPUNCH] = namespace('hyperswarm/dht', [
  COMMANDS.ANNOUNCE, COMMANDS.UNANNOUNCE, COMMANDS.MUTABLE_PUT, COMMANDS.PEER_HANDSHAKE, COMMANDS.PEER_HOLEPUNCH
])

export const NS = { ANNOUNCE, UNANNOUNCE, MUTABLE_PUT, PEER_HANDSHAKE, PEER_HOLEPUNCH }

// errors inside Noise and holepunch payloads
export const PAYLOAD_ERROR = { NONE: 0, ABORTED: 1, VERSION_MISMATCH: 2, TRY_LATER: 3 } as const

export const FIREWALL = { UNKNOWN: 0, OPEN: 1, CONSISTENT: 2, RANDOM: 3 } as const

export const DEFAULT_PORT = 49737
