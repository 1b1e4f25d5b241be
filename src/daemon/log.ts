import { ConfigError } from '../errors.js'

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const
export type LogLevel = typeof LOG_LEVELS[number]
const LOG_FORMATS = ['text', 'json'] as const
export type LogFormat = typeof LOG_FORMATS[number]

type LogFields = Record<string, string | number | boolean | undefined>

/**
 * The daemon's log for operators: one line per thing the daemon does, at a
 * level (`error`, `warn`, `info`, `debug`), as text
 * (`TIME LEVEL message key=value…`) or as one JSON object per line for log
 * collectors. Developers' traces stay on `DEBUG=shoal:*`.
 */
export interface Log {
  error(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  debug(msg: string, fields?: LogFields): void
}

export interface LogInit {
  level?: LogLevel
  format?: LogFormat
  /** Where lines go (stderr by default). */
  write?(line: string): void
  now?(): Date
}

export function createLog (init: LogInit = {}): Log {
  const threshold = LOG_LEVELS.indexOf(init.level ?? 'info')
  const write = init.write ?? (line => { process.stderr.write(line + '\n') })
  const now = init.now ?? (() => new Date())
  const emit = (level: LogLevel) => (msg: string, fields: LogFields = {}): void => {
    if (LOG_LEVELS.indexOf(level) > threshold) return
    const time = now().toISOString()
    if (init.format === 'json') {
      write(JSON.stringify({ time, level, msg, ...fields }))
      return
    }
    const pairs = Object.entries(fields).filter(([, v]) => v !== undefined).map(([k, v]) => ` ${k}=${formatValue(v)}`)
    write(`${time} ${level.padEnd(5)} ${msg}${pairs.join('')}`)
  }
  return { error: emit('error'), warn: emit('warn'), info: emit('info'), debug: emit('debug') }
}

function formatValue (v: string | number | boolean | undefined): string {
  const s = String(v)
  return /[\s"=]/.test(s) ? JSON.stringify(s) : s
}

export function parseLogLevel (value: string, what = '--log-level'): LogLevel {
  if (!(LOG_LEVELS as readonly string[]).includes(value)) throw new ConfigError(`${what} must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(value)}`)
  return value as LogLevel
}

export function parseLogFormat (value: string, what = '--log-format'): LogFormat {
  if (!(LOG_FORMATS as readonly string[]).includes(value)) throw new ConfigError(`${what} must be one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(value)}`)
  return value as LogFormat
}
