/**
 * Watch exactly one named object (SPEC 4): LIST with
 * `fieldSelector=metadata.name=X`, then WATCH from the returned
 * resourceVersion with bookmarks. The loop never gives up:
 * - a stream that ends (server timeout, dropped connection) resumes from the
 *   last resourceVersion seen;
 * - 410 Gone, as HTTP status or as an ERROR event, re-lists;
 * - any other failure retries with capped, jittered exponential backoff;
 * - every `resyncMs` the object is re-listed anyway, guarding against a
 *   missed event, and a watchdog aborts a stream the server has gone silent on.
 * The consumer gets the object (or undefined when it does not exist) and
 * must treat repeated deliveries of the same object as harmless.
 */
import { Watch } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { backoffDelay, DEFAULT_BACKOFF, Sleeper, type BackoffOptions } from "./backoff.ts";
import { describeKubeError, statusOf, type Kube } from "./client.ts";
import { withTimeout } from "./timeout.ts";

export interface KubeObject {
  metadata?: { name?: string; resourceVersion?: string; uid?: string };
}

export interface ObjectSource<T extends KubeObject> {
  kind: string;
  name: string;
  namespace: string;
  /** Collection path for WATCH, e.g. /api/v1/namespaces/NS/secrets */
  path: string;
  /** LIST restricted to the one name; returns the object (if any) and the list's resourceVersion. */
  list(fieldSelector: string): Promise<{ object?: T; resourceVersion: string }>;
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

export interface WatchOptions {
  backoff?: BackoffOptions;
  /** Re-list at least this often (default 5 minutes). */
  resyncMs?: number;
  log: Logger;
  /** Called when a watch restarts after a failure (for the restarts metric). */
  onRestart?: (kind: string, reason: string) => void;
}

interface StreamEnd {
  resourceVersion: string;
  gone: boolean;
  error?: unknown;
  events: number;
}

const GONE = 410;
/** A LIST that gets no answer (black-holed connection) is retried like any failure. */
const LIST_TIMEOUT_MS = 10_000;

export class ObjectWatch<T extends KubeObject> {
  readonly status: WatchStatus;
  private stopped = false;
  private abort?: AbortController;
  private readonly sleeper = new Sleeper();
  private loop?: Promise<void>;

  constructor(
    private readonly kube: Kube,
    private readonly source: ObjectSource<T>,
    private readonly onObject: (object: T | undefined) => void,
    private readonly opts: WatchOptions,
  ) {
    this.status = { kind: source.kind, name: source.name, state: "starting", restarts: 0 };
  }

  start(): this {
    this.loop ??= this.run();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.status.state = "stopped";
    this.abort?.abort();
    this.sleeper.wake();
    await this.loop;
  }

  private get fieldSelector() {
    return `metadata.name=${this.source.name}`;
  }

  private async run(): Promise<void> {
    const { log } = this.opts;
    const resyncMs = this.opts.resyncMs ?? 5 * 60_000;
    let rv: string | undefined; // undefined: must (re-)list
    let listedAt = 0;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (rv === undefined || Date.now() - listedAt >= resyncMs) {
          this.status.state = "listing";
          const { object, resourceVersion } = await withTimeout(this.source.list(this.fieldSelector), LIST_TIMEOUT_MS);
          if (this.stopped) break;
          listedAt = Date.now();
          rv = resourceVersion;
          this.status.resourceVersion = rv;
          this.onObject(object);
        }
        this.status.state = "watching";
        const untilResync = Math.max(1_000, resyncMs - (Date.now() - listedAt));
        const started = Date.now();
        const end = await this.watchOnce(rv, untilResync);
        if (this.stopped) break;
        rv = end.resourceVersion;
        // An ERROR event with code 410 is handled like an HTTP 410, below.
        if (end.gone) throw Object.assign(new Error("410 Gone"), { statusCode: GONE });
        if (end.error) throw end.error;
        // A stream that closes at once without events is a failure too; don't spin on it.
        if (end.events === 0 && Date.now() - started < 1_000) throw new Error("watch closed immediately");
        failures = 0;
      } catch (err) {
        if (this.stopped) break;
        if (statusOf(err) === GONE) {
          log.info({ kind: this.source.kind, name: this.source.name }, "watch resourceVersion expired (410 Gone); re-listing");
          this.restarted("410 Gone");
          rv = undefined;
          continue;
        }
        const reason = describeKubeError(err);
        this.status.lastError = reason;
        this.status.state = "backoff";
        this.restarted(reason);
        const delay = backoffDelay(failures++, this.opts.backoff ?? DEFAULT_BACKOFF);
        log.warn({ kind: this.source.kind, name: this.source.name, retryInMs: Math.round(delay) }, `watch failed: ${reason}`);
        await this.sleeper.sleep(delay);
      }
    }
    this.status.state = "stopped";
  }

  private restarted(reason: string) {
    this.status.restarts++;
    this.opts.onRestart?.(this.source.kind, reason);
  }

  /** One WATCH stream; resolves when it ends, with the last resourceVersion seen. */
  private watchOnce(fromRv: string, maxMs: number): Promise<StreamEnd> {
    return new Promise((resolve) => {
      const end: StreamEnd = { resourceVersion: fromRv, gone: false, events: 0 };
      const timeoutSeconds = Math.max(1, Math.round(maxMs / 1000));
      // The server should close the stream after timeoutSeconds; if it has
      // silently gone away, this watchdog does it.
      const watchdog = setTimeout(() => this.abort?.abort(), maxMs + 15_000);
      let finished = false;
      const finish = (err?: unknown) => {
        if (finished) return;
        finished = true;
        clearTimeout(watchdog);
        if (err && !this.stopped) end.error = err;
        resolve(end);
      };
      const onEvent = (type: string, object: T & { code?: number }) => {
        end.events++;
        const objRv = object?.metadata?.resourceVersion;
        switch (type) {
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
            if (object?.code === GONE) end.gone = true;
            else end.error = new Error(`watch ERROR event: ${(object as { message?: string })?.message ?? "unknown"}`);
            this.abort?.abort();
            return;
        }
        if (objRv) {
          end.resourceVersion = objRv;
          this.status.resourceVersion = objRv;
        }
      };
      new Watch(this.kube.config)
        .watch(
          this.source.path,
          { fieldSelector: this.fieldSelector, resourceVersion: fromRv, allowWatchBookmarks: true, timeoutSeconds },
          onEvent,
          (err: unknown) => finish(err && (err as { name?: string }).name !== "AbortError" ? err : undefined),
        )
        .then((controller) => {
          this.abort = controller;
          if (this.stopped) controller.abort();
        })
        .catch(finish);
    });
  }
}
