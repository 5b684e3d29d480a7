// The code cites protocol facts as `docs/wire.md §6.4`; a citation must land on
// a section of that file in this repo, not on a sheet that lives elsewhere.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CITATION = /(docs\/[a-z0-9-]+\.md) ?§ ?(\d+(?:\.\d+)?)/g

function sources (dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) sources(p, out)
    else if (name.endsWith('.ts')) out.push(p)
  }
  return out
}

function sections (doc: string): Set<string> {
  const out = new Set<string>()
  for (const line of readFileSync(doc, 'utf8').split('\n')) {
    const m = /^#{2,4} (\d+(?:\.\d+)?)[. ]/.exec(line)
    if (m) out.add(m[1])
  }
  return out
}

test('every docs/…md § citation in the code names a section of a file in the repo', () => {
  const docs = new Map<string, Set<string>>()
  let cited = 0
  const missing: string[] = []
  for (const dir of ['src', 'test', 'bench']) {
    for (const file of sources(join(ROOT, dir))) {
      for (const m of readFileSync(file, 'utf8').matchAll(CITATION)) {
        const [, doc, section] = m
        if (!docs.has(doc)) docs.set(doc, existsSync(join(ROOT, doc)) ? sections(join(ROOT, doc)) : new Set())
        const have = docs.get(doc)!
        // §6 is cited by its number; §6.4 by its own heading, or its chapter when it has no subsections
        if (!have.has(section)) missing.push(`${file.slice(ROOT.length)}: ${doc} §${section}`)
        cited++
      }
    }
  }
  assert.ok(cited > 20, `expected the code to cite docs/wire.md, found ${cited} citations`)
  assert.deepEqual(missing, [])
})
