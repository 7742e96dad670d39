/**
 * Run inside a network namespace of the test's own (test/minio-credentials.test.ts
 * starts it with `unshare -n` and gives its loopback device a second address,
 * REMOTE_HOST, from the documentation range): a fake MinIO listening on that
 * non-loopback address, the sidecar told to use it through --minio-url, and
 * what reached MinIO. Prints one JSON line. Nothing leaves the namespace.
 */
import { startWorld, until } from "../fake-minio/world.ts";
import { startFakeMinio } from "../fake-minio/index.ts";
import { PASSWORD } from "./objects.ts";

const [scheme, host, ...extra] = process.argv.slice(2);
const w = await startWorld();
const remote = await startFakeMinio({ accessKey: "minio", secretKey: PASSWORD, tls: scheme === "https", host, buckets: ["photos"] });
try {
  const sc = await w.sidecar(["--minio-url", remote.url, ...extra]);
  const reconcile = await until(async () => {
    const s = (await (await sc.probe("/status")).json()) as { bucketReconcile?: { ok: boolean; error?: string } | null };
    return s.bucketReconcile ?? undefined;
  }, 20_000, "a bucket reconcile attempt");
  const ready = (await sc.probe("/ready")).status;
  console.log(JSON.stringify({ url: remote.url, requests: remote.requests.map((r) => ({ path: r.path, authorization: r.authorization !== undefined })), reconcile, ready }));
} finally {
  await remote.close();
  await w.close();
}
