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
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer, unrelatedCaPem, type FakeApiServer } from "./fake-apiserver/index.ts";
import { fakeBackend, shippedRoleRules } from "./support/backend.ts";
import { runCli, type RunResult } from "./support/cli.ts";
import { NS, pool, tenant } from "./support/objects.ts";
import { freePort } from "./support/sidecar.ts";
import { exampleObjects, expectNoSecretValues, validateScenarios } from "./scenarios/validate.ts";

const EX = new URL("./fixtures/examples/", import.meta.url).pathname;
const LEAST = "least-privilege-token";
const ADMIN = "admin-token";

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
  const tokens = { [LEAST]: { user: "system:serviceaccount:minio-tenant:myminio-sidecar", rules: shippedRoleRules() }, [ADMIN]: "admin" as const };
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
  blackHoleRun = validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", kc, "--config-file", `${blackHoleOut}/config.env`, "--retry-for", "8s"], undefined, 90_000);
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

describe("namespace and termination message", () => {
  test("without --namespace, outside a pod: the kubeconfig's current-context namespace (as kubectl)", async () => {
    const out = await outDir();
    const from = https.requests.length;
    const r = await validate(["--tenant", "myminio", "--kubeconfig", await kubeconfig(https, LEAST), "--config-file", `${out}/config.env`]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(https.requests.slice(from).map((q) => q.namespace)).toEqual([NS, NS]);
    // Another context namespace is followed too (and named when the Tenant is not there).
    const elsewhere = join(dir, "elsewhere.kubeconfig");
    await https.writeKubeconfig(elsewhere, { token: ADMIN, namespace: "elsewhere" });
    const r2 = await validate(["--tenant", "myminio", "--kubeconfig", elsewhere, "--config-file", `${out}/config.env`]);
    expect(r2.stderr).toBe("error: Tenant elsewhere/myminio: not found\n");
  });

  test("a fatal error is also the termination message: the file holds exactly the stderr line", async () => {
    https.create(tenant({ pools: [pool({ name: "pool-0", servers: 2, volumesPerServer: 1 })] }, "tiny-pool"));
    const log = join(dir, "termination-log");
    await writeFile(log, "left over from an earlier run, longer than the new message ".repeat(8));
    const r = await validate([
      "--tenant", "tiny-pool", "--namespace", NS, "--kubeconfig", await kubeconfig(https, ADMIN),
      "--config-file", `${await outDir()}/config.env`, "--termination-log", log,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: Tenant ${NS}/tiny-pool: spec.pools[0].volumesPerServer: a pool of 2 servers needs at least 4 volumes in total\n`);
    expect(await readFile(log, "utf8")).toBe(r.stderr);
    // exit 3 (nothing to connect to) and exit 2 (a bad flag) too
    const home = join(dir, "empty-home-2");
    await mkdir(home, { recursive: true });
    const r3 = await validate(["--tenant", "x", "--termination-log", log], { HOME: home, KUBECONFIG: undefined });
    expect(r3.code).toBe(3);
    expect(await readFile(log, "utf8")).toBe(r3.stderr);
    const r2 = await validate(["--tenant", "x", "--termination-log", log, "--retry-for", "soon"]);
    expect(r2.code).toBe(2);
    expect(await readFile(log, "utf8")).toBe(`${r2.stderr.split("\n")[0]}\n`); // the message, not the usage line
  });

  test("a termination-log path that does not exist is not created (the kubelet creates it in a container)", async () => {
    const log = join(dir, "no-such-termination-log");
    const r = await validate(["--tenant", "nope", "--namespace", NS, "--kubeconfig", await kubeconfig(https, ADMIN), "--config-file", `${await outDir()}/config.env`, "--termination-log", log]);
    expect(r.code).toBe(1);
    expect(existsSync(log)).toBe(false);
  });
});


describe("cluster trouble", () => {
  test("API server unreachable (closed port): exit 3 after --retry-for, naming the server and the cause, nothing written", async () => {
    const port = await freePort(); // nothing listens there any more
    const out = await outDir();
    const kc = await kubeconfig(https, LEAST, { server: `https://127.0.0.1:${port}` });
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", kc, "--config-file", `${out}/config.env`, "--retry-for", "4s"]);
    console.log(`validate against a closed port, --retry-for 4s: exit ${r.code} after ${Math.round(r.ms)} ms`);
    expect(r.code).toBe(3);
    expect(r.ms).toBeGreaterThan(3_000);
    expect(r.ms).toBeLessThan(9_000);
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^error: Tenant ${NS}/myminio: Kubernetes API https://127\\.0\\.0\\.1:${port} unreachable after (\\d+) attempts in [34]\\.\\d s: .*ECONNREFUSED`));
    const attempts = Number(/after (\d+) attempts/.exec(lines[0]!)![1]);
    const retries = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === "warn");
    expect(retries.map((l) => l.attempt)).toEqual(Array.from({ length: attempts - 1 }, (_, i) => i + 1));
    expect(await readdir(out)).toEqual([]);
    expectNoSecretValues(r);
  }, 45_000);

  test("--retry-for 0: one attempt, then exit 3", async () => {
    const port = await freePort();
    const kc = await kubeconfig(https, LEAST, { server: `https://127.0.0.1:${port}` });
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", kc, "--config-file", `${await outDir()}/config.env`, "--retry-for", "0"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/unreachable after 1 attempt in 0\.\d s: .*ECONNREFUSED/);
  });

  test("no kubeconfig anywhere and not in a pod: exit 3 saying so and where it looked", async () => {
    const home = join(dir, "empty-home");
    await mkdir(home, { recursive: true });
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--config-file", `${await outDir()}/config.env`], { HOME: home, KUBECONFIG: undefined });
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(
      `error: no Kubernetes client configuration found: not in a pod (KUBERNETES_SERVICE_HOST is not set), no --kubeconfig, and no file at ~/.kube/config (${home}/.kube/config)\n`,
    );
    const r2 = await validate(["--tenant", "myminio", "--namespace", NS, "--config-file", `${await outDir()}/config.env`], { HOME: home, KUBECONFIG: `${dir}/a.yaml:${dir}/b.yaml` });
    expect(r2.code).toBe(3);
    expect(r2.stderr).toContain(`no file at $KUBECONFIG (${dir}/a.yaml:${dir}/b.yaml)`);
    expect(r.stderr + r2.stderr).not.toContain("HTTP protocol is not allowed");
  });

  test("an explicit --kubeconfig that does not exist: exit 3 like no kubeconfig at all, naming the file, nothing written", async () => {
    const out = await outDir();
    const missing = join(dir, "no-such-dir", "kubeconfig.yaml");
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", missing, "--config-file", `${out}/config.env`]);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe(`error: no Kubernetes client configuration found: --kubeconfig ${missing} does not exist\n`);
    expect(existsSync(`${out}/config.env`)).toBe(false);
  });

  test("a CA that did not sign the server certificate is refused at once, not retried (the https test above really verifies)", async () => {
    const out = await outDir();
    const kc = await kubeconfig(https, LEAST, { caPem: unrelatedCaPem() });
    const r = await validate(["--tenant", "myminio", "--namespace", NS, "--kubeconfig", kc, "--config-file", `${out}/config.env`], undefined, 40_000);
    expect(r.code).toBe(3);
    expect(r.ms).toBeLessThan(5_000); // the default --retry-for is 60 s
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^error: Tenant ${NS}/myminio: Kubernetes API https://127\\.0\\.0\\.1:\\d+: TLS verification failed: .*unable to verify the first certificate`));
    expect(await readdir(out)).toEqual([]);
  }, 45_000);

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

test("API server that accepts connections but never answers: each attempt times out, exit 3 once --retry-for is spent", async () => {
  const r = await blackHoleRun; // started in beforeAll with --retry-for 8s
  console.log(`validate against a black hole, --retry-for 8s: exit ${r.code} after ${Math.round(r.ms)} ms`);
  expect(r.code).toBe(3);
  // Attempts of 3 s each; the last one gets what is left of the 8 s (at least 1 s).
  expect(r.ms).toBeGreaterThan(8_000);
  expect(r.ms).toBeLessThan(14_000);
  const lines = r.stderr.split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^error: Tenant ${NS}/myminio: Kubernetes API https://127\\.0\\.0\\.1:\\d+ unreachable after \\d attempts in (8|9)\\.\\d s: ETIMEDOUT: no answer within \\d+ ms$`));
  expect(await readdir(blackHoleOut)).toEqual([]);
}, 60_000);

test("no secret value appears in any output of this file's runs", () => {
  expect(runs.length).toBeGreaterThanOrEqual(6);
  for (const r of runs) expectNoSecretValues(r);
});
