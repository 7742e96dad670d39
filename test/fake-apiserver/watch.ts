// Watch streams: newline-delimited JSON events over a chunked HTTP response, with
// the event translation of the apiserver's watch cache (cacheWatcher.convertToWatchEvent).

import { randomUUID } from "node:crypto";
import type http from "node:http";
import { errors, type ApiError } from "./errors.ts";
import { clone } from "./patch.ts";
import { apiVersionOf, type KObject, type ResourceType } from "./resources.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import type { Store, StoreEvent } from "./store.ts";

export interface WatchInfo {
  path: string;
  query: Record<string, string>;
  resource: string;
  namespace: string;
  token?: string;
  startedAt: number;
}

export interface OpenWatch {
  info: WatchInfo;
  /** End the stream cleanly (idempotent). */
  close(): void;
}

export function parseBool(v: string | undefined): boolean {
  return v !== undefined && ["1", "t", "T", "true", "TRUE", "True"].includes(v);
}

/** A BOOKMARK object: only kind, apiVersion and metadata.resourceVersion. */
export function bookmarkObject(rt: ResourceType, resourceVersion: number, annotations?: Record<string, string>): KObject {
  const md: KObject = { resourceVersion: String(resourceVersion) };
  if (annotations) md.annotations = annotations;
  // Typed objects serialise a zero creationTimestamp as null; unstructured ones have nothing.
  if (!rt.custom) md.creationTimestamp = null;
  return { kind: rt.kind, apiVersion: apiVersionOf(rt), metadata: md };
}

export interface WatchRequest {
  store: Store;
  rt: ResourceType;
  /** undefined = all namespaces. */
  namespace: string | undefined;
  query: Record<string, string>;
  info: WatchInfo;
  bookmarkIntervalMs: number;
  defaultTimeoutSeconds: number;
}

export interface PreparedWatch {
  /** Set when the requested resourceVersion is too old (410 Expired). */
  expired?: ApiError;
  /** Write the 200 response and stream; returns the open watch, or undefined if it ended at once. */
  start(req: http.IncomingMessage, res: http.ServerResponse, onClose: (w: OpenWatch) => void): OpenWatch | undefined;
}

/** Validate a watch request (throws 400s) and prepare its stream. */
export function prepareWatch(w: WatchRequest): PreparedWatch {
  const { store, rt, namespace: ns, query } = w;
  const fs = parseFieldSelector(query.fieldSelector, rt);
  const ls = parseLabelSelector(query.labelSelector);
  const rvParam = query.resourceVersion ?? "";
  const bookmarks = parseBool(query.allowWatchBookmarks);
  const sendInitial = parseBool(query.sendInitialEvents);
  let replay: StoreEvent[] | "expired" = [];
  if (rvParam !== "" && rvParam !== "0") {
    if (!/^\d+$/.test(rvParam)) throw errors.badRequest(`invalid resource version: ${rvParam}`);
    replay = store.eventsSince(Number(rvParam));
  }
  const expired = replay === "expired" ? errors.expired(`too old resource version: ${rvParam} (${store.oldestWatchableResourceVersion})`) : undefined;

  const matches = (o: KObject | undefined) =>
    !!o && (ns === undefined || o.metadata?.namespace === ns) && matchesFields(fs, rt, o) && matchesLabels(ls, o.metadata?.labels);
  // Objects moving into / out of the selection become ADDED / DELETED for this watcher.
  const translate = (ev: StoreEvent): { type: string; object: KObject } | undefined => {
    if (ev.rt !== rt) return undefined;
    if (ev.type === "ADDED") return matches(ev.object) ? { type: "ADDED", object: ev.object } : undefined;
    if (ev.type === "DELETED") return matches(ev.prev ?? ev.object) ? { type: "DELETED", object: ev.object } : undefined;
    const now = matches(ev.object);
    const before = matches(ev.prev);
    if (now && before) return { type: "MODIFIED", object: ev.object };
    if (now) return { type: "ADDED", object: ev.object };
    if (before) {
      // the previous content, with the resourceVersion of the change
      const old = clone(ev.prev!);
      old.metadata.resourceVersion = String(ev.rv);
      return { type: "DELETED", object: old };
    }
    return undefined;
  };

  const start = (req: http.IncomingMessage, res: http.ServerResponse, onClose: (w: OpenWatch) => void): OpenWatch | undefined => {
    res.writeHead(200, { "Content-Type": "application/json", "Cache-Control": "no-cache, private", "Audit-Id": randomUUID() });
    res.flushHeaders?.();
    const write = (type: string, object: KObject) => {
      if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify({ type, object }) + "\n");
    };
    if (expired) {
      write("ERROR", expired.toStatus() as unknown as KObject);
      res.end();
      return undefined;
    }
    // Everything below runs synchronously: no write can slip between replay and subscription.
    if (rvParam === "" || rvParam === "0" || sendInitial) {
      for (const o of store.list(rt, ns)) if (matches(o)) write("ADDED", o);
      if (sendInitial && bookmarks) write("BOOKMARK", bookmarkObject(rt, store.resourceVersion, { "k8s.io/initial-events-end": "true" }));
    }
    if (!sendInitial && replay !== "expired") {
      for (const ev of replay) {
        const t = translate(ev);
        if (t) write(t.type, t.object);
      }
    }
    const unsubscribe = store.subscribe((ev) => {
      const t = translate(ev);
      if (t) write(t.type, t.object);
    });
    let bookmarkTimer: ReturnType<typeof setInterval> | undefined;
    if (bookmarks && w.bookmarkIntervalMs > 0) bookmarkTimer = setInterval(() => write("BOOKMARK", bookmarkObject(rt, store.resourceVersion)), w.bookmarkIntervalMs);
    let timeoutTimer: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    const open: OpenWatch = {
      info: w.info,
      close: () => {
        if (closed) return;
        closed = true;
        unsubscribe();
        if (bookmarkTimer) clearInterval(bookmarkTimer);
        if (timeoutTimer) clearTimeout(timeoutTimer);
        onClose(open);
        if (!res.writableEnded && !res.destroyed) res.end();
      },
    };
    const timeoutSeconds = query.timeoutSeconds ? Number(query.timeoutSeconds) : w.defaultTimeoutSeconds;
    if (timeoutSeconds > 0) {
      timeoutTimer = setTimeout(() => {
        if (bookmarks) write("BOOKMARK", bookmarkObject(rt, store.resourceVersion)); // the apiserver bookmarks right before a timeout
        open.close();
      }, timeoutSeconds * 1000);
    }
    res.on("close", () => open.close());
    req.on("close", () => {
      if (req.socket?.destroyed) open.close();
    });
    return open;
  };
  return expired ? { expired, start } : { start };
}
