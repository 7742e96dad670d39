/**
 * SPEC 6: requests signed with MinIO's root credentials (ListBuckets for the
 * bucket reconcile) go only to a loopback --minio-url, or over https with a
 * verified certificate; never over plain http to another host. A SigV4
 * signature can be brute-forced offline like a hash, and a forged bucket list
 * makes the sidecar create (or, with --prune-bucket-services, delete) Services.
 *
 * A non-loopback MinIO needs a non-loopback address: the check runs in a
 * network namespace of its own (unshare -n, root), whose loopback device also
 * carries 192.0.2.10 (TEST-NET-1): nothing leaves the namespace.
 */
import { describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { startWorld, until } from "./fake-minio/world.ts";

const REMOTE_HOST = "192.0.2.10";
const CHECK = new URL("./support/remote-minio-check.ts", import.meta.url).pathname;
const CA = new URL("./fixtures/tls/ca.crt", import.meta.url).pathname;

const canNetns = (() => {
  try {
    return spawnSync("unshare", ["-n", "sh", "-c", `ip link set lo up && ip addr add ${REMOTE_HOST}/32 dev lo`], { stdio: "ignore" }).status === 0;
  } catch {
    return false;
  }
})();

interface Seen {
  url: string;
  requests: Array<{ path: string; authorization: boolean }>;
  reconcile: { ok: boolean; error?: string };
  ready: number;
}

function remoteCheck(scheme: "http" | "https", ...extra: string[]): Seen {
  const r = spawnSync(
    "unshare",
    ["-n", "sh", "-c", `ip link set lo up && ip addr add ${REMOTE_HOST}/32 dev lo && exec "$@"`, "sh", process.execPath, CHECK, scheme, REMOTE_HOST, ...extra],
    { encoding: "utf8", timeout: 60_000, env: process.env },
  );
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !line.startsWith("{")) throw new Error(`remote check failed (${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as Seen;
}

describe.skipIf(!canNetns)("a MinIO URL that is not this pod (own network namespace)", () => {
  test("plain http to another host: MinIO never sees an Authorization header; the reconcile says why", () => {
    const seen = remoteCheck("http");
    expect(seen.url).toStartWith(`http://${REMOTE_HOST}:`);
    expect(seen.requests.some((r) => r.path === "/minio/health/live")).toBe(true); // the unsigned probe went there
    expect(seen.requests.filter((r) => r.authorization)).toEqual([]);
    expect(seen.ready).toBe(200);
    expect(seen.reconcile.ok).toBe(false);
    expect(seen.reconcile.error).toContain("refusing to send MinIO's root credentials over plain http");
  }, 90_000);

  test("https to another host whose certificate does not verify (not for that address): nothing signed arrives", () => {
    for (const extra of [[], ["--minio-ca-file", CA]]) {
      const seen = remoteCheck("https", ...extra);
      expect(seen.requests.filter((r) => r.authorization)).toEqual([]);
      expect(seen.reconcile.ok).toBe(false);
    }
  }, 120_000);
});

test("a loopback MinIO (the default) still gets the signed ListBuckets, certificate unverified as before", async () => {
  const w = await startWorld({ minio: { tls: true, buckets: ["photos"] } });
  try {
    const sc = await w.sidecar();
    await until(async () => ((await (await sc.probe("/status")).json()) as { bucketReconcile?: { ok: boolean } }).bucketReconcile?.ok, 20_000, "a good reconcile");
    expect(w.minio.requestsTo("/").some((r) => r.authorization?.startsWith("AWS4-HMAC-SHA256 "))).toBe(true);
  } finally {
    await w.close();
  }
}, 60_000);
