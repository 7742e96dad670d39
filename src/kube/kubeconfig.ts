/**
 * Kubernetes client config, loaded cheaply (issue 11). client-node's
 * `KubeConfig` module imports its whole generated API (gen/, ~1 MB of
 * JavaScript, only for makeApiClient), every auth provider (OIDC via
 * openid-client, Azure, GCP) and the SOCKS and HTTP proxy agents before it
 * reads a line: measured in a compiled binary, 15 MiB of idle RSS and ~24 ms
 * of start-up more than this module. This one parses with client-node's own
 * config_types.js (which imports only node:fs) and follows client-node's
 * KubeConfig step by step (loadFromFile, loadFromCluster, loadFromDefault,
 * applyHTTPSOptions, applyAuthorizationHeader, createAgent), so the result is
 * the same, but it evaluates only what the kubeconfig uses:
 *
 * - token, token-file, basic auth, `as`, client certificate and key, CA,
 *   insecure-skip-tls-verify, tls-server-name: handled here; files are
 *   re-read on every request, as client-node does;
 * - the in-cluster service account: client-node's FileAuth (token re-read
 *   when older than 60 s, so rotated tokens are picked up);
 * - `exec` and `auth-provider` (oidc, azure, gcp): client-node's own
 *   authenticator for it, imported on the first request that needs it.
 *
 * Transport. Bun's `fetch` (which `node-fetch` is under Bun) takes the TLS
 * options of an https.Agent but ignores what an agent does to the
 * connection: client-node's proxy agents are silently bypassed. So under Bun
 * the result carries Bun's own `tls` and `proxy` fetch options and no agent
 * (and node:https is never evaluated for it): an http(s) `proxy-url` goes to
 * `proxy`, a `socks5://` one, which Bun's fetch refuses, through a loopback
 * CONNECT bridge (./socks-bridge.ts). Under Deno (npm node-fetch over
 * node:https) the result carries the agent client-node would build: an
 * https.Agent, or hpagent's and socks-proxy-agent's proxy agents.
 */
import { accessSync, readFileSync } from "node:fs";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { newClusters, newContexts, newUsers, type Cluster, type Context, type User } from "@kubernetes/client-node/dist/config_types.js";
import { FileAuth } from "@kubernetes/client-node/dist/file_auth.js";
import type { Agent } from "node:http";
import { onBun, parseKubeconfigYaml } from "../runtime/index.ts";

export type { Cluster, Context, User };

export const SERVICEACCOUNT_ROOT = "/var/run/secrets/kubernetes.io/serviceaccount";

/** What `applyToFetchOptions` takes: the subset of https.RequestOptions client-node reads. */
export interface RequestOptionsIn {
  headers?: Record<string, string | number | string[] | undefined>;
  method?: string;
  timeout?: number;
}

/** Bun's fetch TLS options. */
export interface FetchTls {
  ca?: string;
  cert?: string;
  key?: string;
  rejectUnauthorized?: boolean;
  serverName?: string;
}

/** Pass every field to node-fetch (or fetch) as it is: `{ ...await kc.applyToFetchOptions({}), signal }`. */
export interface KubeFetchOptions {
  headers: Headers;
  method?: string;
  timeout?: number;
  /** Deno only (npm node-fetch honours agents). */
  agent?: Agent;
  /** Bun only: TLS for the API server connection. */
  tls?: FetchTls;
  /** Bun only: http(s) proxy URL (a SOCKS proxy arrives here as its loopback bridge). */
  proxy?: string;
}

/** The options client-node's applyToHTTPSOptions fills in, which both paths produce. */
interface HttpsOptions {
  headers: Record<string, string | number | string[] | undefined>;
  auth?: string;
  ca?: Buffer | string;
  cert?: Buffer | string;
  key?: Buffer | string;
  rejectUnauthorized?: boolean;
  servername?: string;
  agent?: Agent;
  method?: string;
  timeout?: number;
}

export interface LoadOptions {
  /** Environment to read KUBERNETES_SERVICE_HOST/PORT, KUBECONFIG and HOME from (default process.env). */
  env?: Record<string, string | undefined>;
  /** Prefix for the service-account directory, like client-node's loadFromCluster(pathPrefix). */
  serviceAccountPrefix?: string;
}

/**
 * The config a command uses (SPEC 2): `file` when given; the in-cluster
 * service account when KUBERNETES_SERVICE_HOST is set; else $KUBECONFIG
 * (several files merged, as client-node does), ~/.kube/config, the service
 * account if its token exists, and finally http://localhost:8080.
 * Throws client-node's errors for malformed files (`clusters[0].cluster.server is missing`).
 */
export function loadKubeConfig(file?: string, o: LoadOptions = {}): LiteKubeConfig {
  const env = o.env ?? process.env;
  const kc = new LiteKubeConfig();
  if (file) kc.loadFromFile(file);
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster(o.serviceAccountPrefix, env);
  else kc.loadFromDefault(env, o.serviceAccountPrefix);
  return kc;
}

export class LiteKubeConfig {
  clusters: Cluster[] = [];
  users: User[] = [];
  contexts: Context[] = [];
  currentContext = "";
  private readonly fileAuth = new FileAuth();
  private plugins = new Map<string, Promise<Authenticator>>();
  private socksBridge?: Promise<string>;

  loadFromFile(file: string): void {
    this.loadFromString(readFileSync(file, "utf8"));
    const root = dirname(file);
    const abs = (f: string) => (isAbsolute(f) ? f : join(root, f));
    for (const c of this.clusters) if (c.caFile) c.caFile = abs(c.caFile);
    for (const u of this.users) {
      if (u.certFile) u.certFile = abs(u.certFile);
      if (u.keyFile) u.keyFile = abs(u.keyFile);
    }
  }

  loadFromString(text: string): void {
    let parsed: unknown;
    try {
      parsed = parseKubeconfigYaml(text);
    } catch (err) {
      // A kubeconfig holds tokens and keys, and js-yaml's messages (Deno) quote the document: the line only.
      const line = (err as { mark?: { line?: number } }).mark?.line;
      throw new Error(`not valid YAML${typeof line === "number" ? ` (at line ${line + 1})` : ""}`);
    }
    const obj = (parsed ?? {}) as Record<string, unknown>;
    if (typeof obj !== "object" || Array.isArray(obj)) throw new Error("not a kubeconfig (expected a mapping)");
    this.clusters = newClusters(obj.clusters);
    this.contexts = newContexts(obj.contexts);
    this.users = newUsers(obj.users);
    this.currentContext = typeof obj["current-context"] === "string" ? obj["current-context"] : "";
  }

  /** client-node's loadFromCluster: https unless the port is 80/8080/8001, IPv6 in brackets, token re-read from file. */
  loadFromCluster(pathPrefix = "", env: Record<string, string | undefined> = process.env): void {
    const host = env.KUBERNETES_SERVICE_HOST ?? "";
    const port = env.KUBERNETES_SERVICE_PORT ?? "";
    const scheme = port === "80" || port === "8080" || port === "8001" ? "http" : "https";
    const serverHost = host.includes(":") ? `[${host}]` : host;
    const root = `${pathPrefix}${SERVICEACCOUNT_ROOT}`;
    let namespace: string | undefined;
    try {
      namespace = readFileSync(`${root}/namespace`, "utf8");
    } catch {
      // no namespace file: the context has none
    }
    this.clusters = [{ name: "inCluster", caFile: `${root}/ca.crt`, server: `${scheme}://${serverHost}:${port}`, skipTLSVerify: false }];
    this.users = [{ name: "inClusterUser", authProvider: { name: "tokenFile", config: { tokenFile: `${root}/token` } } }];
    this.contexts = [{ cluster: "inCluster", name: "inClusterContext", user: "inClusterUser", namespace }];
    this.currentContext = "inClusterContext";
  }

  loadFromDefault(env: Record<string, string | undefined> = process.env, serviceAccountPrefix = ""): void {
    const files = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
    if (files.length) {
      this.loadFromFile(files[0]!);
      for (const f of files.slice(1)) {
        const next = new LiteKubeConfig();
        next.loadFromFile(f);
        this.merge(next);
      }
      return;
    }
    const home = env.HOME ? join(env.HOME, ".kube", "config") : undefined;
    if (home && readable(home)) return this.loadFromFile(home);
    if (readable(`${serviceAccountPrefix}${SERVICEACCOUNT_ROOT}/token`)) return this.loadFromCluster(serviceAccountPrefix, env);
    this.clusters = [{ name: "cluster", server: "http://localhost:8080", skipTLSVerify: false }];
    this.users = [{ name: "user" }];
    this.contexts = [{ name: "loaded-context", cluster: "cluster", user: "user" }];
    this.currentContext = "loaded-context";
  }

  /** client-node's mergeConfig without preserveContext: a later file's current-context wins; duplicate names are errors. */
  private merge(other: LiteKubeConfig): void {
    if (other.currentContext) this.currentContext = other.currentContext;
    const add = <T extends { name: string }>(list: T[], items: T[], what: string) => {
      for (const item of items) {
        if (list.some((x) => x.name === item.name)) throw new Error(`Duplicate ${what}: ${item.name}`);
        list.push(item);
      }
    };
    add(this.clusters, other.clusters, "cluster");
    add(this.users, other.users, "user");
    add(this.contexts, other.contexts, "context");
  }

  getClusters(): Cluster[] {
    return this.clusters;
  }
  getUsers(): User[] {
    return this.users;
  }
  getContexts(): Context[] {
    return this.contexts;
  }
  getCurrentContext(): string {
    return this.currentContext;
  }
  getContextObject(name: string): Context | null {
    return this.contexts.find((c) => c.name === name) ?? null;
  }
  getCurrentContextObject(): Context | null {
    return this.getContextObject(this.currentContext);
  }
  getCurrentCluster(): Cluster | null {
    const ctx = this.getCurrentContextObject();
    return ctx ? (this.clusters.find((c) => c.name === ctx.cluster) ?? null) : null;
  }
  getCurrentUser(): User | null {
    const ctx = this.getCurrentContextObject();
    return ctx ? (this.users.find((u) => u.name === ctx.user) ?? null) : null;
  }
  /** The current context's namespace, if it names one. */
  getCurrentNamespace(): string | undefined {
    return this.getCurrentContextObject()?.namespace?.trim() || undefined;
  }

  /** The client-node authenticator module a request needs beyond this file (exec, oidc, azure, gcp), if any. */
  authPlugin(): AuthPlugin | undefined {
    const user = this.getCurrentUser();
    return user ? pluginFor(user) : undefined;
  }

  /** Headers, TLS and proxy for one request to the current cluster; see the module comment for what goes where. */
  async applyToFetchOptions(opts: RequestOptionsIn = {}): Promise<KubeFetchOptions> {
    const cluster = this.getCurrentCluster();
    const user = this.getCurrentUser();
    const o: HttpsOptions = { headers: { ...opts.headers }, method: opts.method, timeout: opts.timeout };
    if (cluster?.server.startsWith("http:") && !cluster.skipTLSVerify && !cluster.proxyUrl) {
      throw new Error("HTTP protocol is not allowed when skipTLSVerify is not set or false");
    }
    // client-node's applyHTTPSOptions: nothing at all without a user.
    if (user) {
      if (cluster?.skipTLSVerify) o.rejectUnauthorized = false;
      if (cluster?.tlsServerName) o.servername = cluster.tlsServerName;
      const ca = cluster ? fileOrData(cluster.caFile, cluster.caData) : undefined;
      if (ca) o.ca = ca;
      const cert = fileOrData(user.certFile, user.certData);
      if (cert) o.cert = cert;
      const key = fileOrData(user.keyFile, user.keyData);
      if (key) o.key = key;
      if (user.impersonateUser) o.headers["Impersonate-User"] = user.impersonateUser;
      // applyAuthorizationHeader: the first authenticator that claims the user, then a static token wins.
      const plugin = pluginFor(user);
      if (plugin) await this.authenticate(plugin, user, o);
      else if (this.fileAuth.isAuthProvider(user)) await this.fileAuth.applyAuthentication(user, o as never);
      if (user.token) o.headers.Authorization = `Bearer ${user.token}`;
      if (user.username) o.auth = `${user.username}:${user.password}`;
    }

    const headers = new Headers();
    for (const [k, v] of Object.entries(o.headers)) {
      if (Array.isArray(v)) v.forEach((x) => headers.append(k, x));
      else if (typeof v === "string" || typeof v === "number") headers.set(k, String(v));
    }
    if (o.auth) headers.set("Authorization", `Basic ${Buffer.from(o.auth).toString("base64")}`);
    const out: KubeFetchOptions = { headers, method: o.method, timeout: o.timeout };
    if (!onBun) {
      out.agent = await agentFor(cluster, o);
      return out;
    }
    const text = (b: Buffer | string | undefined) => (b === undefined ? undefined : b.toString());
    out.tls = { ca: text(o.ca), cert: text(o.cert), key: text(o.key), rejectUnauthorized: o.rejectUnauthorized, serverName: o.servername };
    if (cluster?.proxyUrl) out.proxy = await this.proxyFor(cluster);
    return out;
  }

  /** Bun: the URL for fetch's `proxy` option. */
  private async proxyFor(cluster: Cluster): Promise<string> {
    const url = cluster.proxyUrl!;
    if (url.startsWith("socks")) {
      const target = new URL(cluster.server);
      const port = target.port || (target.protocol === "https:" ? "443" : "80");
      this.socksBridge ??= import("./socks-bridge.ts").then((m) => m.startSocksBridge(url, `${target.hostname.replace(/^\[|\]$/g, "")}:${port}`));
      return this.socksBridge;
    }
    if (!/^https?:\/\//.test(url)) throw unsupportedProxy(cluster);
    return url;
  }

  /** One instance per kind, as client-node keeps (exec's token cache, oidc's expiry live in it). */
  private authenticator(plugin: AuthPlugin): Promise<Authenticator> {
    let a = this.plugins.get(plugin);
    if (!a) {
      a = PLUGINS[plugin]();
      this.plugins.set(plugin, a);
    }
    return a;
  }

  /**
   * Run the user's credential plugin, failing with a fixed text (SPEC 6).
   * client-node's errors quote what the plugin said: its whole stderr as the
   * message of a non-zero exit, and the JSON parser's error quoting stdout
   * that is not an ExecCredential. A plugin that prints a token, or fails
   * with one in its error, would put it on /status (watches[].lastError), in
   * the logs, in validate's stderr and in the termination message. So only
   * what is safe to name goes on: the plugin's command, its exit code, the
   * kind of failure.
   */
  private async authenticate(plugin: AuthPlugin, user: User, o: HttpsOptions): Promise<void> {
    const a = await this.authenticator(plugin);
    try {
      await a.applyAuthentication(user, o as never);
    } catch (err) {
      throw new Error(credentialPluginFailure(plugin, user, err, (a as ExitRecording).lastExitCode));
    }
  }
}

interface Authenticator {
  isAuthProvider(user: User): boolean;
  applyAuthentication(user: User, opts: object): Promise<void>;
}

export type AuthPlugin = "azure" | "gcp" | "exec" | "oidc";

/** client-node's authenticators, each imported only when a kubeconfig uses it. */
const PLUGINS: Record<AuthPlugin, () => Promise<Authenticator>> = {
  azure: async () => new (await import("@kubernetes/client-node/dist/azure_auth.js")).AzureAuth(),
  gcp: async () => new (await import("@kubernetes/client-node/dist/gcp_auth.js")).GoogleCloudPlatformAuth(),
  exec: async () => recordExitCodes(new (await import("@kubernetes/client-node/dist/exec_auth.js")).ExecAuth()),
  oidc: async () => new (await import("@kubernetes/client-node/dist/oidc_auth.js")).OpenIDConnectAuth(),
};

/**
 * Which authenticator client-node would pick, in its order (Azure, GCP,
 * exec, then the token file, then OIDC): each test is that class's own
 * isAuthProvider, repeated here so that nothing is imported to decide.
 */
function pluginFor(user: User): AuthPlugin | undefined {
  const p = user.authProvider as { name?: string; config?: Record<string, unknown> } | undefined;
  if (p?.name === "azure") return "azure";
  if (p?.name === "gcp") return "gcp";
  if (user.exec || (p && (p.name === "exec" || p.config?.exec))) return "exec";
  if (p?.config?.tokenFile) return undefined; // FileAuth, handled in this file
  if (p?.name === "oidc") return "oidc";
  return undefined;
}

interface ExitRecording {
  lastExitCode?: number;
}

/** ExecAuth spawns through its `execFn` property; a wrapper keeps the exit code that its error leaves out. */
function recordExitCodes<T extends object>(auth: T): T & ExitRecording {
  const a = auth as T & ExitRecording & { execFn?: (...args: unknown[]) => { once(event: "close", f: (code: number | null) => void): void } };
  const spawn = a.execFn;
  if (spawn) {
    a.execFn = (...args) => {
      const child = spawn(...args);
      child.once("close", (code) => (a.lastExitCode = code ?? -1));
      return child;
    };
  }
  return a;
}

/** The fixed text for a failed credential plugin: never its output (see LiteKubeConfig.authenticate). */
function credentialPluginFailure(plugin: AuthPlugin, user: User, err: unknown, exitCode: number | undefined): string {
  const name = `user ${user.name}: credential plugin`;
  if (plugin !== "exec") return `${name} ${plugin} failed (its error is not shown: it may quote credentials)`;
  const command = (user.exec as { command?: unknown } | undefined)?.command ?? (user.authProvider?.config as { exec?: { command?: unknown } } | undefined)?.exec?.command;
  const what = `${name} ${typeof command === "string" ? JSON.stringify(command.slice(0, 256)) : "(exec)"}`;
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === "string") return `${what} could not be run (${code})`;
  if (err instanceof SyntaxError) return `${what} printed something that is not an ExecCredential (JSON); its output is not shown`;
  if (exitCode !== undefined && exitCode !== 0) return `${what} exited with code ${exitCode}; its error output is not shown`;
  return `${what} failed; its output is not shown`;
}

/** Deno: client-node's createAgent (the modules imported only here, only when used). */
async function agentFor(cluster: Cluster | null, o: HttpsOptions): Promise<Agent> {
  const options = {
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    servername: o.servername,
    timeout: o.timeout,
    ...(o.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: o.rejectUnauthorized }),
  };
  const proxy = cluster?.proxyUrl;
  if (proxy?.startsWith("socks")) return new (await import("socks-proxy-agent")).SocksProxyAgent(proxy, options as never);
  if (proxy && cluster!.server.startsWith("https")) return new (await import("hpagent")).HttpsProxyAgent({ ...options, proxy } as never);
  if (proxy && cluster!.server.startsWith("http")) return new (await import("hpagent")).HttpProxyAgent({ ...options, proxy } as never);
  if (proxy) throw unsupportedProxy(cluster!);
  if (cluster?.server.startsWith("http:")) return new (await import("node:http")).Agent(options as never);
  return new (await import("node:https")).Agent(options);
}

const unsupportedProxy = (cluster: Cluster) => new Error(`cluster ${cluster.name}: proxy-url: unsupported proxy type (want http://, https:// or socks5://)`);

function fileOrData(file?: string, data?: string): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, "base64");
  return undefined;
}

function readable(path: string): boolean {
  try {
    accessSync(path);
    return true;
  } catch {
    return false;
  }
}
