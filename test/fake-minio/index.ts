/**
 * A fake MinIO for tests: just the two things the sidecar asks of MinIO,
 * over real sockets, plain http or https with the fixture certificate
 * (test/fixtures/tls: SANs 127.0.0.1/localhost, so a client that sends the
 * SNI minio.NS.svc.CD only gets through because it does not verify).
 *
 * - `HEAD|GET /minio/health/live`: `liveStatus` (default 200), after
 *   `liveDelayMs` (default 0) to play a slow MinIO.
 * - S3 ListBuckets, `GET /`: the XML MinIO answers with `buckets`, only for a
 *   request carrying a valid AWS Signature V4 made with `accessKey` /
 *   `secretKey`. The signature is recomputed here from the request as it
 *   arrived (independently of aws4fetch, which the sidecar signs with), so a
 *   wrong secret key, a wrong scope or a tampered header is caught, not just
 *   a missing header. Refusals are MinIO's: 403 AccessDenied (no
 *   Authorization), InvalidAccessKeyId (other key), SignatureDoesNotMatch.
 *   `listStatus` forces an error answer instead (e.g. 500, 503).
 * - Anything else: 404 NoSuchKey-like S3 error XML.
 *
 * Every request is recorded with method, path, query, the Authorization
 * header, the TLS SNI (`req.socket.servername`) and the answer's status.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { loadTlsFixtures } from "../fake-apiserver/tls.ts";

export interface FakeMinioOptions {
  /** https with the fixture certificate (default false = http). */
  tls?: boolean;
  port?: number;
  host?: string;
  accessKey?: string;
  secretKey?: string;
  buckets?: string[];
  liveStatus?: number;
  liveDelayMs?: number;
  /** Delay before answering ListBuckets (a busy MinIO). */
  listDelayMs?: number;
  /** Region the signature scope must name (MinIO's default us-east-1). */
  region?: string;
}

export interface MinioRequestRecord {
  method: string;
  path: string;
  query: string;
  authorization?: string;
  /** SNI the client sent (TLS only; undefined when none was sent or plain http). */
  servername?: string;
  host?: string;
  status: number;
  /** S3 error code when the answer was an S3 error. */
  error?: string;
  time: number;
}

export class FakeMinio {
  accessKey: string;
  secretKey: string;
  buckets: string[];
  liveStatus: number;
  liveDelayMs: number;
  listDelayMs: number;
  /** When set, ListBuckets answers this status with an InternalError/ServiceUnavailable body. */
  listStatus?: number;
  /**
   * When set, a signed ListBuckets gets 200 with this body instead of the real document, or
   * with the real document passed through it (e.g. cut short): what a proxy in front of MinIO,
   * or a connection dropped mid-body, hands the sidecar.
   */
  listBody?: string | ((real: string) => string);
  readonly region: string;
  readonly tls: boolean;
  readonly requests: MinioRequestRecord[] = [];
  /** TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests). */
  connections = 0;
  private server?: http.Server | https.Server;
  private readonly sockets = new Set<Socket>();
  private boundPort: number;
  private readonly host: string;

  constructor(o: FakeMinioOptions = {}) {
    this.tls = o.tls ?? false;
    this.boundPort = o.port ?? 0;
    this.host = o.host ?? "127.0.0.1";
    this.accessKey = o.accessKey ?? "minio";
    this.secretKey = o.secretKey ?? "minio123";
    this.buckets = [...(o.buckets ?? [])];
    this.liveStatus = o.liveStatus ?? 200;
    this.liveDelayMs = o.liveDelayMs ?? 0;
    this.listDelayMs = o.listDelayMs ?? 0;
    this.region = o.region ?? "us-east-1";
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    return `${this.tls ? "https" : "http"}://${this.host}:${this.boundPort}`;
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  /** Requests whose path is `path` (e.g. "/" for ListBuckets). */
  requestsTo(path: string): MinioRequestRecord[] {
    return this.requests.filter((r) => r.path === path);
  }

  async start(): Promise<this> {
    if (this.server) return this;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res);
    let server: http.Server | https.Server;
    if (this.tls) {
      const t = loadTlsFixtures();
      server = https.createServer({ key: t.keyPem, cert: t.certPem }, handler);
    } else {
      server = http.createServer(handler);
    }
    server.keepAliveTimeout = 5_000;
    server.on("connection", (s: Socket) => {
      this.connections++;
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    server.on("clientError", (_e, s) => s.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.boundPort, this.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const a = server.address();
    if (a && typeof a === "object") this.boundPort = a.port;
    this.server = server;
    return this;
  }

  /** Stop listening and cut every connection (the port is kept for start()). */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.stop();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? "/", "http://x");
    const rec: MinioRequestRecord = {
      method: req.method ?? "",
      path: url.pathname,
      query: url.search.slice(1),
      authorization: req.headers.authorization,
      servername: this.tls ? ((req.socket as { servername?: string | false }).servername || undefined) : undefined,
      host: req.headers.host,
      status: 0,
      time: Date.now(),
    };
    this.requests.push(rec);
    const answer = (status: number, body = "", headers: Record<string, string> = {}) => {
      rec.status = status;
      // MinIO's writeResponse always sets Content-Length (0 on the health endpoints). It matters:
      // without it, Bun's clients do not reuse a keep-alive connection after a HEAD.
      const length = req.method === "HEAD" ? 0 : Buffer.byteLength(body);
      res.writeHead(status, { "x-amz-request-id": "FAKE", server: "MinIO", "content-length": String(length), ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    const s3Error = (status: number, code: string, message: string) => {
      rec.error = code;
      answer(
        status,
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><Resource>${xml(url.pathname)}</Resource><RequestId>FAKE</RequestId></Error>`,
        { "content-type": "application/xml" },
      );
    };
    // Drain any body; nothing here reads one.
    req.resume();

    /** Run `reply` after `ms`, unless the client gives up first (then the record's status is -1). */
    const later = (ms: number, reply: () => void) => {
      if (ms <= 0) return reply();
      const timer = setTimeout(() => {
        if (res.destroyed || req.socket.destroyed) rec.status = -1;
        else reply();
      }, ms);
      res.on("close", () => {
        if (!res.writableEnded) {
          clearTimeout(timer);
          rec.status = -1;
        }
      });
    };

    if (url.pathname === "/minio/health/live" && (req.method === "HEAD" || req.method === "GET")) {
      return later(this.liveDelayMs, () => answer(this.liveStatus));
    }
    if (url.pathname === "/" && req.method === "GET") {
      return later(this.listDelayMs, () => this.listBuckets(req, url, answer, s3Error));
    }
    s3Error(404, "NoSuchKey", "The specified key does not exist.");
  }

  private listBuckets(
    req: http.IncomingMessage,
    url: URL,
    answer: (status: number, body?: string, headers?: Record<string, string>) => void,
    s3Error: (status: number, code: string, message: string) => void,
  ): void {
    const denied = verifySigV4(
      { method: req.method ?? "", path: url.pathname, query: url.search, headers: req.headers },
      { accessKey: this.accessKey, secretKey: this.secretKey, region: this.region },
    );
    if (denied) return s3Error(403, denied.code, denied.message);
    if (this.listStatus !== undefined) {
      return s3Error(this.listStatus, this.listStatus === 503 ? "ServiceUnavailable" : "InternalError", "forced by the test");
    }
    const body =
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Owner><ID>02d6176db174dc93cb1b899f7c6078f08654445fe8cf1b6ce98d8855f66bdbf4</ID><DisplayName>minio</DisplayName></Owner><Buckets>` +
      this.buckets.map((b) => `<Bucket><Name>${xml(b)}</Name><CreationDate>2026-01-01T00:00:00.000Z</CreationDate></Bucket>`).join("") +
      `</Buckets></ListAllMyBucketsResult>`;
    const sent = typeof this.listBody === "function" ? this.listBody(body) : (this.listBody ?? body);
    return answer(200, sent, { "content-type": this.listBody === undefined ? "application/xml" : "text/html" });
  }
}

export async function startFakeMinio(o: FakeMinioOptions = {}): Promise<FakeMinio> {
  return new FakeMinio(o).start();
}

export interface SignedRequest {
  method: string;
  /** Path as sent (percent-encoded). */
  path: string;
  /** Query string with or without the leading "?". */
  query: string;
  /** Header names in lower case (as node:http gives them). */
  headers: Record<string, string | string[] | undefined>;
}

export type SigV4Refusal = { code: "AccessDenied" | "AuthorizationHeaderMalformed" | "InvalidAccessKeyId" | "SignatureDoesNotMatch"; message: string };

/**
 * AWS Signature V4 check of a header-signed S3 request (the algorithm of the
 * AWS "Signature Calculations for the Authorization Header" document),
 * written from the document, not from aws4fetch; undefined when valid.
 */
export function verifySigV4(r: SignedRequest, c: { accessKey: string; secretKey: string; region: string }): SigV4Refusal | undefined {
  const header = (name: string): string | undefined => {
    const v = r.headers[name.toLowerCase()];
    return Array.isArray(v) ? v.join(",") : v;
  };
  const mismatch: SigV4Refusal = {
    code: "SignatureDoesNotMatch",
    message: "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  };
  const auth = header("authorization");
  if (!auth) return { code: "AccessDenied", message: "Access Denied." };
  const m = /^AWS4-HMAC-SHA256 Credential=([^/,]+)\/(\d{8})\/([^/,]+)\/([^/,]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return { code: "AuthorizationHeaderMalformed", message: "The authorization header is malformed." };
  const [, key, date, region, service, signedHeaders, signature] = m as unknown as string[];
  if (key !== c.accessKey) return { code: "InvalidAccessKeyId", message: "The Access Key Id you provided does not exist in our records." };
  const amzDate = header("x-amz-date");
  const signed = signedHeaders!.split(";");
  if (!amzDate || !amzDate.startsWith(date!) || region !== c.region || service !== "s3" || !signed.includes("host")) return mismatch;
  const payloadHash = header("x-amz-content-sha256") ?? sha256("");
  const params = new URLSearchParams(r.query);
  const query = [...params.entries()]
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalHeaders = signed.map((h) => `${h}:${(header(h) ?? "").trim().replace(/\s+/g, " ")}\n`).join("");
  const canonicalPath = r.path.split("/").map((seg) => enc(decodeURIComponent(seg))).join("/");
  const canonical = [r.method, canonicalPath, query, canonicalHeaders, signedHeaders, payloadHash].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", amzDate, `${date}/${region}/s3/aws4_request`, sha256(canonical)].join("\n");
  let k = hmac(`AWS4${c.secretKey}`, date!);
  k = hmac(k, region!);
  k = hmac(k, "s3");
  k = hmac(k, "aws4_request");
  const expected = createHmac("sha256", k).update(toSign).digest();
  return timingSafeEqual(expected, Buffer.from(signature!, "hex")) ? undefined : mismatch;
}

const sha256 = (s: string) => createHash("sha256").update(s).digest("hex");
const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
/** RFC 3986 encoding as SigV4 wants it (encodeURIComponent leaves !'()* alone). */
const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&apos;");
