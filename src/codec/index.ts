export * from './state.js'
export * from './primitives.js'
export { DecodeError } from './decode-error.js'
