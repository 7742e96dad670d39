/**
 * The program's one retry mechanism: capped exponential backoff with jitter,
 * a sleep that shutdown can cut short, a retry-until-deadline helper for
 * one-shot work, and the start/stop frame of a background loop. The watch
 * loops, the config write retry, the bucket reconcile and `validate`'s reads
 * all use these pieces. A server's Retry-After (429, 503: kube/client.ts
 * keeps it on the error) is a floor under the next wait, never a replacement
 * for it: `next(retryAfterMs)`.
 */
export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
  /**
   * How the wait is drawn from the step d = min(cap, base·2^n):
   * - undefined: "full jitter" (AWS architecture blog), uniform in
   *   [base/4, d]. Kept for the loops of this pod only (the config file
   *   write, the bucket reconcile retry), which no other pod shares.
   * - [lo, hi]: uniform in [lo·d, hi·d), never under `base`.
   */
  jitter?: readonly [number, number];
  /**
   * Forget earlier failures only after this long without one (client-go's
   * backoffResetDuration). undefined: only `reset()` forgets.
   */
  resetAfterMs?: number;
}

/**
 * The policy of every request a watch of the API server retries: client-go's
 * reflector (tools/cache/reflector.go: NewExponentialBackoffManager(800ms,
 * 30s, 2m, 2.0, 1.0)), with a wider jitter, because the API server's
 * operators size and judge clients by the former and the fleet benchmark
 * (bench/fleet.ts) showed where it falls short:
 * - 800 ms first step: a blip (one dropped connection, a rolling API-server
 *   restart behind a load balancer) is over in about a second; the first
 *   wait is never under it, so a thousand pods' first retries do not hit a
 *   server that is still down at once.
 * - doubling to a 30 s step: after an outage of a minute or more each
 *   watcher tries about once a minute (mean wait 1.75 steps, 52 s), so 2,000
 *   of them send ~38 requests a second to a server shedding load with 429s
 *   (client-go: ~44).
 * - each wait uniform in [0.5·step, 3·step) instead of client-go's
 *   [step, 2·step): pods that failed together (the API server stopped
 *   under all of them) drift apart by a wide margin at every retry, so their
 *   returns do not bunch. With client-go's jitter, 2,000 watchers after a
 *   30 s outage came back with 634 requests in the peak second (each return
 *   is a WATCH answered 410, a LIST and a WATCH); this spread is what brings
 *   that under 300. The longest single wait is 90 s.
 * - reset after 2 minutes without a failure: a watch that is dropped again
 *   right after one short stream (a flapping server, a proxy that cuts every
 *   connection) keeps its long waits instead of starting over at 0.8 s.
 */
export const API_BACKOFF: BackoffPolicy = { baseMs: 800, capMs: 30_000, jitter: [0.5, 3], resetAfterMs: 2 * 60_000 };

/** Delay before retry number `attempt` (0-based). */
export function backoffDelay(attempt: number, p: BackoffPolicy, random = Math.random): number {
  const step = Math.min(p.capMs, p.baseMs * 2 ** Math.min(attempt, 30));
  if (p.jitter !== undefined) return Math.max(p.baseMs, step * (p.jitter[0] + random() * (p.jitter[1] - p.jitter[0])));
  return Math.max(p.baseMs / 4, random() * step);
}

/** The longest wait `backoffDelay` can give under a policy (for bounds such as the chaos run's black-hole limit). */
export const longestBackoff = (p: BackoffPolicy) => Math.max(p.baseMs, p.capMs * (p.jitter?.[1] ?? 1));

/** Consecutive failures of one loop; `reset()` after a success, or the policy's quiet period. */
export class Backoff {
  private attempt = 0;
  private lastFailureAt = -Infinity;
  constructor(
    readonly policy: BackoffPolicy,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * The delay before the next try; each call counts one more failure. A
   * `retryAfterMs` from the server (429/503) is a floor: the wait is the
   * longer of it and the backoff, so neither a short Retry-After nor a short
   * step makes the retry come sooner than the other asks.
   */
  next(retryAfterMs = 0): number {
    const now = this.now();
    const quiet = this.policy.resetAfterMs;
    if (quiet !== undefined && now - this.lastFailureAt > quiet) this.attempt = 0;
    this.lastFailureAt = now;
    return Math.max(retryAfterMs, backoffDelay(this.attempt++, this.policy));
  }

  get failures(): number {
    return this.attempt;
  }

  reset(): void {
    this.attempt = 0;
    this.lastFailureAt = -Infinity;
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
  /** Give up at this time (epoch ms): one deadline can span several calls. */
  deadline: number;
  /** Whether a failure is worth another try; others are thrown at once. */
  retryable: (err: unknown) => boolean;
  /** The wait the server asked for (Retry-After) after this failure; the next try waits at least that long. */
  retryAfterMs?: (err: unknown) => number;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds, fails for good, or the deadline comes (then the last error is thrown). */
export async function retry<T>(fn: () => Promise<T>, o: RetryOptions): Promise<T> {
  const deadline = o.deadline;
  const backoff = new Backoff(o.policy);
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!o.retryable(err)) throw err;
      // The whole budget is used: the last wait is cut to the deadline, and one more try follows it.
      const left = deadline - Date.now();
      if (left <= 0) throw err;
      const asked = o.retryAfterMs?.(err) ?? 0;
      // The server asked for a wait past the deadline: a try before it would only add to its load.
      if (asked > left) throw err;
      const delay = Math.min(backoff.next(asked), left);
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
