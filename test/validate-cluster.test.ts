/**
 * `validate` (the init container) end to end: the CLI as a child process,
 * the real @kubernetes/client-node talking to the in-repo fake API server
 * over real sockets, real files (SPEC 2, 4). The scenarios that hold on any
 * API server are in test/scenarios/validate.ts (run here on the fake, and on
 * a real kube-apiserver by test/kube/validate.kube.ts); this file adds what
 * only a fake can stage: plain http, faults, a black hole, a wrong CA.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer, unrelatedCaPem, type FakeApiServer } from "./fake-apiserver/index.ts";
import { fakeBackend, shippedRoleRules } from "./support/backend.ts";
import { runCli, type RunResult } from "./support/cli.ts";
import { NS } from "./support/objects.ts";
import { freePort } from "./support/sidecar.ts";
import { exampleObjects, expectNoSecretValues, validateScenarios } from "./scenarios/validate.ts";

const EX = new URL("./fixtures/examples/", import.meta.url).pathname;
const LEAST = "least-privilege-token";

let dir = "";
let expected = "";
let https: FakeApiServer;
let http: FakeApiServer;
/** Every CLI run of this file, for the "no secret value in any output" check. */
const runs: RunResult[] = [];
/** A TCP server that accepts connections and never answers (a half-dead API server / black-holed network). */
let blackHole: Server;
const held = new Set<Socket>();
/** validate against the black hole, started first so its long wait overlaps the other tests. */
let blackHoleRun: Promise<RunResult & { ms: number }>;
let blackHoleOut = "";

async function validate(args: string[], env?: Record<string, string | undefined>, timeoutMs?: number): Promise<RunResult & { ms: number }> {
  const t0 = performance.now();
  const r = await runCli(["validate", ...args], { env, timeoutMs });
  runs.push(r);
  return { ...r, ms: performance.now() - t0 };
}


beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "validate-cluster-"));
  const tokens = { [LEAST]: { user: "system:serviceaccount:minio-tenant:myminio-sidecar", rules: shippedRoleRules() } };
  https = await startFakeApiServer({ tokens, objects: await exampleObjects() });
  http = await startFakeApiServer({ tls: false, tokens, objects: await exampleObjects() });
  // The bytes `render` prints for the same objects; must equal the committed fixture.
  const r = await runCli(["render", "--tenant-file", `${EX}tenant-base.yaml`, "--secret-file", `${EX}secret.yaml`]);
  expect(r.code).toBe(0);
  expected = r.stdout;
  expect(expected).toBe(await readFile(`${EX}tenant-base.expected.env`, "utf8"));

  blackHole = createServer((s) => held.add(s));
  await new Promise<void>((r) => blackHole.listen(0, "127.0.0.1", () => r()));
  const { port } = blackHole.address() as { port: number };
  blackHoleOut = await outDir();
  const kc = await kubeconfig(https, LEAST, { server: `https://127.0.0.1:${port}` });
  blackHoleRun = validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", kc, "--config-file", `${blackHoleOut}/config.env`], undefined, 90_000);
});

afterAll(async () => {
  await Promise.all([https?.close(), http?.close()]);
  for (const s of held) s.destroy();
  blackHole?.close();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function kubeconfig(api: FakeApiServer, token: string, extra: { caPem?: string; server?: string } = {}) {
  const path = join(dir, `kubeconfig-${++n}.yaml`);
  await api.writeKubeconfig(path, { token, namespace: NS, ...extra });
  return path;
}
/** A fresh empty directory for one run's config file. */
async function outDir() {
  const d = join(dir, `out-${++n}`);
  await mkdir(d);
  return d;
}

describe("validate writes exactly what render prints", () => {
  test("plain http with insecure-skip-tls-verify: same bytes", async () => {
    const out = await outDir();
    const kc = await kubeconfig(http, LEAST);
    expect(await readFile(kc, "utf8")).toContain("insecure-skip-tls-verify: true");
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", kc, "--config-file", `${out}/config.env`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await readFile(`${out}/config.env`, "utf8")).toBe(expected);
    expectNoSecretValues(r);
  });
});

validateScenarios(fakeBackend);

describe("cluster trouble", () => {
  test("API server unreachable (closed port): exit 3 after retries, in bounded time, nothing written", async () => {
    const port = await freePort(); // nothing listens there any more
    const out = await outDir();
    const kc = await kubeconfig(https, LEAST, { server: `https://127.0.0.1:${port}` });
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", kc, "--config-file", `${out}/config.env`]);
    console.log(`validate against a closed port: exit ${r.code} after ${Math.round(r.ms)} ms`);
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(15_000);
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: Tenant ${NS}/myminio: Kubernetes API unreachable after 6 attempts: .*ECONNREFUSED`));
    const retries = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
    expect(retries.map((l) => l.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(await readdir(out)).toEqual([]);
    expectNoSecretValues(r);
  }, 30_000);

  test("a CA that did not sign the server certificate is refused (the https test above really verifies)", async () => {
    const out = await outDir();
    const kc = await kubeconfig(https, LEAST, { caPem: unrelatedCaPem() });
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", kc, "--config-file", `${out}/config.env`]);
    expect(r.code).toBe(3);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(/unable to verify the first certificate/);
    expect(await readdir(out)).toEqual([]);
  }, 30_000);

  test("transient 500s (3 in a row) are retried and validate succeeds", async () => {
    const out = await outDir();
    const from = https.requests.length;
    https.failNext(3, 500);
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", await kubeconfig(https, LEAST), "--config-file", `${out}/config.env`]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(await readFile(`${out}/config.env`, "utf8")).toBe(expected);
    expect(https.requests.slice(from).map((q) => `${q.resource} ${q.status}`)).toEqual([
      "tenants 500",
      "tenants 500",
      "tenants 500",
      "tenants 200",
      "secrets 200",
    ]);
    const warns = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
    expect(warns).toHaveLength(3);
    expectNoSecretValues(r);
  }, 30_000);

  test("connection resets on the Secret read are retried too", async () => {
    const out = await outDir();
    const from = https.requests.length;
    https.failNext(2, "reset", { match: (q) => q.resource === "secrets" });
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", await kubeconfig(https, LEAST), "--config-file", `${out}/config.env`]);
    expect(r.code).toBe(0);
    expect(await readFile(`${out}/config.env`, "utf8")).toBe(expected);
    expect(https.requests.slice(from).filter((q) => q.fault === "reset")).toHaveLength(2);
    expect(https.pendingFaults).toBe(0);
  }, 30_000);
});

test("API server that accepts connections but never answers: each attempt times out, exit 3 in bounded time", async () => {
  const r = await blackHoleRun; // started in beforeAll
  console.log(`validate against a black hole: exit ${r.code} after ${Math.round(r.ms)} ms`);
  expect(r.code).toBe(3);
  // 6 attempts of 3 s each plus at most 7.5 s of backoff, plus start-up.
  expect(r.ms).toBeLessThan(35_000);
  expect(r.ms).toBeGreaterThan(6 * 3_000);
  const lines = r.stderr.split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toBe(`error: Tenant ${NS}/myminio: Kubernetes API unreachable after 6 attempts: ETIMEDOUT: no answer within 3000 ms`);
  expect(await readdir(blackHoleOut)).toEqual([]);
}, 60_000);

test("no secret value appears in any output of this file's runs", () => {
  expect(runs.length).toBeGreaterThanOrEqual(6);
  for (const r of runs) expectNoSecretValues(r);
});
