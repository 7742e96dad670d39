/**
 * The logger `validate` and `sidecar` start with, without waiting for pino.
 * Evaluating pino is the largest single cost of `validate`'s start-up (6 ms
 * of ~30, measured in the compiled binary), and the first thing `validate`
 * does is wait for the API server's TLS handshake. So pino (./logger.ts) is
 * imported on a timer, which runs once the first request is on its way, and
 * Bun's HTTP client thread shakes hands while pino is evaluated. Until then,
 * calls are queued with the time they were made and written, in order and
 * with that time, as soon as pino is there; `flush()` waits for that, and
 * the CLI awaits it before exiting.
 */
import type { Logger } from "pino";

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";
const LEVELS: Level[] = ["fatal", "error", "warn", "info", "debug", "trace"];

export interface DeferredLogger {
  /** The logger to hand out: pino's interface; calls before pino is loaded are queued. */
  log: Logger;
  /** Resolves once pino is loaded and every queued line is written. */
  flush(): Promise<void>;
}

export function deferredLogger(opts: { level?: string; command?: string }): DeferredLogger {
  const queue: Array<{ level: Level; args: unknown[]; time: number }> = [];
  let real: Logger | undefined;
  const facade = Object.fromEntries(
    LEVELS.map((level) => [
      level,
      (...args: unknown[]) => {
        if (real) (real[level] as (...a: unknown[]) => void)(...args);
        else queue.push({ level, args, time: Date.now() });
      },
    ]),
  ) as unknown as Logger;

  const loaded = new Promise<void>((resolve, reject) => {
    setTimeout(() => {
      import("./logger.ts").then(({ createLogger }) => {
        let replayTime: number | undefined;
        real = createLogger({ ...opts, time: () => replayTime ?? Date.now() });
        for (const q of queue.splice(0)) {
          replayTime = q.time;
          (real[q.level] as (...a: unknown[]) => void)(...q.args);
        }
        replayTime = undefined;
        // From here on the facade forwards straight to pino.
        for (const level of LEVELS) (facade as unknown as Record<Level, unknown>)[level] = (real[level] as (...a: unknown[]) => void).bind(real);
        resolve();
      }, reject);
    }, 0);
  });
  return { log: facade, flush: () => loaded };
}
