/**
 * `validate` (the init container) end to end, the scenarios that hold on any
 * API server: the CLI as a child process (the compiled binary with
 * SIDECAR_BIN) and the real @kubernetes/client-node talking to the backend's
 * API server over real sockets (https, CA in the kubeconfig), real files
 * (SPEC 2, 4). The sidecar's credential is bound to the Role of
 * deploy/rbac.yaml; content cases use an admin credential.
 *
 * Run by test/validate-cluster.test.ts on the fake (which adds the fault
 * cases only a fake can stage) and by test/kube/validate.kube.ts on a real
 * kube-apiserver.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import type { KObject } from "../fake-apiserver/index.ts";
import { SIDECAR_USER, type Backend, type Cluster } from "../support/backend.ts";
import { runCli, type RunResult } from "../support/cli.ts";
import { NS, PASSWORD, pool, secret, tenant } from "../support/objects.ts";
import { canUnshare, inPod } from "../support/sidecar.ts";

const EX = new URL("../fixtures/examples/", import.meta.url).pathname;
const EXAMPLE_PASSWORD = "minio123"; // root password of the example Secret (deploy/examples/secret.yaml)

const docs = async (file: string) => loadAll(await readFile(file, "utf8")) as KObject[];
export const exampleObjects = async () => [...(await docs(`${EX}tenant-base.yaml`)), ...(await docs(`${EX}secret.yaml`))];

export function expectNoSecretValues(r: { stdout: string; stderr: string }) {
  for (const s of [r.stdout, r.stderr]) {
    expect(s).not.toContain(PASSWORD);
    expect(s).not.toContain(EXAMPLE_PASSWORD);
  }
}

/** Exit 1, exactly one stderr line (the given one), a pino error line on stdout, nothing secret. */
export function expectInputError(r: RunResult, line: string | RegExp) {
  expect(r.code).toBe(1);
  const lines = r.stderr.split("\n").filter(Boolean);
  expect(lines).toHaveLength(1);
  if (typeof line === "string") expect(lines[0]).toBe(`error: ${line}`);
  else expect(lines[0]).toMatch(line);
  const errors = r.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.level === "error");
  expect(errors).toHaveLength(1);
  expect(errors[0].exitCode).toBe(1);
  expectNoSecretValues(r);
}

export function validateScenarios(backend: Backend) {
  let c: Cluster;
  let dir = "";
  let expected = "";
  const runs: RunResult[] = [];
  let n = 0;

  async function validate(args: string[], env?: Record<string, string | undefined>, wrap?: string[]): Promise<RunResult> {
    const r = await runCli(["validate", ...args], { env, wrap });
    runs.push(r);
    return r;
  }
  async function kubeconfig(token: string) {
    const path = join(dir, `kubeconfig-${++n}.yaml`);
    await c.api.writeKubeconfig(path, { token, namespace: NS });
    return path;
  }
  async function outDir() {
    const d = join(dir, `out-${++n}`);
    await mkdir(d);
    return d;
  }
  const args = async (name: string, token: string, out: string) => ["--tenant", name, "--namespace", NS, "--kubeconfig", await kubeconfig(token), "--config-file", `${out}/config.env`];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "validate-scenarios-"));
    c = await backend.cluster({ objects: await exampleObjects() });
    // The bytes `render` prints for the same objects; must equal the committed fixture.
    const r = await runCli(["render", "--tenant-file", `${EX}tenant-base.yaml`, "--secret-file", `${EX}secret.yaml`]);
    expect(r.code).toBe(0);
    expected = r.stdout;
    expect(expected).toBe(await readFile(`${EX}tenant-base.expected.env`, "utf8"));
  });
  afterAll(async () => {
    await c?.close();
    await rm(dir, { recursive: true, force: true });
  });

  describe("validate writes exactly what render prints", () => {
    test("least-privilege ServiceAccount token: file = render output, not world-readable; only the two objects, by name", async () => {
      const out = await outDir();
      const from = c.api.requests.length;
      const r = await validate(await args("myminio", c.token, out));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(await readFile(`${out}/config.env`, "utf8")).toBe(expected);
      expect((await stat(`${out}/config.env`)).mode & 0o007).toBe(0);
      expect(await readdir(out)).toEqual(["config.env"]); // no temp file left behind
      const reqs = c.api.requests.slice(from).map((q) => `${q.verb} ${q.resource} ${q.namespace}/${q.name} ${q.user} ${q.status}`);
      expect(reqs).toEqual([`get tenants ${NS}/myminio ${SIDECAR_USER} 200`, `get secrets ${NS}/storage-configuration ${SIDECAR_USER} 200`]);
      const log = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
      expect(log).toMatchObject({ level: "info", command: "validate", written: true });
      expectNoSecretValues(r);
    });

    test("an unchanged file is left alone (same inode, not rewritten)", async () => {
      const out = await outDir();
      const a = await args("myminio", c.token, out);
      expect((await validate(a)).code).toBe(0);
      const before = await stat(`${out}/config.env`);
      const r = await validate(a);
      expect(r.code).toBe(0);
      const after = await stat(`${out}/config.env`);
      expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
      expect(JSON.parse(r.stdout.trim().split("\n").at(-1)!).written).toBe(false);
    });

    test("$KUBECONFIG is used when --kubeconfig is absent", async () => {
      const out = await outDir();
      const r = await validate(["--tenant", "myminio", "--namespace", NS, "--config-file", `${out}/config.env`], { KUBECONFIG: await kubeconfig(c.token) });
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(await readFile(`${out}/config.env`, "utf8")).toBe(expected);
    });

    test.skipIf(!canUnshare)("in-cluster: KUBERNETES_SERVICE_HOST + service-account files (token, ca.crt, namespace); namespace from the pod", async () => {
      const sa = join(dir, `serviceaccount-${++n}`);
      await c.api.writeServiceAccount(sa, { token: c.token, namespace: NS });
      const out = await outDir();
      const from = c.api.requests.length;
      // No --kubeconfig, no --namespace; a $KUBECONFIG that would fail shows that in-cluster wins.
      const r = await validate(["--tenant", "myminio", "--config-file", `${out}/config.env`], { ...c.api.inClusterEnv(), KUBECONFIG: join(dir, "does-not-exist.yaml") }, inPod(sa));
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(await readFile(`${out}/config.env`, "utf8")).toBe(expected);
      expect(c.api.requests.slice(from).map((q) => [q.user, q.namespace, q.status])).toEqual([
        [SIDECAR_USER, NS, 200],
        [SIDECAR_USER, NS, 200],
      ]);
      expectNoSecretValues(r);
    });
  });

  describe("invalid input: exit 1, one stderr line naming the object, nothing written", () => {
    // A Tenant whose `servers` is not an integer cannot be stored where the
    // CRD's schema types it (a real server answers 422); only the fake has it.
    const wrongType = backend.name === "fake";
    beforeAll(async () => {
      await c.api.create(tenant({ configuration: { name: "absent-secret" } }, "no-secret"));
      await c.api.create(tenant({ configuration: { name: "no-config-env" } }, "empty-secret"));
      await c.api.create(secret(null, "no-config-env"));
      await c.api.create(tenant({ configuration: { name: "no-password" } }, "no-password"));
      await c.api.create(secret('export MINIO_ROOT_USER="minio"\nexport MINIO_BROWSER="on"\n', "no-password"));
      await c.api.create(tenant({ pools: [pool({ name: "pool-0", servers: 2, volumesPerServer: 1 })] }, "bad-pool"));
      if (wrongType) await c.api.create(tenant({ pools: [pool({ name: "pool-0", servers: "four" })] }, "bad-type"));
    });

    const cases: Array<[string, string, string | RegExp]> = [
      ["Tenant missing", "nope", `Tenant ${NS}/nope: not found`],
      ["Secret missing", "no-secret", `Secret ${NS}/absent-secret: not found`],
      ["Secret without config.env (no root credentials)", "empty-secret", new RegExp(`^error: Secret ${NS}/no-config-env: config\\.env: missing root credentials`)],
      ["Secret without a root password", "no-password", new RegExp(`^error: Secret ${NS}/no-password: config\\.env: missing root credentials`)],
      ["Tenant invalid (pool too small)", "bad-pool", `Tenant ${NS}/bad-pool: spec.pools[0].volumesPerServer: a pool of 2 servers needs at least 4 volumes in total`],
      ...(wrongType ? [["Tenant invalid (wrong type)", "bad-type", new RegExp(`^error: Tenant ${NS}/bad-type: spec\\.pools\\[0\\]\\.servers: `)] as [string, string, RegExp]] : []),
    ];

    for (const [what, name, line] of cases) {
      test(`${what}: no file created`, async () => {
        const out = await outDir();
        const r = await validate(await args(name, c.adminToken, out));
        expectInputError(r, line);
        expect(existsSync(`${out}/config.env`)).toBe(false);
        expect(await readdir(out)).toEqual([]);
      });

      test(`${what}: a pre-existing file is untouched`, async () => {
        const out = await outDir();
        const file = `${out}/config.env`;
        await writeFile(file, 'export MINIO_ROOT_USER="previous"\n', { mode: 0o640 });
        const before = await stat(file);
        const r = await validate(await args(name, c.adminToken, out));
        expectInputError(r, line);
        const after = await stat(file);
        expect(await readFile(file, "utf8")).toBe('export MINIO_ROOT_USER="previous"\n');
        expect([after.ino, after.mtimeMs, after.mode]).toEqual([before.ino, before.mtimeMs, before.mode]);
        expect(await readdir(out)).toEqual(["config.env"]);
      });
    }

    test("a Role without the Secret's name: 403 is exit 1 naming the Secret, not retried", async () => {
      const token = await c.tokenFor(["some-other-secret"]);
      const out = await outDir();
      const from = c.api.requests.length;
      const r = await validate(await args("myminio", token, out));
      expectInputError(r, new RegExp(`^error: Secret ${NS}/storage-configuration: forbidden`));
      expect(c.api.requests.slice(from).map((q) => `${q.verb} ${q.resource} ${q.status}`)).toEqual(["get tenants 200", "get secrets 403", "create events 201"]); // then its Event (the shipped Role allows it), no retry
      expect(await readdir(out)).toEqual([]);
    });
  });

  test("a token the API server rejects (401): exit 1 naming the Tenant, not retried", async () => {
    const out = await outDir();
    const r = await validate(await args("myminio", "not-a-valid-token", out));
    expectInputError(r, `Tenant ${NS}/myminio: unauthorized: the API server rejected the credentials`);
    expect(await readdir(out)).toEqual([]);
  });

  test("no secret value appears in any output of these runs", () => {
    expect(runs.length).toBeGreaterThan(10);
    for (const r of runs) expectNoSecretValues(r);
  });
}
