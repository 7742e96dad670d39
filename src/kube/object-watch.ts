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
 * - any other failure retries with the backoff of client-go's reflector
 *   (retry.ts API_BACKOFF), and never sooner than a 429/503's Retry-After;
 * - each WATCH asks for a window (timeoutSeconds) drawn uniformly from
 *   [streamMs, 2·streamMs), 5 to 10 minutes as client-go's reflector: pods
 *   that start or reconnect together then drift apart at every renewal,
 *   instead of re-watching in lock-step for ever;
 * - once the last LIST is `resyncMs` old (an hour, plus up to 20 % jitter),
 *   the object is re-listed when the current stream ends, against a missed
 *   event (client-go re-lists only on 410; a 5-minute re-list of 2,000
 *   watchers alone would be 6.7 LISTs a second).
 * Each step records when it must have ended, for /healthz (`progressing`: a
 * loop still inside a step past that is wedged); `progressAt`, when the loop
 * last finished one (a LIST, a stream, a retry), says how long it has been
 * stuck.
 * The consumer gets the object (or undefined when it does not exist) and
 * must treat repeated deliveries of the same object as harmless; failures
 * that retrying cannot fix (403, 404 of the collection, ...) are reported
 * through `onError` as well, so the consumer can tell "stale" from "slow".
 */
import type { Logger } from "pino";
import { describe } from "../errors.ts";
import { API_BACKOFF, Backoff, Loop, type BackoffPolicy } from "../retry.ts";
import { isTransient, KubeError, retryAfterOf, statusOf, type Kube } from "./client.ts";

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
  /** Re-list once the last LIST is this old, plus up to RESYNC_JITTER of it (default 1 hour). */
  resyncMs: number;
  /** Shortest WATCH window asked of the server; each is drawn from [streamMs, 2·streamMs) (default 5 minutes). */
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
  // SPEC 4: at most once an hour. The watch is trusted (it resumes from its
  // resourceVersion, and 410 re-lists); this only bounds how long a missed
  // event could go unnoticed.
  resyncMs: 60 * 60_000,
  // client-go's reflector: minWatchTimeout 5 minutes, timeoutSeconds = min·(1 + rand).
  streamMs: 5 * 60_000,
  // A server ends a stream at its timeoutSeconds; 15 s covers a slow end on a loaded server.
  silenceGraceMs: 15_000,
  headerTimeoutMs: 10_000,
  backoff: API_BACKOFF,
  wedgeSlackMs: 30_000,
};

/** The re-list period is drawn from [resyncMs, resyncMs·1.2): pods started together re-list apart. */
const RESYNC_JITTER = 0.2;

/** A WATCH window in whole seconds (timeoutSeconds), uniform in [streamMs, 2·streamMs). */
export function drawWindowSeconds(streamMs: number, random = Math.random): number {
  return Math.max(1, Math.floor((streamMs * (1 + random())) / 1000));
}

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
  /** When the step under way must have ended (see progressing); a Retry-After slept out can be longer than any backoff step. */
  private stepEndsBy: number;
  /** When the current WATCH's response headers arrived (0: none yet). */
  private streamOpenedAt = 0;
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
    this.stepEndsBy = Date.now() + this.timings.headerTimeoutMs;
  }

  /**
   * Whether the step under way is still within its bound. Every step is
   * bounded, and each sets when it must have ended: a LIST its request
   * timeout, a WATCH its header timeout plus the window it asked for plus the
   * silence grace, a backoff sleep its delay (the Retry-After it sleeps out
   * included). A loop still inside a step past that, plus slack, is wedged or
   * dead, and /healthz says so. An API outage is not: each failed try ends its
   * step. Bounding the step under way, not the longest step there is, finds a
   * wedge in about 40 s rather than 11 minutes: one is reachable in practice,
   * a kubeconfig credential plugin that never returns (client-node runs exec
   * plugins without a time limit), and the sidecar's way out is to exit
   * (commands/sidecar.ts) so the kubelet restarts it.
   */
  get progressing(): boolean {
    return Date.now() <= this.stepEndsBy + this.timings.wedgeSlackMs;
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
    let relistAt = 0;
    while (!this.stopped) {
      try {
        if (rv === undefined || Date.now() >= relistAt) {
          this.status.state = "listing";
          this.stepEndsBy = Date.now() + t.headerTimeoutMs;
          const list = await this.kube.request<{ items?: T[]; metadata?: { resourceVersion?: string } }>({
            path: this.source.path,
            query: { fieldSelector: this.fieldSelector },
            timeoutMs: t.headerTimeoutMs,
            signal: this.abort.signal,
          });
          if (this.stopped) break;
          relistAt = Date.now() + t.resyncMs * (1 + Math.random() * RESYNC_JITTER);
          rv = list.metadata?.resourceVersion ?? "0";
          this.status.resourceVersion = rv;
          this.progress();
          this.onObject(list.items?.[0]);
        }
        this.status.state = "watching";
        // Not shortened to meet the re-list: every window keeps its drawn length, the re-list waits for its end.
        const started = Date.now();
        const windowSeconds = drawWindowSeconds(t.streamMs);
        this.stepEndsBy = started + t.headerTimeoutMs + windowSeconds * 1000 + t.silenceGraceMs;
        const end = await this.watchOnce(rv, windowSeconds);
        if (this.stopped) break;
        this.progress();
        rv = end.resourceVersion;
        this.streamOpenedAt = 0;
        if (end.gone) throw new KubeError("410 Gone", GONE);
        // A stream that closes at once without events is a failure too; don't spin on it.
        if (end.events === 0 && Date.now() - started < 1_000) throw new KubeError("watch closed immediately");
        // client-go's rule: only a quiet period forgets the failures (policy.resetAfterMs), not
        // one stream that ended normally; a policy without one resets on each success.
        if (t.backoff.resetAfterMs === undefined) failures.reset();
        gones = 0;
        this.status.lastError = undefined;
      } catch (err) {
        if (this.stopped) break;
        // A stream that ran a while before failing (a dropped connection, a restarted server)
        // shows the watch worked since the last 410: the next 410 is routine again.
        if (this.streamOpenedAt && Date.now() - this.streamOpenedAt >= 1_000) gones = 0;
        this.streamOpenedAt = 0;
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
        const delay = failures.next(retryAfterOf(err));
        log.warn({ kind: this.source.kind, name: this.source.name, retryInMs: Math.round(delay) }, `watch failed: ${reason}`);
        this.stepEndsBy = Date.now() + delay;
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
   * One WATCH stream of at most `windowSeconds` (its timeoutSeconds); resolves when
   * it ends, with the last resourceVersion seen. Its own AbortController ends
   * it on stop() and when it outlives its window by the grace period.
   */
  private async watchOnce(fromRv: string, windowSeconds: number): Promise<StreamEnd> {
    const t = this.timings;
    const windowMs = windowSeconds * 1000;
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
          timeoutSeconds: windowSeconds,
        },
        signal: stream.signal,
        headerTimeoutMs: t.headerTimeoutMs,
      });
      this.streamOpenedAt = Date.now();
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
      if (silent) throw new KubeError(`watch stream silent past its ${windowSeconds} s timeout; abandoned`, undefined, "ETIMEDOUT");
      return end;
    } finally {
      clearTimeout(watchdog);
      stream.abort(); // release the connection whatever ended the loop
      this.abort.signal.removeEventListener("abort", onStop);
    }
  }
}
