/**
 * The compiled binary takes its configuration from its flags and its
 * environment, never from the directory it happens to start in. A Bun
 * executable reads `.env` and `bunfig.toml` from its working directory
 * unless built not to (scripts/build-flags.ts): a `.env` beside a user's
 * manifests changed what `render` printed, and a `bunfig.toml` with
 * `preload` ran a script from that directory. This builds the binary the
 * way `npm run build` does and starts it in a directory holding both.
 */
import { afterAll, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startFakeApiServer } from "./fake-apiserver/index.ts";
import { runProcess } from "./support/cli.ts";
import { NS, secret, tenant } from "./support/objects.ts";
import { freePort } from "./support/sidecar.ts";

const ROOT = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "compiled-binary-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const bin = join(work, "minio-operator-sidecar");
let built = false;
function build() {
  if (built) return;
  const r = Bun.spawnSync([process.execPath, "scripts/build.ts", "--outfile", bin], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  built = true;
}

test("a .env or bunfig.toml in the working directory changes nothing", async () => {
  build();

  const cwd = join(work, "cwd");
  const marker = join(work, "preloaded");
  mkdirSync(cwd);
  writeFileSync(join(cwd, ".env"), "CLUSTER_DOMAIN=from-dotenv.invalid\n");
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
  writeFileSync(join(cwd, "preload.ts"), `require("node:fs").writeFileSync(${JSON.stringify(marker)}, "ran");\nconsole.error("PRELOADED");\n`);

  const ex = join(ROOT, "deploy/examples");
  const env = { CLUSTER_DOMAIN: undefined, KUBERNETES_SERVICE_HOST: undefined };
  const r = await runProcess(bin, ["render", "--tenant-file", join(ex, "tenant.yaml"), "--secret-file", join(ex, "secret.yaml")], { cwd, env });
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  expect(r.stdout).toContain(".svc.cluster.local");
  expect(r.stdout).not.toContain("from-dotenv");

  const v = await runProcess(bin, ["--version"], { cwd, env });
  expect([v.code, v.stderr]).toEqual([0, ""]);
  expect(existsSync(marker)).toBe(false);
}, 120_000);

/**
 * What render loads only when it needs it, loaded inside the binary: a plain
 * manifest takes the native YAML parser and the compiled schema check; a
 * YAML 1.1 boolean sends the file to the js-yaml chunk; an invalid Tenant
 * loads TypeBox's schemas and Errors (their own chunks) to name the field.
 */
test("render's lazily loaded paths work in the binary: native YAML, js-yaml, the schema error", async () => {
  build();
  const ex = join(ROOT, "deploy/examples");
  const tenant = await Bun.file(join(ex, "tenant.yaml")).text();
  const files = { plain: tenant, yaml11: tenant.replace("bucketDNS: false", "bucketDNS: off"), invalid: tenant.replace("servers: 1", 'servers: "one"') };
  expect(files.yaml11).toContain("bucketDNS: off");
  expect(files.invalid).toContain('servers: "one"');
  const out: Record<string, { code: number | null; stdout: string; stderr: string }> = {};
  for (const [name, text] of Object.entries(files)) {
    writeFileSync(join(work, `${name}.yaml`), text);
    out[name] = await runProcess(bin, ["render", "--tenant-file", join(work, `${name}.yaml`), "--secret-file", join(ex, "secret.yaml")], {
      env: { CLUSTER_DOMAIN: undefined },
    });
  }
  expect([out.plain!.code, out.plain!.stderr]).toEqual([0, ""]);
  expect(out.yaml11).toEqual(out.plain!); // off is false, as bucketDNS: false: the same file
  expect(out.invalid).toEqual({ code: 1, stdout: "", stderr: "error: Tenant minio-tenant/myminio: spec.pools[0].servers: expected integer\n" });
}, 120_000);

/**
 * No liveness probe restarts the sidecar in a Tenant pod (the operator gives
 * it a readiness probe only), so a wedged loop must end the process itself.
 * The wedge here is one reachable in practice: a kubeconfig credential plugin
 * that never returns (client-node runs exec plugins without a time limit)
 * holds the first LIST before its request starts. With production timings:
 * /healthz 503 once the LIST is 10 s + 30 s past its start, the exit 30 s
 * later, its reason on stderr and in the termination log. The plugin ends
 * when its parent does, so nothing is left behind.
 */
test("a wedged sidecar exits 1 by itself, its reason on stderr and in the termination log", async () => {
  build();
  const api = await startFakeApiServer({ objects: [tenant(), secret()] as never });
  try {
    const dir = mkdtempSync(join(work, "wedge-"));
    const kubeconfig = join(dir, "kubeconfig");
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "c", cluster: { server: api.url, "certificate-authority-data": Buffer.from(api.caPem).toString("base64") } }],
        users: [{ name: "u", user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: "sh", args: ["-c", "while kill -0 $PPID 2>/dev/null; do sleep 1; done"] } } }],
        contexts: [{ name: "ctx", context: { cluster: "c", user: "u", namespace: NS } }],
        "current-context": "ctx",
      }),
    );
    const terminationLog = join(dir, "termination-log");
    writeFileSync(terminationLog, "");
    const probe = await freePort();
    const started = Date.now();
    const run = runProcess(bin, [
      "sidecar", "--tenant", "myminio", "--config-name", "myminio-env-configuration", "--kubeconfig", kubeconfig,
      "--config-file", join(dir, "config.env"), "--termination-log", terminationLog,
      "--probe-address", `127.0.0.1:${probe}`, "--webhook-address", `127.0.0.1:${await freePort()}`, "--sidecar-address", `127.0.0.1:${await freePort()}`,
    ], { env: { KUBERNETES_SERVICE_HOST: undefined }, timeoutMs: 150_000 });
    // Serving (after the 10 s start-up wait) and healthy at first; 503 once the hung LIST is past its bound.
    const healthz = async () => fetch(`http://127.0.0.1:${probe}/healthz`).then((r) => r.status, () => 0);
    const seen: Array<[number, number]> = [];
    let exited = false;
    void run.then(() => (exited = true));
    while (!exited && Date.now() - started < 140_000) {
      seen.push([Math.round((Date.now() - started) / 1000), await healthz()]);
      await Bun.sleep(2_000);
    }
    const r = await run;
    const secondsToExit = (Date.now() - started) / 1000;
    expect(seen.some(([, s]) => s === 200)).toBe(true);
    expect(seen.some(([t, s]) => s === 503 && t >= 35)).toBe(true);
    expect(r.code).toBe(1);
    expect(secondsToExit).toBeGreaterThan(60);
    expect(secondsToExit).toBeLessThan(110);
    const line = r.stderr.trim();
    expect(line).toMatch(/^error: sidecar wedged: Tenant [-a-z]+\/myminio watch made no progress for \d+ s \(state listing\).*; exiting so the kubelet restarts the container$/);
    expect(await Bun.file(terminationLog).text()).toBe(`${line}\n`);
  } finally {
    await api.close();
  }
}, 180_000);
