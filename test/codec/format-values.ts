// Fixed values of the drive and trie records, for the byte fixtures in
// test/fixtures/drive-formats.json (see format-fixtures.test.ts).
import type { Codec } from '../../src/codec/index.js'
import { trieHeader } from '../../src/codec/trie-header.js'
import { trieNode } from '../../src/codec/trie-node.js'
import { driveHeader } from '../../src/codec/drive-header.js'
import { driveStat } from '../../src/codec/drive-stat.js'
import { driveMount } from '../../src/codec/drive-mount.js'

const k = (b: number) => Buffer.alloc(32, b)
const mount = { key: k(3), version: 7, kind: 'drive' as const }

export const values: Record<string, [Codec<any>, unknown]> = {
  trieHeader: [trieHeader, { protocol: 'hyperfs/trie', metadata: Buffer.from('drive header bytes') }],
  trieNode: [trieNode, { key: 'docs/readme.txt', hidden: false, value: Buffer.from('stat'), levels: [{ depth: 1, bitmap: 0b101, seqs: [3, 9] }, { depth: 40, bitmap: 1 << 16, seqs: [12] }] }],
  trieNodeHiddenDeletion: [trieNode, { key: 'mounts/x', hidden: true, value: null, levels: [] }],
  driveHeader: [driveHeader, { contentKey: k(1), blockSize: 65536 }],
  driveMount: [driveMount, mount],
  driveStatFile: [driveStat, { mode: 0o100644, uid: 1000, gid: 1000, size: 70000, blocks: 2, offset: 5, byteOffset: 327680, mtime: 1795000000000, ctime: 1795000000001, linkname: null, metadata: { 'user.tag': Buffer.from('blue') }, mount: null }],
  driveStatLink: [driveStat, { mode: 0o120777, uid: 0, gid: 0, size: 0, blocks: 0, offset: 0, byteOffset: 0, mtime: 1, ctime: 2, linkname: '../target', metadata: {}, mount: null }],
  // version 1: extents (a run, a hole, a run that starts inside a block, a run before the previous one)
  driveStatExtents: [driveStat, { mode: 0o100600, uid: 1000, gid: 1000, size: 70000 + 5000 + 300 + 1, blocks: 4, offset: 0, byteOffset: 0, mtime: 1795000000000, ctime: 1795000000002, linkname: null, metadata: {}, mount: null, extents: [{ offset: 5, blocks: 2, skip: 0, length: 70000 }, { offset: 0, blocks: 0, skip: 0, length: 5000 }, { offset: 9, blocks: 1, skip: 100, length: 300 }, { offset: 2, blocks: 1, skip: 0, length: 1 }] }],
  driveStatMount: [driveStat, { mode: 0o40755, uid: 0, gid: 0, size: 0, blocks: 0, offset: 0, byteOffset: 0, mtime: 3, ctime: 4, linkname: null, metadata: {}, mount }]
}

