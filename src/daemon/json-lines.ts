// Newline-delimited JSON framing for the control socket, used by both ends.
// Each chunk is searched for newlines once, and a line's pieces are joined
// once it is complete, so a line costs time linear in its length however it
// is split (appending to a string and searching it all again on every chunk
// made a 60 MB put take 45 s). A line longer than the reader's bound is an
// error: the peer is told and the connection dropped, instead of buffering
// without end. UTF-8 never uses the byte 0x0a inside a character, so lines
// are split as bytes and decoded whole.
import { HyperfsError } from '../errors.js'

const NEWLINE = 0x0a

export class LineReader {
  readonly maxLine: number
  private pieces: Buffer[] = []
  private pending = 0 // bytes in pieces

  constructor (opts: { maxLine: number }) {
    this.maxLine = opts.maxLine
  }

  // The complete lines in this chunk (with what came before it), without
  // their newline. Throws MESSAGE_TOO_LARGE once a line passes the bound.
  push (chunk: Buffer): string[] {
    const lines: string[] = []
    let start = 0
    let nl: number
    while ((nl = chunk.indexOf(NEWLINE, start)) >= 0) {
      const tail = chunk.subarray(start, nl)
      this.check(this.pending + tail.byteLength)
      if (this.pending === 0) lines.push(tail.toString('utf8'))
      else {
        this.pieces.push(tail)
        lines.push(Buffer.concat(this.pieces, this.pending + tail.byteLength).toString('utf8'))
        this.pieces = []
        this.pending = 0
      }
      start = nl + 1
    }
    if (start < chunk.byteLength) {
      const rest = chunk.subarray(start)
      this.check(this.pending + rest.byteLength)
      this.pieces.push(rest)
      this.pending += rest.byteLength
    }
    return lines
  }

  private check (length: number): void {
    if (length > this.maxLine) {
      this.pieces = []
      this.pending = 0
      throw HyperfsError.MESSAGE_TOO_LARGE(`a control message line is over ${this.maxLine} bytes`)
    }
  }
}
