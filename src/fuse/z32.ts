// z-base-32, the human-friendly key encoding hyper:// links use
// (alphabet "ybndrfg8ejkmcpqxot1uwisza345h769", 5 bits per character, most
// significant bit first, no padding). Only encoding is needed here: the FUSE
// layer shows keys, it never parses them.
const ALPHABET = 'ybndrfg8ejkmcpqxot1uwisza345h769'

export function z32 (buf: Uint8Array): string {
  let out = ''
  let bits = 0
  let acc = 0
  for (const byte of buf) {
    acc = (acc << 8) | byte
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(acc >>> bits) & 31]
    }
    acc &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31]
  return out
}
