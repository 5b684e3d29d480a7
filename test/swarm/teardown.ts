// Test teardown that runs in reverse order of registration, so swarms and
// servers close before the testnet they talk to.
const cleanups = new WeakMap<object, Array<() => Promise<unknown> | unknown>>()

export function onTeardown (t: { after (fn: () => Promise<void>): void }, fn: () => Promise<unknown> | unknown): void {
  let list = cleanups.get(t)
  if (list === undefined) {
    const l: Array<() => Promise<unknown> | unknown> = []
    list = l
    cleanups.set(t, l)
    t.after(async () => { for (const f of l.reverse()) await f() })
  }
  list.push(fn)
}
