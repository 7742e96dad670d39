/**
 * The local MinIO, as the sidecar sees it: its readiness (SPEC 6's probe)
 * and the transport under ListBuckets (list-buckets.ts). Requests to it:
 * certificate not verified (MinIO's cert is for its service names, not
 * localhost), SNI set to the tenant's service host, a hard total timeout,
 * connections kept alive; how, per runtime, is the runtime adapter's
 * (runtime/: Bun's fetch, node:https on Deno).
 */
import { isLoopbackHost, localHttp, type LocalHttp, type LocalResponse } from "../runtime/index.ts";

export interface MinioClientOptions {
  /**
   * Where MinIO listens, asked on every request: without --minio-url the
   * scheme follows the Tenant's current TLS setting (SPEC 2), which can change
   * while the pod runs or be unknown at start-up.
   */
  baseUrl: () => string;
  /** SNI, e.g. minio.NS.svc.CD */
  serverName: string;
  /** --minio-ca-file: the CA (PEM file) that signs a remote MinIO's certificate; default the system's trust store. */
  caFile?: string;
}

export type MinioResponse = LocalResponse;

export class MinioClient {
  private readonly http: LocalHttp;

  constructor(private readonly o: MinioClientOptions) {
    this.http = localHttp(o.serverName);
  }

  url(path: string): URL {
    return new URL(path, this.o.baseUrl());
  }

  /**
   * Resolves with any HTTP answer; rejects on no answer within timeoutMs, and
   * with BodyTooLargeError when the body exceeds maxBody (default 1 MiB).
   */
  request(path: string, opts: { method?: string; headers?: Record<string, string>; timeoutMs: number; maxBody?: number }): Promise<MinioResponse> {
    return this.http.request(this.url(path), { ...opts, maxBody: opts.maxBody ?? 1 << 20 });
  }

  /**
   * A request that carries the root credentials (a SigV4 signature, which can
   * be brute-forced offline like a hash, and whose answer decides which
   * Services are created or pruned) goes only where the credentials may go:
   * - a loopback URL (the default, MinIO in this pod): as every request here,
   *   certificate not verified (MinIO's is for its service names);
   * - https to another host: only with the certificate verified for that
   *   host, against --minio-ca-file or the system's trust store;
   * - plain http to another host: never (an error, before any byte is sent).
   * `sign` gets the URL the request will go to and returns its headers.
   */
  async credentialed(
    path: string,
    sign: (url: URL) => Promise<Record<string, string>>,
    opts: { method?: string; timeoutMs: number; maxBody?: number },
  ): Promise<MinioResponse> {
    const url = this.url(path);
    const local = isLoopbackHost(url.hostname);
    if (!local && url.protocol !== "https:") {
      throw new Error(
        `refusing to send MinIO's root credentials over plain http to ${url.host}, which is not this pod (use https with a certificate the sidecar can verify, or a loopback --minio-url)`,
      );
    }
    const verify = local ? undefined : { ca: this.o.caFile ? readCa(this.o.caFile) : undefined };
    return this.http.request(url, { ...opts, headers: await sign(url), verify, maxBody: opts.maxBody ?? 1 << 20 });
  }

  close(): void {
    this.http.close();
  }
}

/** Read on every use (a reconcile every 10 minutes): a rotated CA file takes effect without a restart. */
function readCa(path: string): string {
  try {
    return process.getBuiltinModule("node:fs").readFileSync(path, "utf8");
  } catch (err) {
    throw new Error(`--minio-ca-file ${path}: cannot be read (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** The readiness probe (SPEC 6): MinIO is ready when it answers HTTP at all on /minio/health/live within 500 ms. */
export const READY_TIMEOUT_MS = 500;

export type Readiness = { ok: true; status: number } | { ok: false; reason: string };

export async function checkReadiness(minio: MinioClient): Promise<Readiness> {
  try {
    const res = await minio.request("/minio/health/live", { method: "HEAD", timeoutMs: READY_TIMEOUT_MS });
    return { ok: true, status: res.status };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, reason: `HTTP request failed: ${e.code && !e.message.includes(e.code) ? `${e.code} ` : ""}${e.message}` };
  }
}

/**
 * The readiness probe as served on /ready: one request to MinIO in flight at
 * a time, and its answer shared by every call that arrives while it runs or
 * within `reuseMs` after it settles (SPEC 6). /ready is reachable from the
 * whole pod network; without this, 600 concurrent callers made 5,429 HEADs
 * to MinIO in 4 s. A second is short next to the kubelet's probe period (the
 * operator's is 1 s, and a probe result is only acted on after it). An
 * answer is shared only while MinIO's URL is the one it came from: when the
 * Tenant switches TLS, the next call asks the new URL at once.
 */
export function sharedReadiness(minio: MinioClient, reuseMs = 1_000): () => Promise<Readiness> {
  let inflight: { url: string; answer: Promise<Readiness> } | undefined;
  let last: { url: string; at: number; answer: Readiness } | undefined;
  return () => {
    const url = minio.url("/").origin;
    if (last?.url === url && Date.now() - last.at < reuseMs) return Promise.resolve(last.answer);
    if (inflight?.url === url) return inflight.answer;
    const mine: { url: string; answer: Promise<Readiness> } = {
      url,
      answer: checkReadiness(minio).then((answer) => {
        last = { url, at: Date.now(), answer };
        if (inflight === mine) inflight = undefined;
        return answer;
      }),
    };
    inflight = mine;
    return mine.answer;
  };
}
