// The package root: what a user of hyperfs as a library imports.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import * as hyperfs from '../src/index.js'

test('the package root exports both drive formats, the routing layer over them and the format factory', async (t) => {
  const { DriveStore, Hyperdrive, Hyperdrive13, RoutedDrive, DRIVE_FORMATS, formatOf } = hyperfs
  assert.deepEqual([...DRIVE_FORMATS], ['hypertrie', 'hyperdrive13'])
  const store = DriveStore.memory()
  t.after(() => store.close())
  const d13 = await store.create({ format: 'hyperdrive13' })
  const trie = await store.create()
  assert.ok(d13 instanceof Hyperdrive13 && d13 instanceof RoutedDrive)
  assert.ok(trie instanceof Hyperdrive && trie instanceof RoutedDrive)
  assert.equal(formatOf((await d13.metadata.get(0))!), 'hyperdrive13')
})
