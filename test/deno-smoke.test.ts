/**
 * SPEC 1: `deno run -A src/main.ts <command>` behaves like Bun. Deno comes
 * from the `deno` npm devDependency (node_modules/.bin/deno) and resolves
 * npm packages from node_modules (package.json + node_modules, no deno.json:
 * Deno 2's "bring your own node_modules" mode). Every run here uses an empty
 * DENO_DIR and --cached-only, so it proves nothing is fetched from a registry
 * and no global Deno cache is needed: it works offline from node_modules.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli, runProcess, type RunResult } from "./support/cli.ts";
import { CREDENTIALS, secret } from "./support/objects.ts";
import { startSidecar, type SidecarProcess } from "./support/sidecar.ts";
import { NS, OPERATOR_SERVICES, PASSWORD, ROOT_USER, SECRET, startWorld, TENANT, type World } from "./fake-minio/world.ts";

// Each Deno start transpiles the whole graph (no cache in the empty DENO_DIR): allow time.
setDefaultTimeout(60_000);

const ROOT = new URL("../", import.meta.url).pathname;
const DENO = join(ROOT, "node_modules/.bin/deno");
const MAIN = join(ROOT, "src/main.ts");
const EX = join(ROOT, "deploy/examples");

let denoDir = "";
beforeAll(async () => {
  denoDir = await mkdtemp(join(tmpdir(), "deno-dir-"));
});
afterAll(() => rm(denoDir, { recursive: true, force: true }));

const denoEnv = () => ({ DENO_DIR: denoDir, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", KUBERNETES_SERVICE_HOST: undefined });

function runDeno(args: string[], input?: string): Promise<RunResult> {
  return runProcess(DENO, ["run", "--cached-only", "-A", MAIN, ...args], { cwd: ROOT, env: denoEnv(), input, timeoutMs: 50_000 });
}

/** Deno prints no download progress: nothing was fetched. */
const expectNoDownloads = (stderr: string) => expect(stderr).not.toMatch(/Download|Initialize|registry\.npmjs|jsr\.io/i);

test("deno is the pinned devDependency", async () => {
  const r = await new Promise<string>((resolve) => {
    const c = spawn(DENO, ["--version"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    c.stdout.on("data", (d) => (out += d));
    c.on("close", () => resolve(out));
  });
  const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as { devDependencies: Record<string, string> };
  expect(r).toStartWith(`deno ${pkg.devDependencies.deno}`);
});

test("render deploy/examples: the same bytes as under Bun, nothing on stderr, offline", async () => {
  const args = ["render", "--tenant-file", `${EX}/tenant.yaml`, "--secret-file", `${EX}/secret.yaml`];
  const [deno, bun] = await Promise.all([runDeno(args), runCli(args)]);
  expect(bun.code).toBe(0);
  expect(deno.code).toBe(0);
  expect(deno.stdout.length).toBeGreaterThan(0);
  expect(deno.stdout).toBe(bun.stdout);
  expect(deno.stderr).toBe(bun.stderr);
  expectNoDownloads(deno.stderr);
});

test("render failure: the same exit code and error line as under Bun", async () => {
  const args = ["render", "--tenant-file", `${EX}/tenant.yaml`, "--secret-file", `${EX}/missing.yaml`];
  const [deno, bun] = await Promise.all([runDeno(args), runCli(args)]);
  expect(bun.code).toBe(1);
  expect(deno.code).toBe(bun.code);
  expect(deno.stderr).toBe(bun.stderr);
});

/**
 * SPEC 2: render accepts and rejects the same documents with the same bytes
 * under both runtimes, by the rules `kubectl apply` uses: dates stay strings,
 * an unquoted number or on/yes where a string belongs is a schema error, a
 * duplicated key and a document that is a list are refused.
 */
describe("Bun and Deno read manifests alike", () => {
  const tenantYaml = (extra: string) =>
    [
      "apiVersion: minio.min.io/v2",
      "kind: Tenant",
      "metadata: {name: myminio, namespace: minio-tenant}",
      "spec:",
      "  configuration: {name: myminio-env-configuration}",
      "  pools:",
      "    - {name: pool-0, servers: 4, volumesPerServer: 1, volumeClaimTemplate: {spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Ti}}}}}",
      extra,
      "",
    ].join("\n");
  const secretYaml = ["apiVersion: v1", "kind: Secret", "metadata: {name: myminio-env-configuration}", "stringData:", "  config.env: |", `    MINIO_ROOT_USER=minio`, `    MINIO_ROOT_PASSWORD=${PASSWORD}`, ""].join("\n");
  const cases: Array<[string, string, RegExp | "ok"]> = [
    ["a date where a string is expected stays a string", "  env:\n    - {name: RELEASE, value: 2024-01-01}", "ok"],
    ["a number where a string is expected", "  env:\n    - name: PORT\n      value: 9000", /^error: Tenant minio-tenant\/myminio: spec\.env\[0\]\.value: expected string \(got a number; quote it in YAML\)\n$/],
    ["an unquoted on is a boolean, as kubectl reads it", "  env:\n    - name: MINIO_BROWSER\n      value: on", /^error: Tenant minio-tenant\/myminio: spec\.env\[0\]\.value: expected string \(got a boolean; quote it in YAML\)\n$/],
    ["a duplicated key", "  mountPath: /data\n  mountPath: /export", /^error: Tenant file \S+: not valid YAML or JSON at line 9: duplicated mapping key\n$/],
  ];
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "yaml-agree-"));
    await writeFile(join(dir, "secret.yaml"), secretYaml);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  for (const [what, extra, want] of cases) {
    test(what, async () => {
      const file = join(dir, `${what.replace(/\W+/g, "-")}.yaml`);
      await writeFile(file, tenantYaml(extra));
      const args = ["render", "--tenant-file", file, "--secret-file", join(dir, "secret.yaml")];
      const [deno, bun] = await Promise.all([runDeno(args), runCli(args)]);
      expect({ code: deno.code, stdout: deno.stdout, stderr: deno.stderr }).toEqual({ code: bun.code, stdout: bun.stdout, stderr: bun.stderr });
      if (want === "ok") {
        expect(bun.code).toBe(0);
        expect(bun.stdout).toContain('export RELEASE="2024-01-01"\n');
      } else {
        expect(bun.code).toBe(1);
        expect(bun.stderr).toMatch(want);
      }
      expect(bun.stderr).not.toContain(PASSWORD); // stdout is the config file itself
    });
  }

  test("a document that is a list is refused; `-` reads both objects from standard input", async () => {
    const list = `---\n${tenantYaml("").replace(/^/gm, "  ").replace(/^  apiVersion/, "- apiVersion")}`;
    const stdinArgs = ["render", "--tenant-file", "-", "--secret-file", "-"];
    const [deno, bun] = await Promise.all([runDeno(stdinArgs, list), runProcess(process.execPath, [join(ROOT, "src/main.ts"), ...stdinArgs], { input: list })]);
    expect({ code: deno.code, stderr: deno.stderr }).toEqual({ code: bun.code, stderr: bun.stderr });
    expect(bun.stderr).toBe("error: Tenant file standard input: document 1 is a list, not a Kubernetes object\n");
    const both = `${tenantYaml("")}---\n${secretYaml}`;
    const [denoOk, bunOk] = await Promise.all([runDeno(stdinArgs, both), runCli(stdinArgs, { input: both })]);
    expect(bunOk.code).toBe(0);
    expect(bunOk.stdout).toContain('export MINIO_ROOT_USER="minio"\n');
    expect(denoOk.stdout).toBe(bunOk.stdout);
  });
});

describe("against the fake API server (https + CA, the shipped Role)", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ minio: { tls: true, buckets: ["alpha", "has.dot"] } });
  });
  afterAll(() => w.close());

  test("validate: exit 0, the same file as Bun writes, pino lines on stdout, no secret", async () => {
    const common = ["validate", "--tenant", TENANT, "--namespace", NS, "--kubeconfig", w.kubeconfig];
    const denoFile = join(w.dir, "deno.env");
    const bunFile = join(w.dir, "bun.env");
    const [deno, bun] = await Promise.all([runDeno([...common, "--config-file", denoFile]), runCli([...common, "--config-file", bunFile])]);
    expect(bun.code).toBe(0);
    expect({ code: deno.code, stderr: deno.stderr.replace(/^.*DEP0040.*\n/m, "") }).toEqual({ code: 0, stderr: "" });
    expect(await readFile(denoFile, "utf8")).toBe(await readFile(bunFile, "utf8"));
    const lines = deno.stdout.trim().split("\n").map((l) => JSON.parse(l) as { level: string; command: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.command === "validate")).toBe(true);
    expect(deno.stdout + deno.stderr).not.toContain(PASSWORD);
    expectNoDownloads(deno.stderr);
  });

  test("validate failure (Secret missing): exit 1 and one error line, as under Bun", async () => {
    w.api.delete({ kind: "Secret", namespace: NS, name: SECRET });
    try {
      const common = ["validate", "--tenant", TENANT, "--namespace", NS, "--kubeconfig", w.kubeconfig, "--config-file", join(w.dir, "never.env")];
      const [deno, bun] = await Promise.all([runDeno(common), runCli(common)]);
      expect(bun.code).toBe(1);
      expect(deno.code).toBe(1);
      const errLine = (s: string) => s.split("\n").filter((l) => l.startsWith("error: "));
      expect(errLine(deno.stderr)).toEqual(errLine(bun.stderr));
      expect(errLine(deno.stderr)).toHaveLength(1);
    } finally {
      w.api.create(secret(CREDENTIALS, SECRET) as never);
    }
  });

  describe("sidecar", () => {
    let sc: SidecarProcess;
    beforeAll(async () => {
      // startSidecar runs SIDECAR_BIN with the sidecar's arguments; a one-line wrapper makes that `deno run`.
      const wrapper = join(w.dir, "deno-sidecar");
      await writeFile(wrapper, `#!/bin/sh\nexec "${DENO}" run --cached-only -A "${MAIN}" "$@"\n`);
      await chmod(wrapper, 0o755);
      const saved = process.env.SIDECAR_BIN;
      process.env.SIDECAR_BIN = wrapper;
      try {
        sc = await startSidecar({
          kubeconfig: w.kubeconfig,
          namespace: NS,
          tenant: TENANT,
          configName: SECRET,
          configFile: w.configFile,
          args: ["--minio-url", w.minio.url],
          env: denoEnv(),
          // Probe and sidecar API as :PORT, the form of their defaults (IPv4 and IPv6).
          anyAddress: true,
        });
      } finally {
        if (saved === undefined) delete process.env.SIDECAR_BIN;
        else process.env.SIDECAR_BIN = saved;
      }
    });
    afterAll(async () => {
      await sc?.stop();
    });

    test("/healthz, /status: serving (really under Deno), config written, valid", async () => {
      expect(await readlink(`/proc/${sc.proc.pid}/exe`)).toMatch(/\/deno$/);
      expect((await sc.probe("/healthz")).status).toBe(200);
      const s = (await (await sc.probe("/status")).json()) as { configValid: boolean; watches: Array<{ state: string }> };
      expect(s.configValid).toBe(true);
      expect(await readFile(w.configFile, "utf8")).toContain(`export MINIO_DNS_WEBHOOK_ENDPOINT="http://127.0.0.1:4222/webhook/v1/bucketsrv/${NS}/${TENANT}"\n`);
    });

    test("/healthz and the sidecar API on 127.0.0.1 and [::1]: one dual-stack socket under Deno.serve too", async () => {
      for (const host of ["127.0.0.1", "[::1]"]) {
        expect((await fetch(`http://${host}:${sc.ports.probe}/healthz`)).status).toBe(200);
        expect((await fetch(`http://${host}:${sc.ports.sidecar}/`)).status).toBeLessThan(500);
      }
    });

    test("/ready over TLS (node:https under Deno): certificate not verified, SNI sent, connection kept alive", async () => {
      const from = w.minio.requests.length;
      const r = await sc.probe("/ready");
      expect(r.status).toBe(200);
      expect(await r.text()).toBe("Readiness probe succeeded with HTTP status 200");
      const seen = w.minio.requests.slice(from).find((q) => q.path === "/minio/health/live");
      expect(seen?.servername).toBe(`minio.${NS}.svc.cluster.local`);
      const connections = w.minio.connections;
      for (let i = 0; i < 10; i++) expect((await sc.probe("/ready")).status).toBe(200);
      expect(w.minio.connections - connections).toBeLessThanOrEqual(1); // node:https keep-alive agent works under Deno
    });

    test("webhook: create a bucket Service, 409 for the operator's minio Service, delete", async () => {
      const hook = (q: string) => sc.webhook(`/webhook/v1/bucketsrv/${NS}/${TENANT}${q}`, { method: "POST" });
      expect((await hook("?bucket=from-deno")).status).toBe(200);
      const svc = w.service("from-deno") as { spec: { type: string; externalName: string; ports: Array<{ name: string; port: number }> }; metadata: { ownerReferences: Array<{ uid: string }> } };
      expect(svc.spec.type).toBe("ExternalName");
      expect(svc.spec.externalName).toBe(`minio.${NS}.svc.cluster.local`);
      expect(svc.spec.ports[0]).toMatchObject({ name: "https-minio", port: 443 });
      expect(svc.metadata.ownerReferences[0]!.uid).toBe(w.tenantUid);
      expect((await hook("?bucket=minio")).status).toBe(409);
      expect((await hook("?bucket=a.b")).status).toBe(400);
      expect((await hook("?bucket=from-deno&delete=true")).status).toBe(200);
      expect(w.service("from-deno")).toBeUndefined();
      for (const name of OPERATOR_SERVICES) expect(w.service(name)).toBeDefined();
    });

    test("start-up reconcile: ListBuckets signed with SigV4 (aws4fetch under Deno), Service for alpha", async () => {
      const line = await sc.waitForLog((l) => l.msg === "bucket Services reconciled", 15_000);
      expect(line.created).toEqual(["alpha"]);
      const list = w.minio.requestsTo("/").find((r) => r.method === "GET");
      expect(list?.authorization).toStartWith(`AWS4-HMAC-SHA256 Credential=${ROOT_USER}/`);
      expect(list?.status).toBe(200);
      expect(w.service("alpha")).toBeDefined();
    });

    test("limits: 8 KiB URL 414, a body 413", async () => {
      const r = await sc.probe(`/ready?q=${"x".repeat(8 * 1024)}`);
      expect(r.status).toBe(414);
      await r.text();
      const b = await sc.probe("/ready", { method: "POST", body: "x".repeat(1024) });
      expect(b.status).toBe(413);
      await b.text();
    });

    test("SIGTERM: exit 0 within 2 s; no secret value in any output; nothing downloaded", async () => {
      const { code, ms } = await sc.stop("SIGTERM");
      expect(code).toBe(0);
      expect(ms).toBeLessThan(2_000);
      expect(sc.logs.some((l) => l.msg === "stopped")).toBe(true);
      expect(sc.stdout() + sc.stderr()).not.toContain(PASSWORD);
      expectNoDownloads(sc.stderr());
    });
  });
});
