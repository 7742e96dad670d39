/**
 * The one pino logger. JSON lines, synchronous writes (a low-volume sidecar;
 * sync guarantees the last error line is out before the process exits).
 * Redaction is defence in depth: code never passes a secret value to the
 * logger, and these paths censor anything that could hold one if it did.
 */
import pino, { type Logger } from "pino";

export type { Logger };

const SECRET_KEYS = [
  "password", "secret", "token", "authorization", "cookie", "env", "data", "stringData", "value",
  "accessKey", "secretKey", "accessKeyId", "secretAccessKey", "credentials", "config", "content", "bearerToken",
];

/** Each key at the top level and one or two levels down (`err.config`, `req.headers.authorization`). */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export function createLogger(opts: { level?: string; stream?: "stdout" | "stderr"; command?: string } = {}): Logger {
  return pino(
    {
      level: opts.level ?? "info",
      base: { pid: process.pid, ...(opts.command ? { command: opts.command } : {}) },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    pino.destination({ dest: opts.stream === "stderr" ? 2 : 1, sync: true }),
  );
}
