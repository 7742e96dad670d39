/**
 * The sidecar as a real child process against a misbehaving fake API server
 * (https, CA in the kubeconfig, least-privilege token): 5xx answers and
 * connection resets, dropped watches, 410 Gone in both forms, the API server
 * going away and coming back on the same port, an API server absent at
 * start-up. In every case the sidecar keeps running, reads only its two
 * objects by name, and converges on the latest Tenant and Secret (SPEC 4, 5).
 */
import { afterEach, expect, test } from "bun:test";
import { eventually } from "./support/sidecar.ts";
import {
  EXPECTED_BASE,
  configEnv,
  expectedFile,
  pw,
  fileText,
  status,
  fileIs,
  setSecret,
  setup,
  statusWhen,
  metric,
  finish,
  cleanup,
  type Env,
} from "./support/sidecar-cluster.ts";

afterEach(cleanup);

// ---- tests ----------------------------------------------------------------------------------

/** The requests logged from index `from` on. */
const since = (e: Env, from: number) => e.api.requests.slice(from);

test("500s while the Secret changes: the watch retries with backoff and converges", async () => {
  const e = await setup();
  await fileIs(e, EXPECTED_BASE);
  const from = e.api.requests.length;
  const restartsBefore = await metric(e, "minio_sidecar_watch_restarts_total", 'kind="Secret"');
  await eventually(() => e.api.openWatches.length === 2); // the file is written before the watches open
  // A stream dropped within its first second counts as a failure (a server that closes every watch at
  // once must not get a tight loop); let them run past it, so exactly the four 500s below are failures.
  await Bun.sleep(1_100);
  // Every failure doubles the backoff step (0.8 s, 1.6 s, 3.2 s, 6.4 s), each wait drawn from half
  // to three steps (never under 0.8 s): 3.2 s to 36 s for four failures, 18 s on average.
  e.api.failNext(4, 500, { match: (r) => r.resource === "secrets" });
  expect(e.api.dropWatches()).toBe(2);
  setSecret(e, configEnv(pw("during-500s")));
  await fileIs(e, expectedFile(pw("during-500s")), 45_000);
  expect(e.api.pendingFaults).toBe(0);
  expect(since(e, from).filter((r) => r.fault === 500 && r.resource === "secrets")).toHaveLength(4);
  expect(await metric(e, "minio_sidecar_watch_restarts_total", 'kind="Secret"')).toBeGreaterThanOrEqual(restartsBefore + 4);
  // A later change arrives through the re-established watch.
  setSecret(e, configEnv(pw("after-500s")));
  await fileIs(e, expectedFile(pw("after-500s")));
  expect((await status(e)).configValid).toBe(true);
  await finish(e);
}, 75_000);

test("connection resets and 503s on every request for a while, list included: converges", async () => {
  const e = await setup();
  await fileIs(e, EXPECTED_BASE);
  const from = e.api.requests.length;
  // Several resets (Bun's fetch silently retries one on a pooled connection), then 503s;
  // compact() makes the resumed watches 410 so that the re-list runs into the faults too.
  e.api.failNext(3, "reset");
  e.api.failNext(2, 503);
  e.api.dropWatches();
  setSecret(e, configEnv(pw("during-resets")));
  e.api.compact();
  await fileIs(e, expectedFile(pw("during-resets")), 25_000);
  expect(e.api.pendingFaults).toBe(0);
  expect(since(e, from).some((r) => r.verb === "list" && r.resource === "secrets" && r.status === 200)).toBe(true);
  await finish(e);
}, 40_000);

test("dropped watches resume from the last resourceVersion (no re-list) and see changes made meanwhile and later", async () => {
  const e = await setup();
  await fileIs(e, EXPECTED_BASE);
  await Bun.sleep(1_100); // a bookmark or two on the streams
  for (let round = 1; round <= 3; round++) {
    // A stream that ends within 1 s without any event counts as a failure (backoff, same resourceVersion);
    // wait until both watches are open again.
    await eventually(() => e.api.openWatches.length === 2);
    const from = e.api.requests.length;
    const rvBefore = e.api.resourceVersion;
    expect(e.api.dropWatches()).toBe(2);
    setSecret(e, configEnv(pw(`gap-${round}`))); // while no watch is open
    await fileIs(e, expectedFile(pw(`gap-${round}`)));
    const resumed = since(e, from).filter((r) => r.resource === "secrets" && r.watch);
    expect(resumed.length).toBeGreaterThanOrEqual(1);
    expect(Number(resumed[0]!.query.resourceVersion)).toBeGreaterThan(0);
    expect(Number(resumed[0]!.query.resourceVersion)).toBeLessThanOrEqual(Number(rvBefore));
    setSecret(e, configEnv(pw(`later-${round}`)));
    await fileIs(e, expectedFile(pw(`later-${round}`)));
    expect(since(e, from).filter((r) => r.verb === "list")).toEqual([]);
  }
  await finish(e);
}, 40_000);

for (const mode of ["event", "http"] as const) {
  test(`410 Gone as ${mode === "event" ? "an ERROR event" : "an HTTP status"}: re-lists and converges`, async () => {
    const e = await setup({ api: { expiredWatch: mode } });
    await fileIs(e, EXPECTED_BASE);
    const from = e.api.requests.length;
    const restartsBefore = await metric(e, "minio_sidecar_watch_restarts_total");
    e.api.dropWatches();
    setSecret(e, configEnv(pw(`gone-${mode}`)));
    e.api.compact(); // the watches' resourceVersion is now too old
    await fileIs(e, expectedFile(pw(`gone-${mode}`)));
    const reqs = since(e, from).filter((r) => r.resource === "secrets");
    const expired = reqs.findIndex((r) => r.watch && r.status === (mode === "http" ? 410 : 200));
    expect(expired).toBeGreaterThanOrEqual(0);
    expect(reqs.slice(expired + 1).some((r) => r.verb === "list" && r.status === 200)).toBe(true);
    expect(await metric(e, "minio_sidecar_watch_restarts_total")).toBeGreaterThan(restartsBefore);
    if (mode === "event") await e.sc.waitForLog((l) => String(l.msg).includes("410 Gone"));
    // And watching again afterwards.
    setSecret(e, configEnv(pw(`after-gone-${mode}`)));
    await fileIs(e, expectedFile(pw(`after-gone-${mode}`)));
    await finish(e);
  });
}

test("API server stopped for 4 s and restarted on the same port: converges within seconds", async () => {
  const e = await setup();
  await fileIs(e, EXPECTED_BASE);
  await e.api.stop();
  setSecret(e, configEnv(pw("while-down"))); // the store outlives the listener
  // /status shows the watches failing to reconnect.
  await statusWhen(e, (s) => s.watches.every((w) => w.state !== "watching" && String(w.lastError).includes("ECONNREFUSED")), 5_000);
  await Bun.sleep(4_000 - 300);
  expect((await e.sc.probe("/healthz")).status).toBe(200);
  expect(await fileText(e)).toBe(EXPECTED_BASE);
  const t0 = performance.now();
  await e.api.start();
  await fileIs(e, expectedFile(pw("while-down")), 20_000);
  const ms = performance.now() - t0;
  console.log(`converged ${Math.round(ms)} ms after the API server came back`);
  expect(ms).toBeLessThan(12_000); // backoff cap is 10 s; after ~4 s down the next try is at most ~4-8 s away
  // As on a real kube-apiserver, the restarted server's watch history starts anew: the resume is a 410.
  expect(e.sc.logs.some((l) => /\b410\b/.test(String(l.msg)))).toBe(true);
  setSecret(e, configEnv(pw("after-restart")));
  await fileIs(e, expectedFile(pw("after-restart")));
  await finish(e);
}, 45_000);

test("SIGTERM while the API server is down (watches backing off): exit 0 within 2 s", async () => {
  const e = await setup();
  await fileIs(e, EXPECTED_BASE);
  await e.api.stop();
  await statusWhen(e, (s) => s.watches.every((w) => w.state === "backoff" || w.state === "listing"), 5_000);
  await finish(e);
});

test("API server absent at start-up: the sidecar retries without exiting, serves, and converges once it appears", async () => {
  const e = await setup({ listening: false }); // returns once /healthz answers (after the initial-sync wait)
  expect((await e.sc.probe("/healthz")).status).toBe(200);
  expect(await fileText(e)).toBe("");
  expect((await status(e)).configValid).toBe(false);
  await e.sc.waitForLog((l) => String(l.msg).includes("serving anyway"));
  await e.api.start();
  await fileIs(e, EXPECTED_BASE, 15_000);
  await statusWhen(e, (s) => s.configValid === true);
  await finish(e);
}, 45_000);
