// sodium-native ships no types. The project reaches it only through src/crypto
// and the secret-stream code, so a loose declaration is enough here.
declare module 'sodium-native' {
  const sodium: any
  export default sodium
}
