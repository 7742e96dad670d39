/**
 * Requests to the local MinIO: certificate not verified (MinIO's cert is for
 * its service names, not localhost), SNI set to the tenant's service host,
 * a hard total timeout, and one keep-alive agent reused for every request.
 * node:http(s) rather than fetch because neither Bun's nor Deno's fetch can
 * skip verification per request in a way the other understands.
 */
import http from "node:http";
import https from "node:https";

export interface MinioClientOptions {
  baseUrl: string;
  /** SNI, e.g. minio.NS.svc.CD */
  serverName: string;
}

export interface MinioResponse {
  status: number;
  body: string;
}

export class MinioClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  private readonly secure: boolean;

  constructor(private readonly o: MinioClientOptions) {
    this.base = new URL(o.baseUrl);
    this.secure = this.base.protocol === "https:";
    this.agent = this.secure
      ? new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false, servername: o.serverName })
      : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  url(path: string): URL {
    return new URL(path, this.base);
  }

  /** Resolves with any HTTP answer; rejects on no answer within timeoutMs. Reads at most maxBody bytes. */
  request(
    path: string,
    opts: { method?: string; headers?: Record<string, string>; timeoutMs: number; maxBody?: number },
  ): Promise<MinioResponse> {
    const target = this.url(path);
    const mod = this.secure ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        target,
        {
          method: opts.method ?? "GET",
          headers: opts.headers,
          agent: this.agent,
          ...(this.secure ? { servername: this.o.serverName, rejectUnauthorized: false } : {}),
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size <= (opts.maxBody ?? 1 << 20)) chunks.push(c);
          });
          res.on("end", () => {
            clearTimeout(timer);
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
    this.agent.destroy();
  }
}
