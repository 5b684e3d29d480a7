// The only error a decoder throws. codec/ imports nothing from the project, so
// it carries its own class; the code matches the project's convention.
export class DecodeError extends Error {
  readonly code = 'DECODE_ERROR'
  constructor (msg: string) {
    super('DECODE_ERROR: ' + msg)
    this.name = 'DecodeError'
  }
}
