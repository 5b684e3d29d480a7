declare module 'random-access-file' {
  import { EventEmitter } from 'node:events'
  type Cb<T = void> = (err: Error | null, value?: T) => void
  class RandomAccessFile extends EventEmitter {
    constructor (filename: string, opts?: { directory?: string, lock?: boolean, sparse?: boolean, truncate?: boolean, size?: number, readable?: boolean, writable?: boolean, alloc?: (n: number) => Buffer })
    filename: string
    fd: number
    closed: boolean
    open (cb: Cb): void
    read (offset: number, size: number, cb: Cb<Buffer>): void
    write (offset: number, data: Uint8Array, cb: Cb): void
    del (offset: number, size: number, cb: Cb): void
    truncate (offset: number, cb: Cb): void
    stat (cb: Cb<{ size: number, blocks: number }>): void
    close (cb: Cb): void
    unlink (cb: Cb): void
  }
  export default RandomAccessFile
}
