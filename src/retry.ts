/**
 * The program's one retry mechanism: capped exponential backoff with full
 * jitter (AWS architecture blog's "full jitter", which spreads the
 * reconnects of every MinIO pod's sidecar after an API-server outage), a
 * sleep that shutdown can cut short, and a retry-until-deadline helper for
 * one-shot work, and the start/stop frame of a background loop. The watch
 * loops, the config write retry, the bucket reconcile and `validate`'s reads
 * all use these pieces.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

/** Delay before retry number `attempt` (0-based): uniform in [base/4, min(cap, base·2^attempt)]. */
export function backoffDelay(attempt: number, p: BackoffPolicy, random = Math.random): number {
  const ceiling = Math.min(p.capMs, p.baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(p.baseMs / 4, random() * ceiling);
}

/** Consecutive failures of one loop; `reset()` after a success. */
export class Backoff {
  private attempt = 0;
  constructor(readonly policy: BackoffPolicy) {}

  /** The delay before the next try; each call counts one more failure. */
  next(): number {
    return backoffDelay(this.attempt++, this.policy);
  }

  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
  }
}

/** Sleeps that `wake()` ends at once (shutdown), and that refuse to start once woken for good. */
export class Sleeper {
  private timer?: ReturnType<typeof setTimeout>;
  private resolve?: () => void;
  private closed = false;

  sleep(ms: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  /** End the current sleep; with `forGood`, every later sleep returns at once too. */
  wake(forGood = false): void {
    this.closed ||= forGood;
    clearTimeout(this.timer);
    this.resolve?.();
  }
}

export interface RetryOptions {
  policy: BackoffPolicy;
  /** Give up once this much time has passed since the first try. */
  retryForMs: number;
  /** Whether a failure is worth another try; others are thrown at once. */
  retryable: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds, fails for good, or `retryForMs` is spent (then the last error is thrown). */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const deadline = Date.now() + o.retryForMs;
  const backoff = new Backoff(o.policy);
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!o.retryable(err)) throw err;
      const delay = Math.min(backoff.next(), deadline - Date.now());
      if (delay <= 0) throw err;
      o.onRetry?.(err, backoff.failures, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** A background loop: `start()` runs it once, `stop()` ends its sleep and waits for it to return. */
export abstract class Loop {
  protected stopped = false;
  protected readonly sleeper = new Sleeper();
  private running?: Promise<void>;

  start(): this {
    this.running ??= this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.onStop();
    this.sleeper.wake(true);
    await this.running;
  }

  /** Cut short what the loop is waiting on besides its sleep (an open request). */
  protected onStop(): void {}

  protected abstract run(): Promise<void>;
}
