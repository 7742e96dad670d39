/**
 * Kubernetes access: config loading (SPEC 2) and the one request function
 * every API call goes through.
 *
 * The kubeconfig (kubeconfig.ts: client-node's parsing and authenticators,
 * loaded only as far as the kubeconfig needs them) turns the current user
 * into TLS settings, a proxy and headers (tokens, exec and OIDC providers,
 * refreshed per request). The requests themselves are ours, over client-node's own
 * `node-fetch`, because the library's typed clients and its `Watch` cannot be
 * given a response-header timeout: its `Watch.watch()` waits for headers with
 * no limit and overwrites its own timeout before use (SPEC 7), so an API
 * server that accepts a connection and never answers froze the watch for
 * good. Here every request carries an AbortSignal that works before and after
 * the headers. Going without the typed clients also spares evaluating the
 * generated API classes and model serializer in every pod.
 *
 * client-node is pinned to 1.4.0: 2.0.x cannot verify a cluster CA under Bun
 * (SPEC 7); the https-with-CA tests in test/ keep that proven.
 */
import { existsSync, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import fetch from "node-fetch";
import { ClusterUnreachableError, describe, firstLine, InputError } from "../errors.ts";
import { loadKubeConfig, type LiteKubeConfig } from "./kubeconfig.ts";
import { VERSION } from "../version.ts";

export const SERVICEACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
export const DEFAULT_NAMESPACE = "minio-operator";

export const TENANTS_PATH = "/apis/minio.min.io/v2";

/**
 * A request that gets no response headers within this time is abandoned (SPEC 5).
 *
 * Kept at 10 s for every request, queued by API Priority and Fairness or not,
 * because before the headers a request APF is still queueing and one a
 * black hole swallowed look the same to a client. What keeps a queued request
 * from being re-sent sooner than needed is the rest of the policy: an
 * abandoned request is a failure like any other, so its next try waits its
 * backoff (0.8 s and growing, retry.ts), and APF itself ends a wait it cannot
 * serve with 429 and Retry-After, which every caller honours (retryAfterMs
 * below). APF's own queue wait is bounded by a quarter of the server's
 * request timeout (15 s of the default 60 s), so a 10 s deadline abandons at
 * most the tail of a queue that is already shedding load.
 */
export const HEADER_TIMEOUT_MS = 10_000;

/**
 * Longest Retry-After we honour. A server asking for longer (a proxy's
 * misconfiguration, a clock-skewed HTTP date) would otherwise park a watch
 * for as long as it says; client-go's REST client caps its retries instead.
 */
export const MAX_RETRY_AFTER_MS = 5 * 60_000;

/** Go's GOARCH names, as kubectl and client-go write them in their User-Agent. */
const GOARCH: Record<string, string> = { x64: "amd64", ia32: "386", arm64: "arm64", arm: "arm", ppc64: "ppc64le", s390x: "s390x" };

/**
 * `minio-operator-sidecar/<version> (<os>/<arch>) <command>`, the shape of
 * client-go's default (`kubectl/v1.30.0 (linux/amd64) kubernetes/abc123`), so
 * the load of a thousand sidecars can be told apart in the audit log and
 * matched by an APF FlowSchema. The command (validate, sidecar) is the last
 * word: the init container and the sidecar of one pod share a token.
 */
export function userAgent(command: string): string {
  const arch = GOARCH[process.arch] ?? process.arch;
  return `minio-operator-sidecar/${VERSION} (${process.platform}/${arch}) ${command}`.trim();
}

/** An API answer other than 2xx, or a request that failed on the way (then `statusCode` is undefined). */
export class KubeError extends Error {
  override name = "KubeError";
  constructor(
    message: string,
    readonly statusCode?: number,
    /** Network error code (ECONNREFUSED, ETIMEDOUT, ...) */
    readonly code?: string,
    /**
     * From a 429 or 503: how long the server asked us to wait (its Retry-After
     * header, else the Status's details.retryAfterSeconds), at most
     * MAX_RETRY_AFTER_MS. The next try of the request waits at least this long.
     */
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

export interface KubeRequest {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  /** Default application/json; PATCH needs e.g. application/merge-patch+json. */
  contentType?: string;
  /** Aborts the request, before or after the response headers. */
  signal?: AbortSignal;
  /** Whole request, headers and body (default HEADER_TIMEOUT_MS). */
  timeoutMs?: number;
}

export interface WatchStream {
  /** The response body, line by line (one JSON watch event a line). */
  lines: AsyncIterable<string>;
}

export class Kube {
  /** Sent with every request (userAgent()); `loadKube` names the command. */
  readonly userAgent: string;
  constructor(
    readonly config: LiteKubeConfig,
    command = "",
  ) {
    this.userAgent = userAgent(command);
  }

  get server(): string {
    return this.config.getCurrentCluster()?.server ?? "";
  }

  /** One JSON request; resolves with the parsed body, rejects with a KubeError. */
  async request<T = unknown>(r: KubeRequest): Promise<T> {
    const timeoutMs = r.timeoutMs ?? HEADER_TIMEOUT_MS;
    const { signal, done } = deadline(timeoutMs, r.signal);
    try {
      const res = await this.send(r, signal);
      const text = await res.text();
      if (res.status < 200 || res.status > 299) throw statusError(res.status, text, res.headers.get("retry-after"));
      return parseJson<T>(res.status, text);
    } catch (err) {
      throw asKubeError(err, timeoutMs);
    } finally {
      done();
    }
  }

  /**
   * A streaming GET (watch). The response headers must arrive within
   * `headerTimeoutMs`; after that only `signal` ends the stream (the caller
   * runs the silent-stream watchdog, which knows the stream's timeoutSeconds).
   */
  async stream(r: KubeRequest & { signal: AbortSignal; headerTimeoutMs?: number }): Promise<WatchStream> {
    const timeoutMs = r.headerTimeoutMs ?? HEADER_TIMEOUT_MS;
    const { signal, headersIn, done } = deadline(timeoutMs, r.signal);
    let res;
    try {
      res = await this.send(r, signal);
    } catch (err) {
      done();
      throw asKubeError(err, timeoutMs);
    }
    headersIn(); // from here on only the caller's signal ends the stream
    if (res.status !== 200) {
      const body = await res.text().catch(() => "");
      done();
      throw statusError(res.status, body, res.headers.get("retry-after"));
    }
    return { lines: lines(res.body as AsyncIterable<Uint8Array | string>, signal, done) };
  }

  private async send(r: KubeRequest, signal: AbortSignal) {
    const url = new URL(this.server + r.path);
    for (const [k, v] of Object.entries(r.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const init = await this.config.applyToFetchOptions({});
    const headers = init.headers as unknown as Headers;
    headers.set("Accept", "application/json");
    headers.set("User-Agent", this.userAgent);
    if (r.body !== undefined) headers.set("Content-Type", r.contentType ?? "application/json");
    // init.signal's type is node-fetch's own AbortSignal; the runtime's is what both runtimes' fetch accept.
    return fetch(url.toString(), {
      ...init,
      method: r.method ?? "GET",
      headers: headers as never,
      body: r.body === undefined ? undefined : JSON.stringify(r.body),
      signal: signal as never,
    });
  }
}

/**
 * An AbortSignal that fires after `ms` or when `outer` fires. `headersIn()`
 * clears the timer only (a stream goes on under `outer`); `done()` also
 * unhooks it from `outer`.
 */
function deadline(ms: number, outer?: AbortSignal) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), ms);
  const onOuter = () => ac.abort(outer?.reason);
  if (outer?.aborted) ac.abort(outer.reason);
  else outer?.addEventListener("abort", onOuter, { once: true });
  return {
    signal: ac.signal,
    headersIn: () => clearTimeout(timer),
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
    },
  };
}

/** Splits a byte stream into lines; ends quietly when `signal` aborts it; calls `done` at the end. */
async function* lines(body: AsyncIterable<Uint8Array | string>, signal: AbortSignal, done: () => void): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for await (const chunk of body) {
      buffered += typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
      let nl;
      while ((nl = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line) yield line;
      }
    }
    if (buffered.trim() && !signal.aborted) yield buffered.trim();
  } catch (err) {
    if (!signal.aborted) throw asKubeError(err, 0);
  } finally {
    done();
  }
}

/** A 2xx body as JSON; the parser's own error would quote the body (a token, a Secret), so it is not passed on. */
function parseJson<T>(status: number, text: string): T {
  if (!text) return undefined as T;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new KubeError(`HTTP ${status}: the answer is not JSON`, status);
  }
}

/** The Status message of an error answer (`forbidden: User ... cannot list ...`), never the raw body. */
function statusError(status: number, body: string, retryAfterHeader?: string | null): KubeError {
  let message = "";
  let retryAfterSeconds: unknown;
  try {
    const s = JSON.parse(body) as { message?: unknown; reason?: unknown; details?: { retryAfterSeconds?: unknown } };
    message = typeof s.message === "string" ? s.message : typeof s.reason === "string" ? s.reason : "";
    retryAfterSeconds = s.details?.retryAfterSeconds;
  } catch {
    // not a Status (a proxy's HTML page): the code alone says enough
  }
  const retryAfterMs = status === 429 || status === 503 ? retryAfter(retryAfterHeader, retryAfterSeconds) : undefined;
  return new KubeError(`HTTP ${status}${message ? `: ${firstLine(message)}` : ""}`, status, undefined, retryAfterMs);
}

/**
 * Retry-After as client-go reads it (rest/request.go checkWait): the header in
 * whole seconds first, then the Status's details.retryAfterSeconds. An HTTP
 * date is also accepted (RFC 9110); nothing usable is undefined.
 */
export function retryAfter(header: string | null | undefined, detailsSeconds?: unknown): number | undefined {
  let ms: number | undefined;
  const h = header?.trim();
  if (h && /^\d+$/.test(h)) ms = Number(h) * 1000;
  else if (h && !Number.isNaN(Date.parse(h))) ms = Math.max(0, Date.parse(h) - Date.now());
  else if (typeof detailsSeconds === "number" && detailsSeconds > 0) ms = detailsSeconds * 1000;
  return ms === undefined ? undefined : Math.min(ms, MAX_RETRY_AFTER_MS);
}

/** The wait a failed request's server asked for (0 when it asked for none). */
export function retryAfterOf(err: unknown): number {
  return err instanceof KubeError ? (err.retryAfterMs ?? 0) : 0;
}

function asKubeError(err: unknown, timeoutMs: number): KubeError {
  if (err instanceof KubeError) return err;
  const e = err as { name?: string; message?: string; code?: unknown; type?: string } | undefined;
  // Our deadline (or the caller's signal) aborted it; both runtimes report that as AbortError.
  if (e?.name === "AbortError") return new KubeError(`ETIMEDOUT: no answer within ${timeoutMs} ms`, undefined, "ETIMEDOUT");
  const code = typeof e?.code === "string" ? e.code : undefined;
  const first = firstLine(e?.message ?? String(err));
  return new KubeError(code && !first.includes(code) ? `${code}: ${first}` : first, undefined, code);
}

/** Where client-node (like kubectl) looks without --kubeconfig: each $KUBECONFIG entry, else ~/.kube/config ($HOME; node:os only without it). */
export function defaultKubeconfigPaths(): { paths: string[]; from: string } {
  const env = (process.env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (env.length) return { paths: env, from: "$KUBECONFIG" };
  return { paths: [join(process.env.HOME || process.getBuiltinModule("node:os").homedir(), ".kube", "config")], from: "~/.kube/config" };
}

/**
 * `--kubeconfig` when given; in-cluster when KUBERNETES_SERVICE_HOST is set;
 * else $KUBECONFIG or ~/.kube/config (kubeconfig.ts). Nothing to connect to
 * is "cluster unreachable" (exit 3) naming where we looked, an explicit
 * --kubeconfig that does not exist too; a kubeconfig that exists and cannot
 * be read or parsed is invalid input naming the file. `command` (validate,
 * sidecar) ends the User-Agent of every request.
 */
export function loadKube(kubeconfig?: string, command = ""): Kube {
  if (kubeconfig && !existsSync(kubeconfig)) {
    throw new ClusterUnreachableError(`no Kubernetes client configuration found: --kubeconfig ${kubeconfig} does not exist`);
  }
  if (!kubeconfig && !process.env.KUBERNETES_SERVICE_HOST) {
    // Without this check client-node's rules fall back to http://localhost:8080 and
    // every request fails with "HTTP protocol is not allowed when skipTLSVerify
    // is not set", which names neither the cause nor a fix.
    const { paths, from } = defaultKubeconfigPaths();
    if (!paths.some((p) => existsSync(p))) {
      throw new ClusterUnreachableError(
        `no Kubernetes client configuration found: not in a pod (KUBERNETES_SERVICE_HOST is not set), no --kubeconfig, and no file at ${from} (${paths.join(delimiter)})`,
      );
    }
  }
  try {
    const config = loadKubeConfig(kubeconfig);
    if (!config.getCurrentCluster()) throw new Error("no Kubernetes cluster configured (no in-cluster config and no kubeconfig)");
    return new Kube(config, command);
  } catch (err) {
    throw new InputError(kubeconfig ? `kubeconfig ${kubeconfig}` : "Kubernetes client config", "", describe(err));
  }
}

/**
 * `--namespace`; else, in a pod using its in-cluster config, the service
 * account's namespace; else the kubeconfig's current-context namespace (as
 * kubectl); else the service-account file; else minio-operator.
 */
export function resolveNamespace(flag?: string, kubeconfig?: string): string {
  if (flag) return flag;
  const inCluster = !kubeconfig && !!process.env.KUBERNETES_SERVICE_HOST;
  const fromContext = inCluster ? undefined : contextNamespace(kubeconfig);
  if (fromContext) return fromContext;
  try {
    const ns = readFileSync(SERVICEACCOUNT_NAMESPACE, "utf8").trim();
    if (ns) return ns;
  } catch {
    // not in a pod
  }
  return DEFAULT_NAMESPACE;
}

/** The current context's namespace; undefined when there is none or the kubeconfig cannot be read (loadKube reports that). */
function contextNamespace(kubeconfig?: string): string | undefined {
  try {
    if (!kubeconfig && !defaultKubeconfigPaths().paths.some((p) => existsSync(p))) return undefined;
    return loadKubeConfig(kubeconfig).getCurrentNamespace() || undefined;
  } catch {
    return undefined;
  }
}

/** HTTP status of an API error, or undefined for a network-level failure. */
export function statusOf(err: unknown): number | undefined {
  return err instanceof KubeError ? err.statusCode : undefined;
}

/** Transient failures worth retrying: network errors, timeouts, 429, 5xx. Other 4xx are answers. */
export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  return status === undefined || status === 429 || status >= 500;
}
