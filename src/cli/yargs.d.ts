// yargs@18 ships no type declarations; this is the part of its API we use.
declare module 'yargs' {
  export interface Argv {
    scriptName (name: string): Argv
    usage (msg: string): Argv
    command (cmd: string | string[], desc: string, builder?: (y: Argv) => Argv, handler?: (args: any) => void | Promise<void>): Argv
    option (key: string, opt: Record<string, unknown>): Argv
    options (opts: Record<string, Record<string, unknown>>): Argv
    positional (key: string, opt: Record<string, unknown>): Argv
    example (cmd: string, desc: string): Argv
    epilogue (msg: string): Argv
    group (keys: string[], name: string): Argv
    demandCommand (min?: number, msg?: string): Argv
    strict (enabled?: boolean): Argv
    help (opt?: string | boolean): Argv
    alias (key: string, alias: string): Argv
    version (enabled: boolean): Argv
    wrap (cols: number | null): Argv
    terminalWidth (): number
    exitProcess (enabled: boolean): Argv
    showHelpOnFail (enabled: boolean, msg?: string): Argv
    fail (fn: ((msg: string | undefined, err: Error | undefined, y: Argv) => void) | boolean): Argv
    recommendCommands (): Argv
    parserConfiguration (config: Record<string, unknown>): Argv
    parseAsync (): Promise<Record<string, unknown>>
  }
  export default function yargs (args?: string[]): Argv
}
