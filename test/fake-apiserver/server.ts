// The HTTP(S) front of the fake kube-apiserver: authn/authz, verbs, fault
// injection, request log, stop/restart on the same port, test-side store access.

import { kubeconfigYaml } from "../support/kubeconfig-yaml.ts";
import { randomUUID } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { dirname, join } from "node:path";
import { discovery } from "./discovery.ts";
import { ApiError, errors, faultStatus, successStatus } from "./errors.ts";
import { clone } from "./patch.ts";
import { authorize, identityFor, type Identity, type RequestAttributes, type TokenSpec } from "./rbac.ts";
import { apiVersionOf, resolveKind, type KObject, type ResourceType } from "./resources.ts";
import { parseResourcePath, requestVerbAndName, type Route } from "./routing.ts";
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from "./selectors.ts";
import { Store, type PatchType } from "./store.ts";
import { loadTlsFixtures, type TlsMaterial } from "./tls.ts";
import { parseBool, prepareWatch, type OpenWatch, type WatchInfo } from "./watch.ts";

export type { WatchInfo } from "./watch.ts";

export interface FakeApiServerOptions {
  /** Serve https with the fixture CA (default true); false = plain http. */
  tls?: boolean;
  /** Port to listen on; 0 (default) = random. restart() reuses the port actually bound. */
  port?: number;
  /** Listen address (default "127.0.0.1"). */
  host?: string;
  /** Bearer token -> RBAC rules. Absent = authentication and authorization disabled. */
  tokens?: Record<string, TokenSpec>;
  /** Number of write events kept for watch replay (default 1000). Older resourceVersions get 410. */
  historyLimit?: number;
  /** Interval of BOOKMARK events on watches with allowWatchBookmarks=true (default 1000 ms; the real server uses ~1 min). */
  bookmarkIntervalMs?: number;
  /**
   * How a watch from a too-old resourceVersion is refused:
   *  - "event" (default, current kube-apiserver): HTTP 200, one ERROR event whose object is a 410 Expired Status, end of stream.
   *  - "http": an HTTP 410 response with the Status body (older servers / some code paths).
   */
  expiredWatch?: "event" | "http";
  /** Server-side timeout for watches that carry no timeoutSeconds (default: none). */
  defaultWatchTimeoutSeconds?: number;
  /** First resourceVersion (default 1). */
  initialResourceVersion?: number;
  /** Objects stored before the server starts listening. */
  objects?: KObject[];
  /** Other certificate material than the committed fixtures. */
  tlsMaterial?: TlsMaterial;
  /**
   * Namespaces are objects: creating a namespaced object in a namespace that
   * has no Namespace object is 404 (the NamespaceLifecycle admission plugin).
   * Default false: any namespace exists.
   */
  strictNamespaces?: boolean;
}

export interface RequestRecord {
  method: string;
  /** URL path without query, e.g. /api/v1/namespaces/minio/secrets. */
  path: string;
  /** Parsed query (last value wins). */
  query: Record<string, string>;
  /** Kubernetes verb for resource requests: get, list, watch, create, update, patch, delete, deletecollection. */
  verb?: string;
  apiGroup?: string;
  resource?: string;
  subresource?: string;
  /** "" for cluster-scoped / all-namespaces requests. */
  namespace?: string;
  /** From the path, or for list/watch from fieldSelector metadata.name=X (as RBAC sees it). */
  name?: string;
  watch: boolean;
  token?: string;
  user?: string;
  contentType?: string;
  /** The User-Agent header, as an audit log records it. */
  userAgent?: string;
  /** HTTP status answered; 0 = the connection was reset without any response. */
  status: number;
  /** Set when the answer came from failNext(). */
  fault?: FaultMode;
  time: number;
  /** For "hang" and "silent" faults: when the client gave up and closed the request. */
  closedAt?: number;
}

export interface ObjectRefObject {
  /** Kind or plural resource: "Secret", "secrets", "Tenant", "tenants". */
  kind: string;
  apiVersion?: string;
  namespace?: string;
  name: string;
}
/** An object reference, or "kind/namespace/name" such as "secrets/minio/creds". */
export type ObjectRef = ObjectRefObject | string;

export interface ListFilter {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export interface KubeconfigOptions {
  token?: string;
  namespace?: string;
  /** Server URL to write (default: this.url). */
  server?: string;
  /** Cluster/user/context name (default "fake"). */
  name?: string;
  /** CA PEM to put in certificate-authority-data instead of the server's (e.g. a wrong one). */
  caPem?: string;
}

export interface FailOptions {
  /**
   * Only requests for which this returns true consume the fault. It sees the request
   * as it will be logged (method, path, query, verb, resource, namespace, name, token...; status still 0).
   */
  match?: (r: Readonly<RequestRecord>) => boolean;
  /**
   * For 429 and 503: the Retry-After (header and Status details.retryAfterSeconds) to answer with;
   * default 1 for 429 (as kube-apiserver's max-in-flight filter), none for 503. `header: false`
   * sends it only in the Status details.
   */
  retryAfterSeconds?: number;
  retryAfterHeader?: boolean;
}

/**
 * An HTTP status answered with a Status body; "reset": the connection is destroyed unanswered;
 * "hang": the request is accepted and never answered (no headers; a black hole, as a stuck load
 * balancer); "silent": 200 headers are sent and then nothing, ever (a stream that goes silent).
 * Hung and silent requests stay open until the client gives up or the server stops.
 */
export type FaultMode = number | "reset" | "hang" | "silent";

interface FaultRule {
  remaining: number;
  mode: FaultMode;
  match?: FailOptions["match"];
  retryAfterSeconds?: number;
  retryAfterHeader?: boolean;
}

function refOf(ref: ObjectRef): ObjectRefObject {
  if (typeof ref !== "string") return ref;
  const parts = ref.split("/");
  if (parts.length === 3) return { kind: parts[0]!, namespace: parts[1]!, name: parts[2]! };
  if (parts.length === 2) return { kind: parts[0]!, name: parts[1]! };
  throw new Error(`fake-apiserver: bad object reference ${JSON.stringify(ref)} (want "kind/namespace/name")`);
}

/** A list item of a built-in type carries no kind/apiVersion (custom resources keep them). */
function listItem(rt: ResourceType, o: KObject): KObject {
  if (rt.custom) return o;
  const { kind: _k, apiVersion: _a, ...rest } = o;
  return rest;
}

export class FakeApiServer {
  readonly store: Store;
  /** Every request answered (or reset), in order. A plain array: `requests.length = 0` clears it. */
  readonly requests: RequestRecord[] = [];
  /** PEM of the CA that signed the server certificate; "" for plain http. */
  readonly caPem: string;
  /** See FakeApiServerOptions.expiredWatch; may be changed at any time. */
  expiredWatch: "event" | "http";
  /** See FakeApiServerOptions.bookmarkIntervalMs; applies to watches opened afterwards. */
  bookmarkIntervalMs: number;

  private readonly tls: boolean;
  private readonly host: string;
  private readonly tlsMaterial?: TlsMaterial;
  private tokens?: Map<string, Identity>;
  private server?: http.Server;
  private boundPort: number;
  private readonly sockets = new Set<Socket>();
  private readonly watches = new Set<OpenWatch>();
  private faults: FaultRule[] = [];
  private readonly waiters = new Set<{ pred: (r: RequestRecord) => boolean; resolve: (r: RequestRecord) => void }>();
  private readonly defaultWatchTimeoutSeconds: number;

  constructor(private readonly opts: FakeApiServerOptions = {}) {
    this.tls = opts.tls ?? true;
    this.host = opts.host ?? "127.0.0.1";
    this.boundPort = opts.port ?? 0;
    this.store = new Store(opts.historyLimit ?? 1000, opts.initialResourceVersion ?? 1);
    this.expiredWatch = opts.expiredWatch ?? "event";
    this.bookmarkIntervalMs = opts.bookmarkIntervalMs ?? 1000;
    this.defaultWatchTimeoutSeconds = opts.defaultWatchTimeoutSeconds ?? 0;
    if (this.tls) this.tlsMaterial = opts.tlsMaterial ?? loadTlsFixtures();
    this.caPem = this.tlsMaterial?.caPem ?? "";
    if (opts.tokens) {
      this.tokens = new Map();
      for (const [t, spec] of Object.entries(opts.tokens)) this.tokens.set(t, identityFor(t, spec));
    }
    for (const o of opts.objects ?? []) this.create(o);
  }

  // ---- lifecycle -------------------------------------------------------------------------

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const h = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `${this.tls ? "https" : "http"}://${h}:${this.boundPort}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Start listening (on the same port as before after a stop()). */
  async start(): Promise<void> {
    if (this.server) return;
    // Listening again after stop(): like a restarted kube-apiserver (see Store.restartWatchCache).
    if (this.stoppedOnce) this.store.restartWatchCache();
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.handle(req, res).catch((e) => {
        console.error("fake-apiserver: unhandled error", e);
        try {
          if (!res.headersSent) this.sendError(res, errors.internal(String(e)));
          else res.destroy();
        } catch {
          /* socket gone */
        }
      });
    };
    const server = this.tls
      ? https.createServer({ key: this.tlsMaterial!.keyPem, cert: this.tlsMaterial!.certPem }, handler)
      : http.createServer(handler);
    server.on("connection", (s: Socket) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    server.on("clientError", (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.boundPort, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const addr = server.address();
    if (addr && typeof addr === "object") this.boundPort = addr.port;
    this.server = server;
  }

  private stoppedOnce = false;

  /** Stop listening: every open connection (watches included) is destroyed. The store survives; its watch history does not (see start). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.stoppedOnce = true;
    for (const w of [...this.watches]) w.close();
    for (const s of [...this.sockets]) s.destroy();
    (server as { closeAllConnections?: () => void }).closeAllConnections?.();
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 1000);
      server.close(() => {
        clearTimeout(t);
        resolve();
      });
    });
    this.sockets.clear();
  }

  /** stop() (if listening), then listen again on the same port with the same store. */
  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stop and forget pending faults and waiters. */
  async close(): Promise<void> {
    await this.stop();
    this.faults = [];
    this.waiters.clear();
  }

  // ---- kubeconfig / in-cluster helpers ---------------------------------------------------

  /** Kubeconfig YAML: certificate-authority-data (https) or insecure-skip-tls-verify (http), token user. */
  kubeconfig(o: KubeconfigOptions = {}): string {
    const name = o.name ?? "fake";
    return kubeconfigYaml({ name, server: o.server ?? this.url, caPem: this.tls ? (o.caPem ?? this.caPem) : undefined, token: o.token, namespace: o.namespace });
  }

  async writeKubeconfig(path: string, o: KubeconfigOptions = {}): Promise<void> {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, this.kubeconfig(o), { mode: 0o600 });
  }

  /**
   * Write `token`, `ca.crt` and `namespace` into `dir`, like the projected
   * service-account volume at /var/run/secrets/kubernetes.io/serviceaccount.
   * (For KubeConfig.loadFromCluster(prefix) use dir = `${prefix}/var/run/secrets/kubernetes.io/serviceaccount`.)
   */
  async writeServiceAccount(dir: string, o: { token: string; namespace: string }): Promise<{ tokenPath: string; caPath: string; namespacePath: string }> {
    await mkdir(dir, { recursive: true });
    const tokenPath = join(dir, "token");
    const caPath = join(dir, "ca.crt");
    const namespacePath = join(dir, "namespace");
    await writeFile(tokenPath, o.token);
    await writeFile(caPath, this.caPem);
    await writeFile(namespacePath, o.namespace);
    return { tokenPath, caPath, namespacePath };
  }

  /** KUBERNETES_SERVICE_HOST / _PORT as the kubelet sets them for a pod. */
  inClusterEnv(): Record<string, string> {
    return { KUBERNETES_SERVICE_HOST: this.host, KUBERNETES_SERVICE_PORT: String(this.boundPort), KUBERNETES_SERVICE_PORT_HTTPS: String(this.boundPort) };
  }

  // ---- auth management -------------------------------------------------------------------

  /** Add, change (spec) or revoke (undefined) a token at run time. Enables auth if it was off. */
  setToken(token: string, spec: TokenSpec | undefined): void {
    this.tokens ??= new Map();
    if (spec === undefined) this.tokens.delete(token);
    else this.tokens.set(token, identityFor(token, spec));
  }

  // ---- direct store access (no auth, no request log; watchers see the writes) ------------

  get resourceVersion(): string {
    return String(this.store.resourceVersion);
  }

  /** Create as a controller would (`.status` may be set too). metadata.namespace defaults to "default". */
  create<T extends KObject>(obj: T): T {
    const rt = resolveKind(obj.kind ?? "", obj.apiVersion);
    const body = clone(obj) as KObject;
    if (body.metadata) delete body.metadata.resourceVersion;
    return this.store.create(rt, body.metadata?.namespace ?? "default", body, { scope: "all" }) as T;
  }

  /** Replace (spec and status). With metadata.resourceVersion it must be current (409 otherwise). */
  update<T extends KObject>(obj: T): T {
    const rt = resolveKind(obj.kind ?? "", obj.apiVersion);
    return this.store.update(rt, obj.metadata?.namespace ?? "default", obj.metadata?.name ?? "", obj, { scope: "all" }) as T;
  }

  /** Merge patch (RFC 7386) by default, or a JSON patch (RFC 6902) array with type "json". */
  patch(ref: ObjectRef, patch: unknown, type: PatchType = "merge"): KObject {
    const r = refOf(ref);
    const rt = resolveKind(r.kind, r.apiVersion);
    return this.store.patch(rt, r.namespace ?? "default", r.name, type, patch, { scope: "all" });
  }

  /** Delete (finalizers respected: then only deletionTimestamp is set). Returns the last state. */
  delete(ref: ObjectRef): KObject {
    const r = refOf(ref);
    const rt = resolveKind(r.kind, r.apiVersion);
    return this.store.delete(rt, r.namespace ?? "default", r.name).object;
  }

  get(ref: ObjectRef): KObject | undefined {
    const r = refOf(ref);
    const rt = resolveKind(r.kind, r.apiVersion);
    return this.store.get(rt, r.namespace ?? "default", r.name);
  }

  list(kind: string, f: ListFilter = {}): KObject[] {
    const rt = resolveKind(kind);
    const fs = parseFieldSelector(f.fieldSelector, rt);
    const ls = parseLabelSelector(f.labelSelector);
    return this.store.list(rt, f.namespace).filter((o) => matchesFields(fs, rt, o) && matchesLabels(ls, o.metadata?.labels));
  }

  /** Forget watch history: any watch from a resourceVersion older than the current one gets 410. */
  compact(): void {
    this.store.compact();
  }

  // ---- fault injection / introspection ---------------------------------------------------

  /**
   * The next `n` requests (matching opts.match, if given) are answered with HTTP `mode`
   * and a Status body, or, for "reset", get their connection destroyed without a response.
   * Faults queue up in call order.
   */
  failNext(n: number, mode: FaultMode = 500, opts: FailOptions = {}): void {
    if (n > 0) this.faults.push({ remaining: n, mode, match: opts.match, retryAfterSeconds: opts.retryAfterSeconds, retryAfterHeader: opts.retryAfterHeader });
  }

  /** Pending injected faults (sum of the remaining counts). */
  get pendingFaults(): number {
    return this.faults.reduce((a, f) => a + f.remaining, 0);
  }

  clearFaults(): void {
    this.faults = [];
  }

  /** End every open watch stream cleanly (chunked response terminated). Returns how many. */
  dropWatches(): number {
    const all = [...this.watches];
    for (const w of all) w.close();
    return all.length;
  }

  /** The watch streams currently open. */
  get openWatches(): WatchInfo[] {
    return [...this.watches].map((w) => w.info);
  }

  /**
   * Resolves with the first logged request matching `pred` (already logged ones
   * from index `from` on, then future ones); rejects after timeoutMs.
   */
  waitForRequest(pred: (r: RequestRecord) => boolean, o: { timeoutMs?: number; from?: number } = {}): Promise<RequestRecord> {
    const found = this.requests.slice(o.from ?? 0).find(pred);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = {
        pred,
        resolve: (r: RequestRecord) => {
          clearTimeout(t);
          this.waiters.delete(w);
          resolve(r);
        },
      };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        reject(new Error(`fake-apiserver: no matching request within ${o.timeoutMs ?? 5000} ms`));
      }, o.timeoutMs ?? 5000);
      this.waiters.add(w);
    });
  }

  // ---- request handling ------------------------------------------------------------------

  private log(rec: RequestRecord): void {
    this.requests.push(rec);
    for (const w of [...this.waiters]) if (w.pred(rec)) w.resolve(rec);
  }

  private send(res: http.ServerResponse, code: number, body: unknown): void {
    const text = JSON.stringify(body) + "\n";
    res.writeHead(code, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(text),
      "Cache-Control": "no-cache, private",
      "Audit-Id": randomUUID(),
    });
    res.end(text);
  }

  private sendError(res: http.ServerResponse, e: ApiError, noRetryAfterHeader = false): void {
    const headers: Record<string, string> = {};
    if (e.details?.retryAfterSeconds && !noRetryAfterHeader) headers["Retry-After"] = String(e.details.retryAfterSeconds);
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    this.send(res, e.code, e.toStatus());
  }

  private takeFault(rec: RequestRecord): FaultRule | undefined {
    for (const f of this.faults) {
      if (f.remaining <= 0) continue;
      if (f.match && !f.match(rec)) continue;
      f.remaining--;
      this.faults = this.faults.filter((x) => x.remaining > 0);
      return f;
    }
    return undefined;
  }

  private async readBody(req: http.IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
    return Buffer.concat(chunks).toString("utf8");
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://fake");
    const path = url.pathname;
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const contentType = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    const auth = req.headers["authorization"];
    const token = typeof auth === "string" && /^bearer\s+/i.test(auth) ? auth.replace(/^bearer\s+/i, "").trim() : undefined;
    const rec: RequestRecord = { method, path, query, watch: false, status: 0, time: Date.now() };
    if (token) rec.token = token;
    if (contentType) rec.contentType = contentType;
    if (req.headers["user-agent"]) rec.userAgent = req.headers["user-agent"];

    const segments = path.split("/").filter(Boolean).map((s) => decodeURIComponent(s));
    const route = parseResourcePath(segments);
    if (route) {
      rec.apiGroup = route.group;
      rec.resource = route.resource;
      if (route.subresource) rec.subresource = route.subresource;
      rec.namespace = route.namespace;
      rec.watch = method === "GET" && (route.watchPath || (!route.name && parseBool(query.watch)));
      const { verb, name } = requestVerbAndName(method, route, query);
      if (verb) rec.verb = verb;
      if (name) rec.name = name;
    }

    const fault = this.takeFault(rec);
    if (fault) {
      rec.fault = fault.mode;
      if (fault.mode === "reset") {
        this.log(rec);
        req.socket.destroy();
        return;
      }
      if (fault.mode === "hang") {
        this.log(rec);
        res.on("close", () => (rec.closedAt = Date.now()));
        return;
      }
      if (fault.mode === "silent") {
        rec.status = 200;
        this.log(rec);
        res.writeHead(200, { "Content-Type": "application/json", "Transfer-Encoding": "chunked", "Cache-Control": "no-cache, private" });
        res.flushHeaders();
        res.on("close", () => (rec.closedAt = Date.now()));
        return;
      }
      const base = faultStatus(fault.mode);
      const e =
        fault.retryAfterSeconds !== undefined && (base.code === 429 || base.code === 503)
          ? new ApiError(base.code, base.reason, base.message, { ...base.details, retryAfterSeconds: fault.retryAfterSeconds })
          : base;
      rec.status = e.code;
      this.log(rec);
      this.sendError(res, e, fault.retryAfterHeader === false);
      return;
    }

    const body = method === "GET" || method === "HEAD" ? "" : await this.readBody(req);
    try {
      let identity: Identity | undefined;
      if (this.tokens) {
        identity = token ? this.tokens.get(token) : undefined;
        if (!identity) throw errors.unauthorized();
        rec.user = identity.user;
      }
      if (!route) {
        this.handleNonResource(method, segments, res, rec);
        return;
      }
      await this.handleResource(method, route, query, contentType, body, identity, req, res, rec);
    } catch (e) {
      const err = e instanceof ApiError ? e : errors.internal(e instanceof Error ? e.message : String(e));
      if (!(e instanceof ApiError)) console.error("fake-apiserver: internal error", e);
      rec.status = err.code;
      this.log(rec);
      if (!res.headersSent) this.sendError(res, err);
    }
  }

  private reply(res: http.ServerResponse, rec: RequestRecord, code: number, body: unknown): void {
    rec.status = code;
    this.log(rec);
    this.send(res, code, body);
  }

  private handleNonResource(method: string, segments: string[], res: http.ServerResponse, rec: RequestRecord): void {
    if (method !== "GET") throw errors.methodNotAllowed();
    const answer = discovery(segments, `${this.host}:${this.boundPort}`);
    if (!answer) throw errors.pathNotFound();
    rec.status = 200;
    this.log(rec);
    if (typeof answer === "string") {
      res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": Buffer.byteLength(answer) });
      res.end(answer);
    } else this.send(res, 200, answer);
  }

  private async handleResource(
    method: string,
    route: Route,
    query: Record<string, string>,
    contentType: string,
    body: string,
    identity: Identity | undefined,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rec: RequestRecord,
  ): Promise<void> {
    // 1. The verb and name were derived in handle() (see requestVerbAndName).
    const verb = rec.verb;
    if (!verb) throw errors.methodNotAllowed();
    const name = rec.name ?? "";

    // 2. Authorization happens before the resource is even looked up.
    if (identity) {
      const attrs: RequestAttributes = { verb, apiGroup: route.group, resource: route.resource, subresource: route.subresource, namespace: route.namespace, name };
      if (!authorize(identity, attrs)) throw errors.forbidden({ user: identity.user, ...attrs });
    }

    // 3. Routing.
    const rt = route.rt;
    if (!rt) throw errors.pathNotFound();
    if (!rt.namespaced && route.namespace) throw errors.pathNotFound();
    const clusterWide = rt.namespaced && !route.namespace;
    if (clusterWide && (route.name || (verb !== "list" && verb !== "watch"))) {
      if (route.name) throw errors.pathNotFound();
      throw errors.methodNotAllowed();
    }
    if (route.subresource) {
      if (route.subresource !== "status" || !rt.statusSubresource) throw errors.pathNotFound();
      if (verb !== "get" && verb !== "update" && verb !== "patch") throw errors.methodNotAllowed();
    }
    if (route.watchPath && method !== "GET") throw errors.methodNotAllowed();
    if (verb === "create" && route.name) throw errors.methodNotAllowed();
    const ns = route.namespace;
    const dryRun = query.dryRun === "All";
    if (query.dryRun !== undefined && query.dryRun !== "" && query.dryRun !== "All")
      throw errors.badRequest(`Invalid dry run value: ${query.dryRun}`);
    const parseJson = (): KObject => {
      try {
        return JSON.parse(body) as KObject;
      } catch (e) {
        throw errors.badRequest(`${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: ${e instanceof Error ? e.message : String(e)}`);
      }
    };
    const scope = route.subresource === "status" ? "status" : "main";

    switch (verb) {
      case "get": {
        const o = this.store.get(rt, ns, route.name);
        if (!o) throw errors.notFound(rt, route.name);
        return this.reply(res, rec, 200, o);
      }
      case "list":
        return this.handleList(rt, clusterWide ? undefined : ns, query, res, rec);
      case "watch": {
        const q = { ...query };
        if (route.name) q.fieldSelector = q.fieldSelector ? `${q.fieldSelector},metadata.name=${route.name}` : `metadata.name=${route.name}`;
        return this.handleWatch(rt, clusterWide ? undefined : ns, q, req, res, rec);
      }
      case "create": {
        if (this.opts.strictNamespaces && rt.namespaced && !this.store.get(resolveKind("namespaces"), "", ns)) {
          throw errors.notFound(resolveKind("namespaces"), ns);
        }
        const created = this.store.create(rt, ns, parseJson(), { dryRun });
        return this.reply(res, rec, 201, created);
      }
      case "update": {
        const updated = this.store.update(rt, ns, route.name, parseJson(), { dryRun, scope });
        return this.reply(res, rec, 200, updated);
      }
      case "patch": {
        const accepted = ["application/json-patch+json", "application/merge-patch+json", "application/apply-patch+yaml"];
        if (!rt.custom) accepted.push("application/strategic-merge-patch+json");
        let type: PatchType;
        if (contentType === "application/json-patch+json") type = "json";
        else if (contentType === "application/merge-patch+json") type = "merge";
        else if (contentType === "application/strategic-merge-patch+json" && !rt.custom) type = "strategic";
        else throw errors.unsupportedMediaType(contentType, accepted); // incl. server-side apply, not implemented
        let patchBody: unknown;
        try {
          patchBody = JSON.parse(body);
        } catch (e) {
          throw errors.badRequest(`error decoding patch: ${e instanceof Error ? e.message : String(e)}`);
        }
        const patched = this.store.patch(rt, ns, route.name, type, patchBody, { dryRun, scope });
        return this.reply(res, rec, 200, patched);
      }
      case "delete": {
        let preconditions: { uid?: string; resourceVersion?: string } | undefined;
        if (body.trim()) {
          const opts = parseJson();
          preconditions = opts.preconditions;
          if (opts.dryRun?.includes?.("All")) return this.deleteReply(rt, ns, route.name, preconditions, true, res, rec);
        }
        return this.deleteReply(rt, ns, route.name, preconditions, dryRun, res, rec);
      }
      case "deletecollection": {
        const fs = parseFieldSelector(query.fieldSelector, rt);
        const ls = parseLabelSelector(query.labelSelector);
        const items: KObject[] = [];
        for (const o of this.store.list(rt, ns)) {
          if (!matchesFields(fs, rt, o) || !matchesLabels(ls, o.metadata?.labels)) continue;
          items.push(listItem(rt, this.store.delete(rt, ns, o.metadata.name, { dryRun }).object));
        }
        return this.reply(res, rec, 200, { kind: rt.listKind, apiVersion: apiVersionOf(rt), metadata: { resourceVersion: String(this.store.resourceVersion) }, items });
      }
    }
    throw errors.methodNotAllowed();
  }

  private deleteReply(
    rt: ResourceType,
    ns: string,
    name: string,
    preconditions: { uid?: string; resourceVersion?: string } | undefined,
    dryRun: boolean,
    res: http.ServerResponse,
    rec: RequestRecord,
  ): void {
    const { object, pending } = this.store.delete(rt, ns, name, { preconditions, dryRun });
    // Marked for deletion (finalizers): 202 with the object; deleted: 200 with a
    // Success Status, or with the deleted object for types that return it (Services).
    if (pending) return this.reply(res, rec, 202, object);
    if (rt.returnDeletedObject) return this.reply(res, rec, 200, object);
    return this.reply(res, rec, 200, successStatus(rt, name, object.metadata?.uid));
  }

  private handleList(rt: ResourceType, ns: string | undefined, query: Record<string, string>, res: http.ServerResponse, rec: RequestRecord): void {
    const fs = parseFieldSelector(query.fieldSelector, rt);
    const ls = parseLabelSelector(query.labelSelector);
    if (query.resourceVersion && query.resourceVersion !== "0" && !/^\d+$/.test(query.resourceVersion))
      throw errors.badRequest(`invalid resource version: ${query.resourceVersion}`);
    if (query.resourceVersionMatch === "Exact" && query.resourceVersion && Number(query.resourceVersion) < this.store.oldestWatchableResourceVersion)
      throw errors.expired(`too old resource version: ${query.resourceVersion} (${this.store.oldestWatchableResourceVersion})`);
    let items = this.store.list(rt, ns).filter((o) => matchesFields(fs, rt, o) && matchesLabels(ls, o.metadata?.labels));
    let listRv = String(this.store.resourceVersion);
    const metadata: KObject = {};
    const keyOf = (o: KObject) => (rt.namespaced ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name);
    if (query.continue) {
      let tok: { rv: number; start: string };
      try {
        tok = JSON.parse(Buffer.from(query.continue, "base64").toString("utf8"));
        if (typeof tok.rv !== "number" || typeof tok.start !== "string") throw new Error("bad token");
      } catch {
        throw errors.badRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)");
      }
      if (tok.rv < this.store.oldestWatchableResourceVersion)
        throw errors.expired(
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        );
      items = items.filter((o) => keyOf(o) >= tok.start);
      listRv = String(tok.rv);
    }
    const limit = Number(query.limit ?? 0);
    if (limit > 0 && items.length > limit) {
      const page = items.slice(0, limit);
      const last = page[page.length - 1]!;
      metadata.resourceVersion = listRv;
      metadata.continue = Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv: Number(listRv), start: keyOf(last) + "\u0000" })).toString("base64");
      if (!fs.length && !ls.length) metadata.remainingItemCount = items.length - limit;
      items = page;
    } else {
      metadata.resourceVersion = listRv;
    }
    this.reply(res, rec, 200, { kind: rt.listKind, apiVersion: apiVersionOf(rt), metadata, items: items.map((o) => listItem(rt, o)) });
  }

  private handleWatch(rt: ResourceType, ns: string | undefined, query: Record<string, string>, req: http.IncomingMessage, res: http.ServerResponse, rec: RequestRecord): void {
    const info: WatchInfo = { path: rec.path, query: rec.query, resource: rt.resource, namespace: ns ?? "", startedAt: Date.now() };
    if (rec.token) info.token = rec.token;
    const prepared = prepareWatch({
      store: this.store,
      rt,
      namespace: ns,
      query,
      info,
      bookmarkIntervalMs: this.bookmarkIntervalMs,
      defaultTimeoutSeconds: this.defaultWatchTimeoutSeconds,
    });
    if (prepared.expired && this.expiredWatch === "http") throw prepared.expired;
    rec.status = 200;
    this.log(rec);
    const open = prepared.start(req, res, (w) => this.watches.delete(w));
    if (open) this.watches.add(open);
  }
}

/** Create a fake apiserver and start listening. */
export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const s = new FakeApiServer(opts);
  await s.start();
  return s;
}
