// Copies a local folder (or one file) into a drive: folders, regular files
// with their permission bits and mtime, and symlinks as links, each keeping
// its mtime. Other kinds (sockets, devices, fifos) have no place in a drive
// and are skipped. The drive's root has no entry of its own, so it has no
// time to keep.
// The folder or file named by the caller is followed when it is a symlink
// (the user named what it points to, as `cat link` would); links inside it
// are copied as links.
import { createReadStream } from 'node:fs'
import { lstat, readdir, readlink, stat } from 'node:fs/promises'
import { join } from 'node:path'
import type { Drive } from '../drive/types.js'
import { isHyperfsError } from '../errors.js'

export interface ImportSummary {
  files: number
  bytes: number
  skipped: string[]
}

export async function importFolder (drive: Drive, local: string, at: string): Promise<ImportSummary> {
  const summary: ImportSummary = { files: 0, bytes: 0, skipped: [] }
  const st = await stat(local)
  if (st.isDirectory()) {
    if (at !== '/') await drive.mkdir(at, { mode: st.mode & 0o7777 }).catch((err) => { if (!isHyperfsError(err, 'EEXIST')) throw err })
    await walk(drive, local, at, summary)
    if (at !== '/') await drive.utimes(at, st.atimeMs, st.mtimeMs)
  } else {
    await copyOne(drive, local, at, summary, true)
  }
  return summary
}

async function walk (drive: Drive, dir: string, at: string, summary: ImportSummary): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const local = join(dir, name)
    const path = at === '/' ? `/${name}` : `${at}/${name}`
    const st = await lstat(local)
    if (st.isDirectory()) {
      await drive.mkdir(path, { mode: st.mode & 0o7777 }).catch((err) => { if (!isHyperfsError(err, 'EEXIST')) throw err })
      await walk(drive, local, path, summary)
      // after its entries: a folder's time is what the source says, not when the copy ended
      await drive.utimes(path, st.atimeMs, st.mtimeMs)
    } else {
      await copyOne(drive, local, path, summary)
    }
  }
}

async function copyOne (drive: Drive, local: string, path: string, summary: ImportSummary, follow = false): Promise<void> {
  const st = follow ? await stat(local) : await lstat(local)
  if (st.isSymbolicLink()) {
    await drive.symlink(await readlink(local), path)
    await drive.utimes(path, st.atimeMs, st.mtimeMs) // the link's own time: utimes does not follow it
  } else if (st.isFile()) {
    await drive.writeFile(path, createReadStream(local), { mode: st.mode & 0o7777, mtime: st.mtimeMs })
    summary.files++
    summary.bytes += st.size
  } else {
    summary.skipped.push(local)
  }
}
