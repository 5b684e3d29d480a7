// Shared bench helpers: timing, a results table with ours/real ratios, and
// temp folders. Ratios are speedups (>1 means ours is faster) whatever the unit.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'

export const oracle = createRequire(import.meta.url)

export interface Row {
  name: string
  unit: string
  ours: number
  real: number
  higherIsBetter: boolean
}

export async function time (fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint()
  await fn()
  return Number(process.hrtime.bigint() - start) / 1e6
}

export function tempDir (prefix: string): { path: string, remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export function printRows (title: string, rows: Row[]): void {
  console.log(`\n${title}`)
  console.log('| measure | ours | real | ours/real |')
  console.log('| --- | --- | --- | --- |')
  for (const r of rows) {
    const ratio = r.higherIsBetter ? r.ours / r.real : r.real / r.ours
    console.log(`| ${r.name} | ${fmt(r.ours)} ${r.unit} | ${fmt(r.real)} ${r.unit} | ${ratio.toFixed(2)} |`)
  }
}

function fmt (n: number): string {
  return n >= 100 ? n.toFixed(0) : n >= 1 ? n.toFixed(1) : n.toFixed(3)
}

export function mbps (bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000)
}
