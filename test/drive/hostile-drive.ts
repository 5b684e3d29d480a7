// Builds hostile drives for tests: entries and mount records written straight
// into a drive's trie, past every check the Drive API makes, as a peer that
// runs its own code could write them.
import { Hypertrie } from '../../src/trie/hypertrie.js'
import { encode, decode } from '../../src/codec/state.js'
import { driveStat } from '../../src/codec/drive-stat.js'
import { driveMount } from '../../src/codec/drive-mount.js'
import { trieNode } from '../../src/codec/trie-node.js'
import type { Hyperdrive } from '../../src/drive/hyperdrive.js'
import { statEntry } from '../../src/drive/stat-entry.js'
import { S_IFDIR, S_IFREG, S_IFLNK } from '../../src/drive/types.js'

export const dirStat = (): Buffer => encode(driveStat, statEntry({ mode: S_IFDIR | 0o755 }))
export const fileStat = (): Buffer => encode(driveStat, statEntry({ mode: S_IFREG | 0o644 }))
export const linkStat = (target: string): Buffer => encode(driveStat, statEntry({ mode: S_IFLNK | 0o777, linkname: target }))

// Puts `key` in the drive's trie. With `storedKey`, the node sits where `key`
// belongs but names itself `storedKey` (how a key with empty components, which
// the trie API normalises away, can still be sent).
export async function rawPut (drive: Hyperdrive, key: string, value: Buffer, opts: { hidden?: boolean, storedKey?: string } = {}): Promise<void> {
  const core = drive.metadata
  const trie = new Hypertrie(core)
  const append = core.append
  if (opts.storedKey !== undefined) {
    const storedKey = opts.storedKey
    core.append = (blocks) => append.call(core, (blocks as Uint8Array[]).map((b) => encode(trieNode, { ...decode(trieNode, b), key: storedKey })))
  }
  try {
    await trie.put(key, value, { hidden: opts.hidden })
  } finally {
    core.append = append
  }
}

// A mount point as mount() writes one: the visible folder and the hidden record.
export async function rawMount (drive: Hyperdrive, key: string, target: Buffer): Promise<void> {
  await rawPut(drive, key, encode(driveStat, statEntry({ mode: S_IFDIR | 0o755, mount: { key: target, version: null, kind: 'drive' } })))
  await rawPut(drive, key, encode(driveMount, { key: target, version: null, kind: 'drive' }), { hidden: true })
}

export const LONG_NAME = 'x'.repeat(300)

// Every kind of name issue 13 lists, next to good entries. The drive must
// already hold /dd and /a (folders) for the entries below them to be listed.
export async function plantBadNames (drive: Hyperdrive): Promise<void> {
  await rawPut(drive, 'dd/..', dirStat()) // ls -r walked /dd/.. = / forever
  await rawPut(drive, 'dd/.', dirStat()) // and /dd/. = /dd
  await rawPut(drive, 'evil\0name', fileStat()) // listed as "evil" through FUSE
  await rawPut(drive, LONG_NAME, fileStat()) // over NAME_MAX: lists, cannot be looked up
  await rawPut(drive, 'a/b', fileStat(), { storedKey: 'a//b' }) // an empty component
  await rawPut(drive, 'badlink', linkStat('good.txt\0../../etc/passwd'))
}
