/**
 * Kubernetes access: config loading (SPEC 2), the two API clients we use,
 * and one-line error descriptions. client-node is pinned to 1.4.0: 2.0.x
 * cannot verify a cluster CA under Bun (SPEC 7), and test/kube-tls.test.ts
 * keeps that proven over https with a CA.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";
import { ApiException, CoreV1Api, CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";

export const SERVICEACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
export const DEFAULT_NAMESPACE = "minio-operator";

export const TENANTS = { group: "minio.min.io", version: "v2", plural: "tenants" } as const;

export interface Kube {
  config: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

/** No in-cluster config and no kubeconfig file: nothing to connect to (exit 3 names where we looked). */
export class NoKubeconfigError extends Error {
  override name = "NoKubeconfigError";
}

/** Where client-node (like kubectl) looks without --kubeconfig: each $KUBECONFIG entry, else ~/.kube/config. */
export function defaultKubeconfigPaths(): { paths: string[]; from: string } {
  const env = (process.env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (env.length) return { paths: env, from: "$KUBECONFIG" };
  return { paths: [join(process.env.HOME || homedir(), ".kube", "config")], from: "~/.kube/config" };
}

/** `--kubeconfig` when given; in-cluster when KUBERNETES_SERVICE_HOST is set; else $KUBECONFIG or ~/.kube/config. */
export function loadKube(kubeconfig?: string): Kube {
  const config = new KubeConfig();
  if (kubeconfig) config.loadFromFile(kubeconfig);
  else if (process.env.KUBERNETES_SERVICE_HOST) config.loadFromCluster();
  else {
    // Without this check client-node falls back to http://localhost:8080 and
    // every request fails with "HTTP protocol is not allowed when skipTLSVerify
    // is not set", which names neither the cause nor a fix.
    const { paths, from } = defaultKubeconfigPaths();
    if (!paths.some((p) => existsSync(p))) {
      throw new NoKubeconfigError(
        `no Kubernetes client configuration found: not in a pod (KUBERNETES_SERVICE_HOST is not set), no --kubeconfig, and no file at ${from} (${paths.join(delimiter)})`,
      );
    }
    config.loadFromDefault();
  }
  if (!config.getCurrentCluster()) throw new Error("no Kubernetes cluster configured (no in-cluster config and no kubeconfig)");
  return { config, core: config.makeApiClient(CoreV1Api), custom: config.makeApiClient(CustomObjectsApi) };
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
    const config = new KubeConfig();
    if (kubeconfig) config.loadFromFile(kubeconfig);
    else if (defaultKubeconfigPaths().paths.some((p) => existsSync(p))) config.loadFromDefault();
    else return undefined;
    return config.getContextObject(config.getCurrentContext())?.namespace || undefined;
  } catch {
    return undefined;
  }
}

/** HTTP status of an API error, or undefined for a network-level failure. */
export function statusOf(err: unknown): number | undefined {
  if (err instanceof ApiException) return err.code;
  const code = (err as { statusCode?: unknown; code?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/**
 * One line for an API failure: status and the Status message, or the
 * network error. ApiException's own message dumps headers and body, which is
 * noise in a log line (and a body is never something to echo blindly).
 */
export function describeKubeError(err: unknown): string {
  if (err instanceof ApiException) {
    const body = err.body as { message?: unknown; reason?: unknown } | string | undefined;
    const parsed = typeof body === "string" ? safeJson(body) : body;
    const msg = typeof parsed?.message === "string" ? parsed.message : typeof parsed?.reason === "string" ? parsed.reason : "";
    return `HTTP ${err.code}${msg ? `: ${msg}` : ""}`;
  }
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    const first = err.message.split("\n")[0] ?? "";
    return typeof code === "string" && !first.includes(code) ? `${code}: ${first}` : first;
  }
  return String(err);
}

function safeJson(s: string): { message?: unknown; reason?: unknown } | undefined {
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
}

/** Transient failures worth retrying: network errors, 429, 5xx. 4xx other than 429 are answers. */
export function isTransient(err: unknown): boolean {
  const status = statusOf(err);
  return status === undefined || status === 429 || status >= 500;
}
