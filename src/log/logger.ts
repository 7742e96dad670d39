/**
 * The one pino logger. JSON lines, synchronous writes (a low-volume sidecar;
 * sync guarantees the last error line is out before the process exits).
 * Redaction is defence in depth: code never passes a secret value to the
 * logger, and any value under one of SECRET_KEYS, at the top level or one
 * or two levels down (`err.config`, `req.headers.authorization`), is censored
 * if it did.
 *
 * The censoring is a small walk in `formatters.log` rather than pino's
 * `redact` option: pino compiles its 51 paths (17 keys, each also under `*.`
 * and `*.*.`) into redactor functions when the logger is created, 2.1 ms of
 * every `validate` start-up, measured in the compiled binary; the walk costs
 * nothing up front and microseconds per line at these volumes.
 */
import pino, { type Logger } from "pino";

export type { Logger };

const SECRET_KEYS = new Set([
  "password", "secret", "token", "authorization", "cookie", "env", "data", "stringData", "value",
  "accessKey", "secretKey", "accessKeyId", "secretAccessKey", "credentials", "config", "content", "bearerToken",
]);
const CENSOR = "[redacted]";
/** Levels below the top one that are searched (so keys at depth 0, 1 and 2 are censored). */
const DEPTH = 2;

/** A copy of `value` with every SECRET_KEYS entry down to DEPTH levels censored; the input is never changed. */
export function censor(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object") return value;
  if (value instanceof Error) value = pino.stdSerializers.err(value);
  if (Array.isArray(value)) return depth >= DEPTH ? value : value.map((v) => censor(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[k] = SECRET_KEYS.has(k) ? CENSOR : depth >= DEPTH ? v : censor(v, depth + 1);
  }
  return out;
}

/** `time`: the clock for each line's timestamp (./deferred.ts writes queued lines with the time they were logged). */
export function createLogger(opts: { level?: string; command?: string; time?: () => number } = {}): Logger {
  const time = opts.time;
  return pino(
    {
      level: opts.level ?? "info",
      base: { pid: process.pid, ...(opts.command ? { command: opts.command } : {}) },
      timestamp: time ? () => `,"time":"${new Date(time()).toISOString()}"` : pino.stdTimeFunctions.isoTime,
      formatters: {
        level: (label) => ({ level: label }),
        log: (object) => censor(object) as Record<string, unknown>,
      },
      // Errors are serialized (pino's err serializer) inside censor, before their fields are checked.
      serializers: { err: (e: unknown) => e },
    },
    // stdout: the container log (SPEC 2); render, which must keep stdout for the file, does not log through pino.
    pino.destination({ dest: 1, sync: true }),
  );
}
