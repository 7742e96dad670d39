/**
 * Capped exponential backoff with full jitter (AWS architecture blog's
 * "full jitter"): spreads the reconnects of every MinIO pod's sidecar after
 * an API-server outage. Three lines, so no dependency.
 */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { baseMs: 250, capMs: 10_000 };

export function backoffDelay(attempt: number, o: BackoffOptions = DEFAULT_BACKOFF, random = Math.random): number {
  const ceiling = Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 30));
  return Math.max(o.baseMs / 4, random() * ceiling);
}

/** A sleep that `wake()` (used on shutdown) ends early. */
export class Sleeper {
  private timer?: ReturnType<typeof setTimeout>;
  private resolve?: () => void;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.resolve = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }

  wake(): void {
    clearTimeout(this.timer);
    this.resolve?.();
  }
}
