/**
 * The sidecar as a real child process against a misbehaving fake API server
 * (https, CA in the kubeconfig, least-privilege token): 5xx answers and
 * connection resets, dropped watches, 410 Gone in both forms, the API server
 * going away and coming back on the same port, an API server absent at
 * start-up. In every case the sidecar keeps running, reads only its two
 * objects by name, and converges on the latest Tenant and Secret (SPEC 4, 5).
 */
import { afterEach, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { FakeApiServer, startFakeApiServer, type FakeApiServerOptions, type KObject } from "./fake-apiserver/index.ts";
import { NS, PASSWORD, secret } from "./support/objects.ts";
import { eventually, freePort, startSidecar, type SidecarProcess } from "./support/sidecar.ts";

// ---- harness (the same in sidecar-watch.test.ts) -------------------------------------------

const EX = new URL("./fixtures/examples/", import.meta.url).pathname;
const EXAMPLE_PASSWORD = "minio123";
const TOKEN = "sidecar-token";
const SECRET = "storage-configuration";
const SECRET_V2 = "storage-configuration-v2";
const TENANT_DOC = (loadAll(await readFile(`${EX}tenant-base.yaml`, "utf8")) as KObject[])[0]!;
const EXPECTED_BASE = await readFile(`${EX}tenant-base.expected.env`, "utf8");

/** config.env of the example Secret with another root password. */
const configEnv = (password: string) =>
  `export MINIO_ROOT_USER="minio"\nexport MINIO_ROOT_PASSWORD="${password}"\nexport MINIO_STORAGE_CLASS_STANDARD="EC:2"\nexport MINIO_BROWSER="on"`;
/** The file the sidecar must write for the example Tenant and configEnv(password). */
const expectedFile = (password: string) => EXPECTED_BASE.replace(`MINIO_ROOT_PASSWORD="${EXAMPLE_PASSWORD}"`, `MINIO_ROOT_PASSWORD="${password}"`);
const exampleTenant = (): KObject => structuredClone(TENANT_DOC);
const pw = (tag: string | number) => `${PASSWORD}-${tag}`;

interface Env {
  api: FakeApiServer;
  sc: SidecarProcess;
  dir: string;
  file: string;
}
let current: Env | undefined;

/** Fake API server with the example Tenant and Secret, a Role limited by resourceNames, and the sidecar. */
async function setup(o: { tenant?: boolean; secretNames?: string[]; args?: string[]; api?: FakeApiServerOptions; listening?: boolean } = {}): Promise<Env> {
  const options: FakeApiServerOptions = {
    ...o.api,
    tokens: {
      [TOKEN]: {
        user: "system:serviceaccount:minio-tenant:myminio-sa",
        rules: [
          { apiGroups: ["minio.min.io"], resources: ["tenants"], verbs: ["get", "list", "watch"], resourceNames: ["myminio"], namespaces: [NS] },
          { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"], resourceNames: o.secretNames ?? [SECRET], namespaces: [NS] },
        ],
      },
    },
    objects: [...(o.tenant === false ? [] : [exampleTenant()]), secret(configEnv(EXAMPLE_PASSWORD), SECRET)],
  };
  // listening: false = the API server is not there yet (its port is reserved and closed).
  const api = o.listening === false ? new FakeApiServer({ ...options, port: await freePort() }) : await startFakeApiServer(options);
  const dir = await mkdtemp(join(tmpdir(), "sidecar-test-"));
  const kubeconfig = join(dir, "kubeconfig.yaml");
  await api.writeKubeconfig(kubeconfig, { token: TOKEN, namespace: NS });
  const file = join(dir, "config", "config.env");
  current = { api, dir, file } as Env;
  current.sc = await startSidecar({ kubeconfig, namespace: NS, configFile: file, args: o.args });
  return current;
}

afterEach(async () => {
  const e = current;
  current = undefined;
  if (!e) return;
  if (e.sc && e.sc.proc.exitCode === null) e.sc.proc.kill("SIGKILL");
  await e.api.close();
  await rm(e.dir, { recursive: true, force: true });
});

const fileText = (e: Env) => readFile(e.file, "utf8").catch(() => "");
interface Status {
  configValid: boolean;
  configSha256?: string;
  lastError?: string;
  secret: string;
  watches: Array<{ kind: string; name: string; state: string; lastError?: string }>;
  [k: string]: unknown;
}
const status = async (e: Env) => (await (await e.sc.probe("/status")).json()) as Status;
/** The first /status answer that satisfies `pred`. */
async function statusWhen(e: Env, pred: (s: Status) => unknown, timeoutMs = 10_000): Promise<Status> {
  let last: Status | undefined;
  await eventually(async () => pred((last = await status(e))), timeoutMs, "/status condition");
  return last!;
}
/** Sum of a metric's samples (all label sets, or those containing `labels`). */
async function metric(e: Env, name: string, labels = ""): Promise<number> {
  const text = await (await e.sc.probe("/metrics")).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? "").includes(labels)) sum += Number(m[3]);
  }
  return sum;
}
const fileIs = (e: Env, content: string, timeoutMs = 10_000) => eventually(async () => (await fileText(e)) === content, timeoutMs, "config file content");
const setSecret = (e: Env, configEnvText: string | null, name = SECRET) => e.api.update(secret(configEnvText, name));

/**
 * What every test ends with: the sidecar is still running (it never exits on
 * its own), stops with exit 0 within 2 s on SIGTERM, read nothing but its two
 * objects by name, and printed no secret value.
 */
async function finish(e: Env, o: { secretNames?: string[]; signal?: NodeJS.Signals } = {}) {
  expect(e.sc.proc.exitCode).toBeNull();
  const { code, ms } = await e.sc.stop(o.signal ?? "SIGTERM");
  expect(code).toBe(0);
  expect(ms).toBeLessThan(2_000);
  const names = { secrets: o.secretNames ?? [SECRET], tenants: ["myminio"] } as Record<string, string[]>;
  const bad = e.api.requests
    .filter((r) => {
      if (r.status === 401 || r.status === 403) return true;
      if (r.resource !== "secrets" && r.resource !== "tenants") return true; // nothing else is read
      if (r.verb !== "list" && r.verb !== "watch") return r.verb !== "get";
      return r.namespace !== NS || !r.name || r.query.fieldSelector !== `metadata.name=${r.name}` || !names[r.resource]!.includes(r.name);
    })
    .map((r) => `${r.method} ${r.path}?${new URLSearchParams(r.query)} -> ${r.status}`);
  expect(bad).toEqual([]);
  expect(e.api.requests.some((r) => r.resource === "secrets" && r.watch)).toBe(true);
  for (const out of [e.sc.stdout(), e.sc.stderr()]) {
    expect(out).not.toContain(PASSWORD);
    expect(out).not.toContain(EXAMPLE_PASSWORD);
  }
}

// ---- tests ----------------------------------------------------------------------------------

/** The requests logged from index `from` on. */
const since = (e: Env, from: number) => e.api.requests.slice(from);

test("500s while the Secret changes: the watch retries with backoff and converges", async () => {
  const e = await setup();
  await fileIs(e, EXPECTED_BASE);
  const from = e.api.requests.length;
  const restartsBefore = await metric(e, "minio_sidecar_watch_restarts_total", 'kind="Secret"');
  await eventually(() => e.api.openWatches.length === 2); // the file is written before the watches open
  // Every failure doubles the backoff ceiling (250 ms, 500 ms, ... cap 10 s, full jitter).
  e.api.failNext(4, 500, { match: (r) => r.resource === "secrets" });
  expect(e.api.dropWatches()).toBe(2);
  setSecret(e, configEnv(pw("during-500s")));
  await fileIs(e, expectedFile(pw("during-500s")), 25_000);
  expect(e.api.pendingFaults).toBe(0);
  expect(since(e, from).filter((r) => r.fault === 500 && r.resource === "secrets")).toHaveLength(4);
  expect(await metric(e, "minio_sidecar_watch_restarts_total", 'kind="Secret"')).toBeGreaterThanOrEqual(restartsBefore + 4);
  // A later change arrives through the re-established watch.
  setSecret(e, configEnv(pw("after-500s")));
  await fileIs(e, expectedFile(pw("after-500s")));
  expect((await status(e)).configValid).toBe(true);
  await finish(e);
}, 40_000);

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
