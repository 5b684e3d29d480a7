#!/usr/bin/env node
// Builds, with the C compiler and the headers already on this machine (Node's
// own, installed with node; libfuse3's, from pkg-config fuse3), into build/:
//   - hyperfs_crc.node: CRC-32 at memory speed (needs only Node's headers);
//   - hyperfs_fuse.node: the libfuse3 binding;
//   - hyperfs_ceiling: bench/fuse.ts's minimal C filesystem.
// Nothing is downloaded. Exits non-zero, saying what is missing, when it
// cannot build one; hyperfs then uses node:zlib's crc32 and fuse-native.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, renameSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, 'build', 'hyperfs_fuse.node')
const crcOut = join(here, 'build', 'hyperfs_crc.node')
const crcSource = join(here, 'hyperfs_crc.c')
const source = join(here, 'hyperfs_fuse.c')
const ceilingOut = join(here, 'build', 'hyperfs_ceiling')
const ceilingSource = join(here, 'bench', 'ceiling.c')

function nodeHeaders () {
  const candidates = [
    process.env.HYPERFS_NODE_HEADERS,
    resolve(process.execPath, '../../include/node'), // beside the node binary (/usr/bin/node, /usr/local/bin/node)
    '/usr/local/include/node',
    '/usr/include/node'
  ]
  try {
    // the node-api-headers package, if someone installed it
    const require = createRequire(import.meta.url)
    candidates.push(dirname(require.resolve('node-api-headers/include/node_api.h')))
  } catch {}
  return candidates.find((d) => d && existsSync(join(d, 'node_api.h')))
}

function fail (why) {
  console.error(`native addon not built: ${why}`)
  process.exit(1)
}

const headers = nodeHeaders()
if (!headers) fail('no node_api.h found (Node headers are installed with node; or set HYPERFS_NODE_HEADERS)')
const cc = process.env.CC || 'cc'
mkdirSync(dirname(out), { recursive: true })
const addonArgs = (name, output, src) => ['-std=gnu11', '-O2', '-g', '-fPIC', '-shared', '-Wall', '-Wextra', '-Wno-unused-parameter',
  '-fvisibility=hidden', `-I${headers}`, `-DNODE_GYP_MODULE_NAME=${name}`, '-DNAPI_VERSION=8', '-o', output, src]
try {
  execFileSync(cc, addonArgs('hyperfs_crc', crcOut + '.tmp', crcSource), { stdio: 'inherit' })
} catch {
  fail(`${cc} failed on hyperfs_crc.c (see above)`)
}
renameSync(crcOut + '.tmp', crcOut)
let fuseFlags
try {
  fuseFlags = execFileSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' }).trim().split(/\s+/)
} catch {
  fail('pkg-config fuse3 failed: install libfuse3-dev and pkg-config (npm run setup does)')
}
const tmp = out + '.tmp'
const args = [...addonArgs('hyperfs_fuse', tmp, source), ...fuseFlags, '-lpthread']
const ceilingArgs = ['-std=gnu11', '-O2', '-Wall', '-Wextra', '-o', ceilingOut + '.tmp', ceilingSource, ...fuseFlags, '-lpthread']
try {
  execFileSync(cc, args, { stdio: 'inherit' })
  execFileSync(cc, ceilingArgs, { stdio: 'inherit' })
} catch {
  fail(`${cc} failed (see above)`)
}
// replace atomically: a process may have the old one loaded
renameSync(tmp, out)
renameSync(ceilingOut + '.tmp', ceilingOut)
console.log(`built ${crcOut}, ${out} and ${ceilingOut}`)
