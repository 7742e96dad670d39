/**
 * The stand-in MinIO of `npm run test:node`: the MinIO container of the
 * operator's pod, played by a small program compiled with `bun build
 * --compile` (test/node/images.ts puts it in an image). MinIO is AGPL and is
 * never built here; this follows its documented behaviour for the few things
 * the pod's other containers and the test touch:
 *
 * - its configuration comes from the file MINIO_CONFIG_ENV_FILE names (the
 *   operator sets /tmp/minio/config.env, written by the sidecar into the
 *   shared `cfg-vol` emptyDir): `export KEY="value"` lines. Unlike MinIO,
 *   which reads it at start, the stand-in reads it again on every request,
 *   so the test sees the file as it is inside the running pod now;
 * - `HEAD|GET /minio/health/live`: 200 (what the sidecar's /ready asks);
 * - S3 `ListBuckets` (`GET /`) and `CreateBucket` / `DeleteBucket`
 *   (`PUT|DELETE /<bucket>`), signed with AWS Signature V4 by the root
 *   credentials of that file (checked by test/fake-minio's verifySigV4);
 * - on CreateBucket/DeleteBucket, when MINIO_DNS_WEBHOOK_ENDPOINT is set, the
 *   bucket-DNS webhook call as MinIO makes it (internal/config/dns/
 *   operator_dns.go, SPEC 7): `POST <endpoint>?bucket=B&delete=false|true`,
 *   no body, no Authorization, a 10 s deadline, no retry; a create whose
 *   webhook call does not answer 200 is undone and refused;
 * - `GET /stand-in/config`: what the stand-in read from the file, for the
 *   test (values of the root credentials left out: the test proves those by
 *   signing with them).
 *
 * Listens on :9000, plain http (the test's Tenant has requestAutoCert off).
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import { verifySigV4 } from "../fake-minio/index.ts";

const PORT = Number(process.env.STAND_IN_PORT ?? 9000);
const configFile = process.env.MINIO_CONFIG_ENV_FILE;
const buckets = new Map<string, string>();

function readConfig(): { env: Record<string, string>; error?: string } {
  if (!configFile) return { env: {}, error: "MINIO_CONFIG_ENV_FILE is not set" };
  let text: string;
  try {
    text = readFileSync(configFile, "utf8");
  } catch (err) {
    return { env: {}, error: `cannot read ${configFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}` };
  }
  const env: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^export ([A-Za-z_][A-Za-z0-9_]*)="(.*)"$/.exec(line.trim());
    if (m) env[m[1]!] = m[2]!.replace(/\\(["\\$`])/g, "$1");
  }
  return { env };
}

const SECRET_KEYS = new Set(["MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY"]);

function log(msg: string, extra: Record<string, unknown> = {}) {
  console.log(JSON.stringify({ time: new Date().toISOString(), msg, ...extra }));
}

async function webhook(endpoint: string, bucket: string, del: boolean): Promise<{ status: number; body: string }> {
  const url = `${endpoint}?bucket=${encodeURIComponent(bucket)}&delete=${del}`;
  try {
    const res = await fetch(url, { method: "POST", signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.text() };
  } catch (err) {
    return { status: 0, body: String(err) };
  }
}

const xml = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
  const url = new URL(req.url ?? "/", "http://x");
  const send = (status: number, body = "", type = "application/xml") => {
    res.writeHead(status, { "content-type": type, "content-length": String(req.method === "HEAD" ? 0 : Buffer.byteLength(body)), server: "MinIO" });
    res.end(req.method === "HEAD" ? undefined : body);
  };
  const s3Error = (status: number, code: string, message: string) =>
    send(status, `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`);
  req.resume();

  if (url.pathname === "/minio/health/live" && (req.method === "HEAD" || req.method === "GET")) return send(200, "", "text/plain");
  const { env, error } = readConfig();
  if (url.pathname === "/stand-in/config" && req.method === "GET") {
    const shown = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, SECRET_KEYS.has(k) ? "(set)" : v]));
    return send(200, JSON.stringify({ file: configFile, error, env: shown, buckets: [...buckets.keys()] }), "application/json");
  }
  const accessKey = env.MINIO_ROOT_USER;
  const secretKey = env.MINIO_ROOT_PASSWORD;
  if (!accessKey || !secretKey) return s3Error(503, "XMinioServerNotInitialized", error ?? "no root credentials in the config file");
  const denied = verifySigV4(
    { method: req.method ?? "", path: url.pathname, query: url.search, headers: req.headers },
    { accessKey, secretKey, region: env.MINIO_REGION ?? "us-east-1" },
  );
  if (denied) return s3Error(403, denied.code, denied.message);

  if (url.pathname === "/" && req.method === "GET") {
    return send(
      200,
      `<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID></ID><DisplayName></DisplayName></Owner><Buckets>` +
        [...buckets].map(([b, t]) => `<Bucket><Name>${xml(b)}</Name><CreationDate>${t}</CreationDate></Bucket>`).join("") +
        `</Buckets></ListAllMyBucketsResult>`,
    );
  }
  const bucket = /^\/([^/]+)\/?$/.exec(url.pathname)?.[1];
  if (bucket && (req.method === "PUT" || req.method === "DELETE")) {
    const create = req.method === "PUT";
    if (create && buckets.has(bucket)) return s3Error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.");
    if (!create && !buckets.has(bucket)) return s3Error(404, "NoSuchBucket", "The specified bucket does not exist");
    const endpoint = env.MINIO_DNS_WEBHOOK_ENDPOINT;
    if (endpoint) {
      const r = await webhook(endpoint, bucket, !create);
      log("bucket DNS webhook", { bucket, delete: !create, status: r.status });
      // MinIO undoes a create the webhook refused (409: name taken, "invalid bucket name": bad name).
      if (create && r.status !== 200) {
        if (r.status === 409) return s3Error(409, "BucketAlreadyExists", "The requested bucket name is not available.");
        if (r.body.includes("invalid bucket name")) return s3Error(400, "InvalidBucketName", "The specified bucket is not valid.");
        return s3Error(500, "InternalError", `bucket DNS webhook answered ${r.status}`);
      }
    }
    if (create) buckets.set(bucket, new Date().toISOString());
    else buckets.delete(bucket);
    return send(create ? 200 : 204, "");
  }
  return s3Error(404, "NoSuchKey", "The specified key does not exist.");
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    log("request failed", { error: String(err) });
    if (!res.headersSent) res.writeHead(500).end();
  });
});
// No host: one dual-stack socket where the namespace has IPv6 (the sidecar asks "localhost", which may resolve to ::1), IPv4 otherwise.
server.listen(PORT, () => log("stand-in MinIO listening", { port: PORT, configFile, configError: readConfig().error }));
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
