export * from './hash.js'
export * from './sign.js'
export * from './hypercore.js'
