// Address classes that decide connection paths (as hyperdht uses bogon):
// a bogon (private, loopback, link-local, reserved) is never dialled as a
// public address; private ones are LAN shortcut candidates.
import { networkInterfaces } from 'node:os'
import type { IPv4Address } from '../codec/index.js'

function parts (host: string): number[] | null {
  const p = host.split('.').map(Number)
  return p.length === 4 && p.every((n) => Number.isInteger(n) && n >= 0 && n < 256) ? p : null
}

export function isPrivate (host: string): boolean {
  const p = parts(host)
  if (p === null) return false
  const [a, b] = p
  return a === 10 || (a === 172 && b >= 16 && b < 32) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b < 128)
}

export function isBogon (host: string): boolean {
  const p = parts(host)
  if (p === null) return true
  const [a, b, c] = p
  return isPrivate(host) || a === 0 || a === 127 || (a === 169 && b === 254) || a >= 224 ||
    (a === 192 && b === 0 && (c === 0 || c === 2)) || (a === 198 && (b === 18 || b === 19)) ||
    (a === 198 && b === 51 && c === 100) || (a === 203 && b === 0 && c === 113)
}

// our non-internal IPv4 addresses at `port`
export function localAddresses (port: number): IPv4Address[] {
  const out: IPv4Address[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === 'IPv4' && !a.internal) out.push({ host: a.address, port })
    }
  }
  return out
}

export function sameAddress (a: IPv4Address | null, b: IPv4Address | null): boolean {
  return a !== null && b !== null && a.host === b.host && a.port === b.port
}
