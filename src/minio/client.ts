/**
 * The local MinIO, as the sidecar sees it: its readiness (SPEC 6's probe)
 * and the transport under ListBuckets (list-buckets.ts). Requests to it:
 * certificate not verified (MinIO's cert is for its service names, not
 * localhost), SNI set to the tenant's service host, a hard total timeout,
 * connections kept alive; how, per runtime, is the runtime adapter's
 * (runtime/: Bun's fetch, node:https on Deno).
 */
import { localHttp, type LocalHttp, type LocalResponse } from "../runtime/index.ts";

export interface MinioClientOptions {
  /**
   * Where MinIO listens, asked on every request: without --minio-url the
   * scheme follows the Tenant's current TLS setting (SPEC 2), which can change
   * while the pod runs or be unknown at start-up.
   */
  baseUrl: () => string;
  /** SNI, e.g. minio.NS.svc.CD */
  serverName: string;
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

  close(): void {
    this.http.close();
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
