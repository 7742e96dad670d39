/**
 * Kubernetes Events regarding the Tenant (SPEC 4): why a pod does not start
 * or why a change was not applied shows in `kubectl describe tenant` and
 * `kubectl get events`, next to what the operator reports.
 *
 * events.k8s.io/v1 with the series semantics of client-go's
 * tools/events/event_broadcaster.go: the first occurrence of a problem
 * creates an Event (eventTime, no series); each repeat raises
 * `series.count` and `series.lastObservedTime` with a strategic-merge PATCH
 * of that one Event, so a problem seen on every watch event stays one object
 * with a growing count. Differences from client-go, and why:
 * - The key is type + reason + action + note + the regarded object's uid.
 *   client-go leaves the note out of the key and keeps the first note, which
 *   would hide a second, different problem behind the first one's text.
 * - The Event's name is derived from that key and the reporting instance (the
 *   pod), not from a timestamp. `validate` runs as a new process on every
 *   restart of a crash-looping init container; a stable name lets each run
 *   find the Event the previous run created (409 on create) and continue its
 *   series, instead of adding one Event per restart. The pod is part of the
 *   name so that every pod keeps its own Event and reportingInstance.
 * - A repeat of the problem an object is already in is written at most once
 *   per `minPatchIntervalMs` (30 minutes, client-go's heartbeat of a
 *   series): repeats in between only raise the count that the next write
 *   (or flush() at exit) sends. A change of state (a new problem, the
 *   recovery, or an old problem back after either) is written at once. One
 *   Event storm is thus impossible: a thousand pods sharing one bad Secret
 *   write one Event each, then refresh it twice an hour at most.
 * Callers report occurrences, not deliveries: the sidecar reports a problem
 * again only when the Tenant or the Secret changed (config-loop.ts), so a
 * re-list, a reconnect or a restarted watch re-delivering the same objects
 * writes nothing.
 * Recording never fails the caller: without permission (403) or without the
 * events.k8s.io API (404) it logs one warning and records nothing more; other
 * failures are logged and retried on the next occurrence.
 *
 * Only names, reasons and fields go into an Event; callers must never pass a
 * secret value in a note (the same rule as for log lines and errors).
 */
import type { Logger } from "pino";
import { describe } from "../errors.ts";
import { sha256Hex } from "../runtime/index.ts";
import { statusOf, type Kube, type KubeRequest } from "./client.ts";

export type EventType = "Normal" | "Warning";

/** The object an Event is about (core/v1 ObjectReference, without resourceVersion: it would change the key on every edit). */
export interface Regarding {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
}

/** Stable reasons: alerts and `kubectl get events --field-selector reason=...` rely on them. */
export const REASONS = {
  /** The Tenant or the Secret's content is invalid (validate failed, or the sidecar keeps the last good file). */
  ConfigInvalid: "ConfigInvalid",
  /** The Secret named by spec.configuration.name does not exist. */
  SecretNotFound: "SecretNotFound",
  /** The service account may not read the Secret (the Role's resourceNames). */
  SecretForbidden: "SecretForbidden",
  /** A valid configuration was written again after one of the problems above. */
  ConfigApplied: "ConfigApplied",
} as const;

/** What was being done (events.k8s.io/v1 `action`). */
export const ACTIONS = {
  /** validate, the init container */
  Validate: "Validate",
  /** the sidecar regenerating the file after a change */
  Apply: "Apply",
} as const;

export const REPORTING_CONTROLLER = "minio-operator-sidecar";

/**
 * The pod: POD_NAME (downward API) or HOSTNAME (a pod's hostname is its name), else the host name
 * (node:os fetched only then: a module not evaluated costs no start-up or memory).
 */
export function reportingInstance(env: Record<string, string | undefined> = process.env): string {
  return (env.POD_NAME || env.HOSTNAME || process.getBuiltinModule("node:os").hostname() || "unknown").slice(0, 128);
}

/** The Regarding of a Tenant as read from the API (undefined without a uid: an Event without one is not shown by kubectl describe). */
export function tenantRegarding(tenant: { metadata?: { name?: string; namespace?: string; uid?: string } } | undefined, namespace: string): Regarding | undefined {
  const md = tenant?.metadata;
  if (!md?.name || !md.uid) return undefined;
  return { apiVersion: "minio.min.io/v2", kind: "Tenant", namespace: md.namespace ?? namespace, name: md.name, uid: md.uid };
}

export interface EventRecorderOptions {
  kube: Pick<Kube, "request">;
  log: Logger;
  /** Default: POD_NAME / HOSTNAME. */
  reportingInstance?: string;
  /** Repeats of the same problem are written at most this often (default 30 minutes: REFRESH_INTERVAL_MS). */
  minPatchIntervalMs?: number;
  /** Per request (default 5 s): a black-holed API server must not hold a caller's flush. */
  requestTimeoutMs?: number;
  /** Problems remembered for counting repeats (default 256; see MAX_SERIES). */
  maxSeries?: number;
}

interface Series {
  key: string;
  regarding: Regarding;
  type: EventType;
  reason: string;
  action: string;
  note: string;
  name: string;
  firstTime: Date;
  /** Occurrences seen, including those of earlier processes once the Event was found on the server. */
  count: number;
  lastObserved: Date;
  /** The count the server has; 0: this process has not written the Event yet. */
  written: number;
  lastWriteAt: number;
  inflight?: Promise<void>;
  timer?: ReturnType<typeof setTimeout>;
  failedOnce?: boolean;
}

const NOTE_LIMIT = 1024;
/**
 * The sidecar lives as long as its pod, and every distinct problem note is a
 * series: without a bound the map grows with each new message for months.
 * Past this many, the least recently seen problem is forgotten (client-go's
 * EventCorrelator keeps an LRU of 4096 for a whole node's kubelet). Seen
 * again, it finds its Event by name (409 on create) and continues the
 * count, as a restarted process does; only a count not yet written is lost.
 */
const MAX_SERIES = 256;
/** client-go's series heartbeat (tools/events: 30 minutes), and SPEC 4's "at most once per 30 minutes per pod". */
export const REFRESH_INTERVAL_MS = 30 * 60_000;
const STRATEGIC = "application/strategic-merge-patch+json";

export class EventRecorder {
  private readonly series = new Map<string, Series>();
  private readonly troubled = new Set<string>();
  /** The key last reported for each object (uid): a report with another key is a change of state. */
  private readonly lastKey = new Map<string, string>();
  private disabled = false;
  private readonly instance: string;
  private readonly minPatchIntervalMs: number;
  private readonly requestTimeoutMs: number;
  private readonly maxSeries: number;

  constructor(private readonly opts: EventRecorderOptions) {
    this.instance = opts.reportingInstance ?? reportingInstance();
    this.minPatchIntervalMs = opts.minPatchIntervalMs ?? REFRESH_INTERVAL_MS;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 5_000;
    this.maxSeries = opts.maxSeries ?? MAX_SERIES;
  }

  /** False once the API refused Events (403/404): nothing more is sent. */
  get enabled(): boolean {
    return !this.disabled;
  }

  /**
   * Record one occurrence. Returns at once; the write happens in the
   * background (await flush() before exiting). A Warning marks the object as
   * troubled until recovered().
   */
  report(regarding: Regarding, type: EventType, reason: string, note: string, action: string = ACTIONS.Apply): void {
    if (type === "Warning") this.troubled.add(regarding.uid);
    if (this.disabled) return;
    const oneLine = note.replace(/[\r\n]+/g, " ").slice(0, NOTE_LIMIT);
    const key = JSON.stringify([regarding.uid, type, reason, action, oneLine]);
    const now = new Date();
    let s = this.series.get(key);
    if (s) {
      this.series.delete(key); // re-inserted below: the map's order is least recently seen first
    } else {
      s = {
        key, regarding, type, reason, action, note: oneLine, name: eventName(regarding.name, this.instance, key),
        firstTime: now, count: 0, lastObserved: now, written: 0, lastWriteAt: 0,
      };
    }
    this.series.set(key, s);
    this.forgetLeastRecent();
    s.count++;
    s.lastObserved = now;
    // The object's state changed (another problem, the recovery, a problem back): written at once.
    if (this.lastKey.get(regarding.uid) !== key) {
      this.lastKey.set(regarding.uid, key);
      if (this.lastKey.size > this.maxSeries) this.lastKey.delete(this.lastKey.keys().next().value!);
      s.lastWriteAt = 0;
      if (s.timer) {
        clearTimeout(s.timer);
        s.timer = undefined;
      }
    }
    this.schedule(s);
  }

  /**
   * After a Warning for this object: record a Normal Event (ConfigApplied by
   * default) and clear the trouble. Without an earlier Warning it does
   * nothing, so a caller may call it on every success. Returns whether it
   * recorded.
   */
  recovered(regarding: Regarding, note: string, action: string = ACTIONS.Apply, reason: string = REASONS.ConfigApplied): boolean {
    if (!this.troubled.delete(regarding.uid)) return false;
    this.report(regarding, "Normal", reason, note, action);
    return true;
  }

  /** Write every pending count now and wait for it (bounded by the request timeout of each write). */
  async flush(): Promise<void> {
    for (;;) {
      const pending = [...this.series.values()].filter((s) => s.inflight || s.timer || s.count > s.written);
      if (this.disabled || pending.length === 0) return;
      for (const s of pending) {
        if (s.timer) {
          clearTimeout(s.timer);
          s.timer = undefined;
        }
        if (!s.inflight && s.count > s.written) this.write(s);
      }
      await Promise.all(pending.map((s) => s.inflight));
      // A failed write leaves its count pending: do not spin on it.
      if (pending.every((s) => s.count > s.written && !s.inflight && !s.timer)) return;
    }
  }

  /** Down to maxSeries, oldest first, skipping a series whose write is in flight. */
  private forgetLeastRecent(): void {
    for (const [key, s] of this.series) {
      if (this.series.size <= this.maxSeries) return;
      if (s.inflight) continue;
      if (s.timer) clearTimeout(s.timer);
      this.series.delete(key);
    }
  }

  private schedule(s: Series): void {
    if (s.inflight || s.timer || this.disabled) return; // the running write re-checks when it ends
    const wait = s.written > 0 ? s.lastWriteAt + this.minPatchIntervalMs - Date.now() : 0;
    if (wait > 0) {
      s.timer = setTimeout(() => {
        s.timer = undefined;
        this.schedule(s);
      }, wait);
      (s.timer as { unref?: () => void }).unref?.();
      return;
    }
    this.write(s);
  }

  private write(s: Series): void {
    s.inflight = this.send(s).finally(() => {
      s.inflight = undefined;
      if (s.count > s.written && !s.failedOnce) this.schedule(s);
    });
  }

  private async send(s: Series): Promise<void> {
    const target = s.count;
    try {
      if (s.written === 0) await this.create(s);
      else await this.patchSeries(s, target);
      s.failedOnce = false;
    } catch (err) {
      this.failed(s, err);
    }
  }

  private async create(s: Series): Promise<void> {
    const path = `/apis/events.k8s.io/v1/namespaces/${s.regarding.namespace}/events`;
    try {
      await this.call("POST", path, this.body(s, s.count));
      s.written = s.count;
      s.lastWriteAt = Date.now();
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
      // An earlier process (a restarted validate or sidecar of this pod) made
      // this Event: continue its series. An empty patch answers its current state.
      const current = (await this.call("PATCH", `${path}/${s.name}`, {}, STRATEGIC)) as { series?: { count?: number } } | undefined;
      const before = typeof current?.series?.count === "number" ? current.series.count : 1;
      s.count += before;
      await this.patchSeries(s, s.count);
    }
  }

  private async patchSeries(s: Series, count: number): Promise<void> {
    const path = `/apis/events.k8s.io/v1/namespaces/${s.regarding.namespace}/events/${s.name}`;
    try {
      await this.call("PATCH", path, { series: { count, lastObservedTime: microTime(s.lastObserved) } }, STRATEGIC);
    } catch (err) {
      if (statusOf(err) !== 404) throw err;
      // Expired (Events live about an hour) or deleted: start it again, with the series so far.
      await this.call("POST", `/apis/events.k8s.io/v1/namespaces/${s.regarding.namespace}/events`, this.body(s, count));
    }
    s.written = count;
    s.lastWriteAt = Date.now();
  }

  private body(s: Series, count: number): Record<string, unknown> {
    return {
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { name: s.name, namespace: s.regarding.namespace },
      eventTime: microTime(s.firstTime),
      ...(count >= 2 ? { series: { count, lastObservedTime: microTime(s.lastObserved) } } : {}),
      reportingController: REPORTING_CONTROLLER,
      reportingInstance: this.instance,
      action: s.action,
      reason: s.reason,
      regarding: s.regarding,
      note: s.note,
      type: s.type,
    };
  }

  private call(method: KubeRequest["method"], path: string, body?: unknown, contentType?: string): Promise<unknown> {
    return this.opts.kube.request({ method, path, body, contentType, timeoutMs: this.requestTimeoutMs });
  }

  private failed(s: Series, err: unknown): void {
    const status = statusOf(err);
    if (status === 403 || status === 404) {
      this.disabled = true;
      for (const t of this.series.values()) if (t.timer) clearTimeout(t.timer);
      this.opts.log.warn(
        { reason: s.reason, status },
        status === 403
          ? "cannot record Kubernetes Events (forbidden: grant create and patch on events in API group events.k8s.io); continuing without Events"
          : "cannot record Kubernetes Events (the events.k8s.io/v1 API or the namespace is missing); continuing without Events",
      );
      return;
    }
    // Transient: the count stays pending and goes out with the next occurrence or flush.
    const level = s.failedOnce ? "debug" : "warn";
    s.failedOnce = true;
    this.opts.log[level]({ reason: s.reason, status }, `recording Kubernetes Event failed: ${describe(err)}`);
  }
}

/** `<object>.<16 hex>`: stable per pod and problem, a valid DNS subdomain (object names are). */
function eventName(objectName: string, instance: string, key: string): string {
  const hash = sha256Hex(`${instance}\n${key}`).slice(0, 16);
  return `${objectName.slice(0, 253 - 17)}.${hash}`;
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
const microTime = (d: Date) => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

