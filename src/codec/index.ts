export * from './state.js'
export * from './primitives.js'
export { DecodeError } from './decode-error.js'
export * from './core-storage.js'
