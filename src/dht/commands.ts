// dht-rpc internal command numbers (docs/wire.md §7.3). They are sent with the
// internal flag (4) set; hyperdht's commands reuse 0–10 with the flag clear.
export const INTERNAL_COMMANDS = {
  PING: 0,
  PING_NAT: 1,
  FIND_NODE: 2,
  DOWN_HINT: 3,
  DELAYED_PING: 4
} as const
