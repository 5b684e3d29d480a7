// Bootstrap node addresses (docs/wire.md §8.1). The form `suggestedIP@dnsName:port`
// means: ping the IP first and resolve the DNS name only if that fails.
// DEFAULT_BOOTSTRAP is the public HyperDHT network; it is never used unless a
// caller passes it explicitly (tests always pass a local list).
import { HyperfsError } from '../errors.js'

export interface BootstrapNode {
  host: string
  port: number
  // DNS name to resolve if `host` (a suggested IP) does not answer
  fallback: string | null
}

export const DEFAULT_BOOTSTRAP: readonly string[] = Object.freeze([
  '88.99.3.86@node1.hyperdht.org:49737',
  '142.93.90.113@node2.hyperdht.org:49737',
  '138.68.147.8@node3.hyperdht.org:49737'
])

export function parseBootstrapNode (s: string | { host: string, port: number }): BootstrapNode {
  if (typeof s !== 'string') return { host: s.host, port: s.port, fallback: null }
  const i = s.lastIndexOf(':')
  const port = Number(s.slice(i + 1))
  if (i === -1 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw HyperfsError.BAD_ARGUMENT('bootstrap node must be host:port, got ' + s)
  }
  const host = s.slice(0, i)
  const at = host.indexOf('@')
  if (at === -1) return { host, port, fallback: null }
  return { host: host.slice(0, at), port, fallback: host.slice(at + 1) }
}
