/**
 * Watch exactly one named object (SPEC 4, 5): LIST with
 * `fieldSelector=metadata.name=X`, then WATCH from the returned
 * resourceVersion with bookmarks. The loop never gives up and never hangs:
 * - a LIST, or a WATCH's response headers, that do not arrive within 10 s
 *   are abandoned and retried (a black-holed connection must not freeze it);
 * - a stream that stays silent past its timeoutSeconds plus a grace period
 *   is abandoned (the server should have ended it);
 * - a stream that ends resumes from the last resourceVersion seen;
 * - 410 Gone, as HTTP status or as an ERROR event, re-lists at once the first
 *   time and with backoff when it repeats (a server that answers nothing but
 *   410 must not get a tight LIST/WATCH loop);
 * - any other failure retries with capped, jittered exponential backoff;
 * - every `resyncMs` the object is re-listed anyway, against a missed event.
 * `progressAt` records when the loop last finished a step (a LIST, a stream,
 * a retry), for /healthz: a loop that stops making progress is wedged.
 * The consumer gets the object (or undefined when it does not exist) and
 * must treat repeated deliveries of the same object as harmless; failures
 * that retrying cannot fix (403, 404 of the collection, ...) are reported
 * through `onError` as well, so the consumer can tell "stale" from "slow".
 */
import type { Logger } from "pino";
import { describe } from "../errors.ts";
import { Backoff, Loop, type BackoffPolicy } from "../retry.ts";
import { isTransient, KubeError, statusOf, type Kube } from "./client.ts";

export interface KubeObject {
  metadata?: { name?: string; resourceVersion?: string; uid?: string };
}

export interface ObjectSource {
  kind: string;
  name: string;
  /** Collection path, e.g. /api/v1/namespaces/NS/secrets */
  path: string;
}

export type WatchState = "starting" | "listing" | "watching" | "backoff" | "stopped";

export interface WatchStatus {
  kind: string;
  name: string;
  state: WatchState;
  resourceVersion?: string;
  restarts: number;
  lastError?: string;
}

export interface WatchTimings {
  /** Re-list at least this often (default 5 minutes). */
  resyncMs: number;
  /** Longest WATCH stream asked of the server (its timeoutSeconds; default 5 minutes). */
  streamMs: number;
  /** How long past its timeoutSeconds a stream may stay open and silent (default 15 s). */
  silenceGraceMs: number;
  /** LIST and WATCH response headers (default 10 s). */
  headerTimeoutMs: number;
  backoff: BackoffPolicy;
  /** Slack on top of the longest step before /healthz calls a loop wedged (default 30 s). */
  wedgeSlackMs: number;
}

export const DEFAULT_WATCH_TIMINGS: WatchTimings = {
  resyncMs: 5 * 60_000,
  streamMs: 5 * 60_000,
  silenceGraceMs: 15_000,
  headerTimeoutMs: 10_000,
  backoff: { baseMs: 250, capMs: 10_000 },
  wedgeSlackMs: 30_000,
};

export interface WatchOptions {
  log: Logger;
  timings?: Partial<WatchTimings>;
  /** Called when a watch restarts after a failure (for the restarts metric). */
  onRestart?: (kind: string, reason: string) => void;
  /** A failure that retrying will not fix by itself (403, 401, 404 of the collection, a bad request). */
  onError?: (err: KubeError) => void;
}

const GONE = 410;

interface StreamEnd {
  resourceVersion: string;
  gone: boolean;
  events: number;
}

export class ObjectWatch<T extends KubeObject> extends Loop {
  readonly status: WatchStatus;
  /** When the loop last completed a step (Date.now()). */
  progressAt = Date.now();
  readonly timings: WatchTimings;
  private readonly abort = new AbortController();

  constructor(
    private readonly kube: Kube,
    private readonly source: ObjectSource,
    private readonly onObject: (object: T | undefined) => void,
    private readonly opts: WatchOptions,
  ) {
    super();
    this.status = { kind: source.kind, name: source.name, state: "starting", restarts: 0 };
    this.timings = { ...DEFAULT_WATCH_TIMINGS, ...opts.timings };
  }

  /**
   * Whether the loop has completed a step recently. Every step is bounded
   * (header timeout, stream window plus grace, backoff cap), so a loop that
   * has not progressed for longer than the longest step plus slack is wedged
   * or dead, and /healthz says so. An API outage is not: each failed try is a step.
   */
  get progressing(): boolean {
    const t = this.timings;
    const longestStep = Math.max(t.streamMs + t.silenceGraceMs + t.headerTimeoutMs, t.backoff.capMs + 2 * t.headerTimeoutMs);
    return Date.now() - this.progressAt <= longestStep + t.wedgeSlackMs;
  }

  protected override onStop(): void {
    this.status.state = "stopped";
    this.abort.abort();
  }

  private get fieldSelector() {
    return `metadata.name=${this.source.name}`;
  }

  protected async run(): Promise<void> {
    const { log } = this.opts;
    const t = this.timings;
    const failures = new Backoff(t.backoff);
    let gones = 0; // consecutive 410s
    let rv: string | undefined; // undefined: must (re-)list
    let listedAt = 0;
    while (!this.stopped) {
      try {
        if (rv === undefined || Date.now() - listedAt >= t.resyncMs) {
          this.status.state = "listing";
          const list = await this.kube.request<{ items?: T[]; metadata?: { resourceVersion?: string } }>({
            path: this.source.path,
            query: { fieldSelector: this.fieldSelector },
            timeoutMs: t.headerTimeoutMs,
            signal: this.abort.signal,
          });
          if (this.stopped) break;
          listedAt = Date.now();
          rv = list.metadata?.resourceVersion ?? "0";
          this.status.resourceVersion = rv;
          this.progress();
          this.onObject(list.items?.[0]);
        }
        this.status.state = "watching";
        const windowMs = Math.max(1_000, Math.min(t.streamMs, t.resyncMs - (Date.now() - listedAt)));
        const started = Date.now();
        const end = await this.watchOnce(rv, windowMs);
        if (this.stopped) break;
        this.progress();
        rv = end.resourceVersion;
        if (end.gone) throw new KubeError("410 Gone", GONE);
        // A stream that closes at once without events is a failure too; don't spin on it.
        if (end.events === 0 && Date.now() - started < 1_000) throw new KubeError("watch closed immediately");
        failures.reset();
        gones = 0;
        this.status.lastError = undefined;
      } catch (err) {
        if (this.stopped) break;
        const reason = describe(err);
        this.restarted(reason);
        if (statusOf(err) === GONE) {
          rv = undefined;
          // The first 410 is routine (compaction): re-list at once. Repeats back off like failures.
          if (gones++ === 0) {
            log.info({ kind: this.source.kind, name: this.source.name }, "watch resourceVersion expired (410 Gone); re-listing");
            continue;
          }
        } else if (!isTransient(err) && err instanceof KubeError) {
          this.opts.onError?.(err);
        }
        this.status.lastError = reason;
        this.status.state = "backoff";
        const delay = failures.next();
        log.warn({ kind: this.source.kind, name: this.source.name, retryInMs: Math.round(delay) }, `watch failed: ${reason}`);
        await this.sleeper.sleep(delay);
        this.progress();
      }
    }
    this.status.state = "stopped";
  }

  private progress() {
    this.progressAt = Date.now();
  }

  private restarted(reason: string) {
    this.status.restarts++;
    this.opts.onRestart?.(this.source.kind, reason);
  }

  /**
   * One WATCH stream of at most `windowMs` (its timeoutSeconds); resolves when
   * it ends, with the last resourceVersion seen. Its own AbortController ends
   * it on stop() and when it outlives its window by the grace period.
   */
  private async watchOnce(fromRv: string, windowMs: number): Promise<StreamEnd> {
    const t = this.timings;
    const end: StreamEnd = { resourceVersion: fromRv, gone: false, events: 0 };
    const stream = new AbortController();
    const onStop = () => stream.abort();
    this.abort.signal.addEventListener("abort", onStop, { once: true });
    let silent = false;
    const watchdog = setTimeout(() => {
      silent = true;
      stream.abort();
    }, windowMs + t.silenceGraceMs);
    try {
      const { lines } = await this.kube.stream({
        path: this.source.path,
        query: {
          watch: 1,
          fieldSelector: this.fieldSelector,
          resourceVersion: fromRv,
          allowWatchBookmarks: true,
          timeoutSeconds: Math.max(1, Math.round(windowMs / 1000)),
        },
        signal: stream.signal,
        headerTimeoutMs: t.headerTimeoutMs,
      });
      for await (const line of lines) {
        if (this.stopped) return end; // events read after stop() are not delivered
        let event: { type?: string; object?: T & { code?: number; message?: string } };
        try {
          event = JSON.parse(line);
        } catch {
          throw new KubeError("watch stream sent a line that is not JSON");
        }
        end.events++;
        const object = event.object;
        switch (event.type) {
          case "ADDED":
          case "MODIFIED":
            this.onObject(object);
            break;
          case "DELETED":
            this.onObject(undefined);
            break;
          case "BOOKMARK":
            break;
          case "ERROR":
            if (object?.code === GONE) {
              end.gone = true;
              return end;
            }
            throw new KubeError(`watch ERROR event: ${object?.message ?? "unknown"}`, object?.code);
        }
        const objRv = object?.metadata?.resourceVersion;
        if (objRv) {
          end.resourceVersion = objRv;
          this.status.resourceVersion = objRv;
        }
      }
      if (silent) throw new KubeError(`watch stream silent past its ${Math.round(windowMs / 1000)} s timeout; abandoned`, undefined, "ETIMEDOUT");
      return end;
    } finally {
      clearTimeout(watchdog);
      stream.abort(); // release the connection whatever ended the loop
      this.abort.signal.removeEventListener("abort", onStop);
    }
  }
}
