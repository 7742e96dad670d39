/**
 * The local MinIO, as the sidecar sees it: its readiness (SPEC 6's probe)
 * and the transport under ListBuckets (list-buckets.ts). Requests to it: certificate not verified (MinIO's cert is for
 * its service names, not localhost), SNI set to the tenant's service host,
 * a hard total timeout, and one keep-alive agent reused for every request.
 * node:http(s) rather than fetch because neither Bun's nor Deno's fetch can
 * skip verification per request in a way the other understands.
 */
import http from "node:http";
import https from "node:https";

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

export interface MinioResponse {
  status: number;
  body: string;
}

/** The answer was larger than the caller's limit: the body is not complete, so it is not given at all. */
export class BodyTooLargeError extends Error {
  override name = "BodyTooLargeError";
}

export class MinioClient {
  /** One keep-alive agent per scheme, made when first needed. */
  private readonly agents = new Map<string, http.Agent>();

  constructor(private readonly o: MinioClientOptions) {}

  url(path: string): URL {
    return new URL(path, this.o.baseUrl());
  }

  private agent(secure: boolean): http.Agent {
    const key = secure ? "https" : "http";
    let agent = this.agents.get(key);
    if (!agent) {
      agent = secure
        ? new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false, servername: this.o.serverName })
        : new http.Agent({ keepAlive: true, maxSockets: 4 });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /**
   * Resolves with any HTTP answer; rejects on no answer within timeoutMs, and
   * with BodyTooLargeError when the body exceeds maxBody (never a silently cut body).
   */
  request(
    path: string,
    opts: { method?: string; headers?: Record<string, string>; timeoutMs: number; maxBody?: number },
  ): Promise<MinioResponse> {
    const target = this.url(path);
    const secure = target.protocol === "https:";
    const mod = secure ? https : http;
    const maxBody = opts.maxBody ?? 1 << 20;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        target,
        {
          method: opts.method ?? "GET",
          headers: opts.headers,
          agent: this.agent(secure),
          ...(secure ? { servername: this.o.serverName, rejectUnauthorized: false } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size <= maxBody) chunks.push(c);
            else req.destroy(new BodyTooLargeError(`answer larger than ${maxBody} bytes`));
          });
          res.on("end", () => {
            clearTimeout(timer);
            if (size > maxBody) return reject(new BodyTooLargeError(`answer larger than ${maxBody} bytes`));
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
          });
          res.on("error", fail);
        },
      );
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
      function fail(err: Error) {
        clearTimeout(timer);
        reject(err);
      }
      req.on("error", fail);
      req.end();
    });
  }

  close(): void {
    for (const agent of this.agents.values()) agent.destroy();
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
