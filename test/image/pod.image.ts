/**
 * The built image (dist/minio-operator-sidecar.oci.tar, npm run image) run as
 * the MinIO Operator runs it in a Tenant pod, against a real kube-apiserver +
 * etcd (test/kube-apiserver): read-only root filesystem, uid/gid 1000, every
 * capability dropped, no-new-privileges; in-cluster configuration only (a
 * TokenRequest token, ca.crt and namespace mounted at the service-account
 * path, KUBERNETES_SERVICE_HOST/_PORT, CLUSTER_DOMAIN); one host folder as the
 * /tmp/minio emptyDir both containers share; a mounted /dev/termination-log.
 *
 * Run by scripts/test-image.sh (npm run test:image), which loads the archive
 * into a private podman store and sets IMAGE and the podman environment.
 *
 * Host networking (no bridge, no firewall rule): the container shares the
 * host's loopback, where the API server and the stand-in MinIO listen. So
 * that parallel test runs on one machine cannot collide on 4444/4222/4224,
 * the sidecar gets free loopback ports for its three servers; everything else
 * is the operator's command line.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KObject } from "../fake-apiserver/index.ts";
import type { KubeControlPlane } from "../kube-apiserver/index.ts";
import { controlPlane, kubeBackend } from "../support/kube-backend.ts";
import { type Cluster } from "../support/backend.ts";
import { NS, secret, tenant } from "../support/objects.ts";
import { freePort } from "../support/sidecar.ts";
import { readLikeMinio } from "../support/minio-env.ts";

const IMAGE = process.env.IMAGE;
if (!IMAGE) throw new Error("IMAGE is not set: run npm run test:image (scripts/test-image.sh)");
const ROOT = new URL("../../", import.meta.url).pathname;
const TENANT = "myminio";
// The Secret name deploy/rbac.yaml's Role grants (resourceNames), as in the install's example.
const SECRET = "storage-configuration";
const SA_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
const creds = (password: string) => `export MINIO_ROOT_USER="minio"\nexport MINIO_ROOT_PASSWORD="${password}"\n`;

/**
 * podman, asynchronously: the harness's pass-through to the API server runs in
 * this process, so a blocking spawnSync would starve the container's requests.
 */
async function podman(args: string[], timeoutMs = 50_000) {
  const p = Bun.spawn(["podman", ...args], { stdout: "pipe", stderr: "pipe", timeout: timeoutMs });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(fn: () => Promise<T | undefined | false> | T | undefined | false, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve(fn()).catch(() => undefined);
    if (v) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

let cp: KubeControlPlane;
let cluster: Cluster;
let work: string;
let shared: string; // the pod's /tmp/minio emptyDir
let saDir: string;
let minio: ReturnType<typeof Bun.serve> | undefined;
const containers: string[] = [];

/** `podman run` as the operator's pod spec runs the container (securityContext and mounts). */
function podArgs(name: string, termLog: string): string[] {
  return [
    "run",
    "--name",
    name,
    "--network=host",
    "--pull=never",
    "--read-only",
    // podman otherwise mounts tmpfs on /tmp, /run, /var/tmp of a read-only
    // container; a kubelet does not, and the image must not need them.
    "--read-only-tmpfs=false",
    "--user=1000:1000",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
    "-v",
    `${saDir}:${SA_PATH}:ro`,
    "-v",
    `${shared}:/tmp/minio`,
    "-v",
    `${termLog}:/dev/termination-log`,
    ...Object.entries({ ...cp.inClusterEnv(), CLUSTER_DOMAIN: "cluster.local" }).flatMap(([k, v]) => ["-e", `${k}=${v}`]),
    IMAGE!,
  ];
}

function termLogFile(name: string): string {
  const f = join(work, `${name}.termination-log`);
  writeFileSync(f, "");
  chownSync(f, 1000, 1000);
  return f;
}

beforeAll(async () => {
  cp = await controlPlane();
  cluster = await kubeBackend.cluster({
    objects: [tenant({ configuration: { name: SECRET }, requestAutoCert: false, features: { bucketDNS: true } }, TENANT) as KObject, secret(creds("first-Pa55word"), SECRET) as KObject],
  });
  work = mkdtempSync(join(tmpdir(), "image-pod-"));
  chmodSync(work, 0o755);
  shared = join(work, "minio");
  mkdirSync(shared);
  chownSync(shared, 1000, 1000);
  saDir = join(work, "serviceaccount");
  await cluster.api.writeServiceAccount(saDir, { token: cluster.token, namespace: NS });
  for (const f of readdirSync(saDir)) chmodSync(join(saDir, f), 0o644);
  chmodSync(saDir, 0o755);
}, 120_000);

afterAll(async () => {
  for (const c of containers) await podman(["rm", "-f", "-t", "0", c]);
  minio?.stop(true);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the image as an init container (validate)", () => {
  test("writes the config file MinIO reads, the same bytes `render` gives for the same objects", async () => {
    const name = `validate-ok-${process.pid}`;
    containers.push(name);
    const r = await podman([...podArgs(name, termLogFile(name)), "validate", "--tenant", TENANT]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const file = readFileSync(join(shared, "config.env"), "utf8");
    expect(readLikeMinio(file).get("MINIO_ROOT_PASSWORD")).toBe("first-Pa55word");

    // render (from source, on the host) of the objects as stored in the real server.
    writeFileSync(join(work, "t.json"), JSON.stringify(tenant({ configuration: { name: SECRET }, requestAutoCert: false, features: { bucketDNS: true } }, TENANT)));
    writeFileSync(join(work, "s.json"), JSON.stringify(secret(creds("first-Pa55word"), SECRET)));
    const render = spawnSync(process.execPath, [join(ROOT, "src/main.ts"), "render", "--tenant-file", join(work, "t.json"), "--secret-file", join(work, "s.json")], { encoding: "utf8" });
    expect(render.status).toBe(0);
    expect(file).toBe(render.stdout);
  });

  test("a failing validate exits 1 and leaves its reason in /dev/termination-log", async () => {
    const name = `validate-missing-${process.pid}`;
    containers.push(name);
    const termLog = termLogFile(name);
    const r = await podman([...podArgs(name, termLog), "validate", "--tenant", "no-such-tenant"]);
    expect(r.code).toBe(1);
    const reason = readFileSync(termLog, "utf8");
    expect(reason).toContain("no-such-tenant");
    expect(reason.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(reason.trim());
  });
});

describe("the image as the sidecar container", () => {
  const ports = { probe: 0, webhook: 0, sidecar: 0, minio: 0 };
  const name = `sidecar-${process.pid}`;
  let termLog: string;
  beforeAll(async () => {
    for (const k of Object.keys(ports) as Array<keyof typeof ports>) {
      do ports[k] = await freePort();
      while (Object.entries(ports).some(([o, p]) => o !== k && p === ports[k]));
    }
    termLog = termLogFile(name);
    containers.push(name);
    const r = await podman([
      ...podArgs(name, termLog).slice(0, -1),
      "--detach",
      IMAGE!,
      "sidecar",
      "--tenant",
      TENANT,
      "--config-name",
      SECRET,
      "--probe-address",
      `127.0.0.1:${ports.probe}`,
      "--webhook-address",
      `127.0.0.1:${ports.webhook}`,
      "--sidecar-address",
      `127.0.0.1:${ports.sidecar}`,
      "--minio-url",
      `http://127.0.0.1:${ports.minio}`,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    await until(() => fetch(`http://127.0.0.1:${ports.probe}/healthz`).then((res) => res.status === 200), 20_000, "sidecar /healthz");
  }, 60_000);

  test("/healthz answers 200 while the watches run", async () => {
    const res = await fetch(`http://127.0.0.1:${ports.probe}/healthz`);
    expect(res.status).toBe(200);
  });

  test("/ready follows MinIO: 500 while nothing answers, 200 once it does", async () => {
    const down = await fetch(`http://127.0.0.1:${ports.probe}/ready`);
    expect(down.status).toBe(500);
    minio = Bun.serve({ hostname: "127.0.0.1", port: ports.minio, fetch: () => new Response(null, { status: 200 }) });
    await Bun.sleep(1_100); // /ready shares an answer for up to a second (SPEC 6)
    const up = await fetch(`http://127.0.0.1:${ports.probe}/ready`);
    expect(up.status).toBe(200);
  });

  test("the bucket-DNS webhook makes the bucket's Service in the real API server", async () => {
    const res = await fetch(`http://127.0.0.1:${ports.webhook}/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=image-bucket&delete=false`, { method: "POST" });
    expect(res.status).toBe(200);
    const svc = (await cp.get({ kind: "Service", namespace: NS, name: "image-bucket" })) as { spec: { externalName: string } } | undefined;
    expect(svc?.spec.externalName).toBe(`minio.${NS}.svc.cluster.local`);
  });

  test("a Secret change reaches the shared file", async () => {
    await cp.update(secret(creds("second-Pa55word"), SECRET) as KObject);
    await until(() => readLikeMinio(readFileSync(join(shared, "config.env"), "utf8")).get("MINIO_ROOT_PASSWORD") === "second-Pa55word", 15_000, "the new password in config.env");
  });

  test("podman stop (SIGTERM) ends it with exit 0 in under 2 s", async () => {
    const t0 = performance.now();
    const r = await podman(["stop", "-t", "10", name]);
    const ms = performance.now() - t0;
    expect(r.code).toBe(0);
    const code = (await podman(["inspect", "--format", "{{.State.ExitCode}}", name])).stdout.trim();
    expect(code).toBe("0");
    console.log(`podman stop took ${Math.round(ms)} ms`);
    expect(ms).toBeLessThan(2000);
    expect(readFileSync(termLog, "utf8")).toBe("");
  });
});

describe("the image's contents", () => {
  let mnt: string;
  beforeAll(async () => {
    const r = await podman(["image", "mount", IMAGE!]);
    expect(r.code).toBe(0);
    mnt = r.stdout.trim();
  });
  afterAll(() => podman(["image", "unmount", IMAGE!]).then(() => {}));

  test("/licenses/ holds the licence and the third-party notices", () => {
    expect(readFileSync(join(mnt, "licenses/LICENSE"), "utf8")).toContain("Apache License");
    expect(readFileSync(join(mnt, "licenses/THIRD-PARTY-NOTICES.md"), "utf8")).toContain("JavaScriptCore");
  });

  test("no shell: none on disk, and /bin/sh cannot be started", async () => {
    for (const dir of ["bin", "usr/bin", "sbin", "usr/sbin", "usr/local/bin"]) {
      const d = join(mnt, dir);
      if (!existsSync(d)) continue;
      expect(readdirSync(d).filter((f) => /^(sh|bash|dash|ash|busybox|zsh)$/.test(f))).toEqual([]);
    }
    const r = await podman(["run", "--rm", "--network=host", "--pull=never", "--entrypoint", "/bin/sh", IMAGE!, "-c", "true"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no such file|not found/i);
  });

  test("the image is at most 1.3x the binary it carries", async () => {
    const image = Number((await podman(["image", "inspect", "--format", "{{.Size}}", IMAGE!])).stdout.trim());
    const binary = statSync(join(mnt, "minio-operator-sidecar")).size;
    console.log(`image ${(image / 2 ** 20).toFixed(1)} MiB, binary ${(binary / 2 ** 20).toFixed(1)} MiB: ${(image / binary).toFixed(2)}x`);
    expect(image / binary).toBeLessThanOrEqual(1.3);
  });

  test("--version names the package's version and a commit", async () => {
    const r = await podman(["run", "--rm", "--network=host", "--pull=never", "--read-only", "--read-only-tmpfs=false", "--cap-drop=ALL", IMAGE!, "--version"]);
    expect(r.code).toBe(0);
    const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version as string;
    expect(r.stdout).toMatch(new RegExp(`^minio-operator-sidecar ${version.replace(/\./g, "\\.")} \\(commit [0-9a-f]{7,}`));
  });

  test("runs as uid/gid 1000 from a root-owned, read-only binary", async () => {
    const cfg = JSON.parse((await podman(["image", "inspect", IMAGE!])).stdout)[0].Config as { User: string; Entrypoint: string[] };
    expect(cfg.User).toBe("1000:1000");
    expect(cfg.Entrypoint).toEqual(["/minio-operator-sidecar"]);
    const st = statSync(join(mnt, "minio-operator-sidecar"));
    expect(st.uid).toBe(0);
    expect(st.mode & 0o022).toBe(0);
  });
});
