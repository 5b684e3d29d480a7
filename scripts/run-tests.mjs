#!/usr/bin/env node
// Runs the compiled tests (dist/test/**/*.test.js) with node's test runner.
// node --test takes files or directories, not globs, and a directory would also
// run helper modules, so the file list is collected here.
// Usage: node scripts/run-tests.mjs [substring-filter ...]
import { readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'

const root = new URL('../dist/test/', import.meta.url).pathname
const filters = process.argv.slice(2)

function walk (dir, out) {
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) walk(p, out)
    else if (name.endsWith('.test.js')) out.push(p)
  }
  return out
}

let files = walk(root, [])
if (filters.length) files = files.filter((f) => filters.some((s) => f.includes(s)))
if (files.length === 0) {
  console.error('no test files matched')
  process.exit(1)
}

// a test that never settles fails after 5 minutes instead of hanging the run
const args = ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=300000', ...files]
// HYPERFS_LOCAL_ONLY: a daemon refuses the public DHT and host-network MDNS
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: { ...process.env, HYPERFS_LOCAL_ONLY: '1' } })
process.exit(r.status ?? 1)
