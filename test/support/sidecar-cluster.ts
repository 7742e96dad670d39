/**
 * Shared harness of the sidecar process tests (sidecar-watch, sidecar-faults):
 * the fake API server (https, CA in the kubeconfig) with the example Tenant
 * and Secret and a least-privilege token, the sidecar as a child process, and
 * the checks every test ends with.
 */
import { expect } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAll } from "js-yaml";
import { FakeApiServer, startFakeApiServer, type FakeApiServerOptions, type KObject, type Rule } from "../fake-apiserver/index.ts";
import { NS, PASSWORD, secret } from "./objects.ts";
import { eventually, freePort, startSidecar, type SidecarProcess } from "./sidecar.ts";


const EX = new URL("../fixtures/examples/", import.meta.url).pathname;
export const EXAMPLE_PASSWORD = "minio123";
export const TOKEN = "sidecar-token";
export const SECRET = "storage-configuration";
export const SECRET_V2 = "storage-configuration-v2";
const TENANT_DOC = (loadAll(await readFile(`${EX}tenant-base.yaml`, "utf8")) as KObject[])[0]!;
export const EXPECTED_BASE = await readFile(`${EX}tenant-base.expected.env`, "utf8");

/** config.env of the example Secret with another root password. */
export const configEnv = (password: string) =>
  `export MINIO_ROOT_USER="minio"\nexport MINIO_ROOT_PASSWORD="${password}"\nexport MINIO_STORAGE_CLASS_STANDARD="EC:2"\nexport MINIO_BROWSER="on"`;
/** The file the sidecar must write for the example Tenant and configEnv(password). */
export const expectedFile = (password: string) => EXPECTED_BASE.replace(`MINIO_ROOT_PASSWORD="${EXAMPLE_PASSWORD}"`, `MINIO_ROOT_PASSWORD="${password}"`);
export const exampleTenant = (): KObject => structuredClone(TENANT_DOC);
export const pw = (tag: string | number) => `${PASSWORD}-${tag}`;

export interface Env {
  api: FakeApiServer;
  sc: SidecarProcess;
  dir: string;
  file: string;
}
let current: Env | undefined;

/** Fake API server with the example Tenant and Secret, a Role limited by resourceNames, and the sidecar. */
export async function setup(
  o: { tenant?: boolean; secretNames?: string[]; args?: string[]; api?: FakeApiServerOptions; listening?: boolean; extraRules?: Rule[]; env?: Record<string, string> } = {},
): Promise<Env> {
  const options: FakeApiServerOptions = {
    ...o.api,
    tokens: {
      [TOKEN]: {
        user: "system:serviceaccount:minio-tenant:myminio-sa",
        rules: [
          { apiGroups: ["minio.min.io"], resources: ["tenants"], verbs: ["get", "list", "watch"], resourceNames: ["myminio"], namespaces: [NS] },
          { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"], resourceNames: o.secretNames ?? [SECRET], namespaces: [NS] },
          ...(o.extraRules ?? []),
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
  current.sc = await startSidecar({ kubeconfig, namespace: NS, configFile: file, args: o.args, env: o.env });
  return current;
}

/** Register once per test file: stops the sidecar and API server of the last setup(). */
export const cleanup = async () => {
  const e = current;
  current = undefined;
  if (!e) return;
  if (e.sc && e.sc.proc.exitCode === null) e.sc.proc.kill("SIGKILL");
  await e.api.close();
  await rm(e.dir, { recursive: true, force: true });
};

export const fileText = (e: Env) => readFile(e.file, "utf8").catch(() => "");
export interface Status {
  configValid: boolean;
  configSha256?: string;
  lastError?: string;
  secret: string;
  watches: Array<{ kind: string; name: string; state: string; lastError?: string }>;
  [k: string]: unknown;
}
export const status = async (e: Env) => (await (await e.sc.probe("/status")).json()) as Status;
/** The first /status answer that satisfies `pred`. */
export async function statusWhen(e: Env, pred: (s: Status) => unknown, timeoutMs = 10_000): Promise<Status> {
  let last: Status | undefined;
  await eventually(async () => pred((last = await status(e))), timeoutMs, "/status condition");
  return last!;
}
/** Sum of a metric's samples (all label sets, or those containing `labels`). */
export async function metric(e: Env, name: string, labels = ""): Promise<number> {
  const text = await (await e.sc.probe("/metrics")).text();
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? "").includes(labels)) sum += Number(m[3]);
  }
  return sum;
}
export const fileIs = (e: Env, content: string, timeoutMs = 10_000) => eventually(async () => (await fileText(e)) === content, timeoutMs, "config file content");
export const setSecret = (e: Env, configEnvText: string | null, name = SECRET) => e.api.update(secret(configEnvText, name));

/**
 * What every test ends with: the sidecar is still running (it never exits on
 * its own), stops with exit 0 within 2 s on SIGTERM, read nothing but its two
 * objects by name, and printed no secret value.
 */
export async function finish(e: Env, o: { secretNames?: string[]; signal?: NodeJS.Signals } = {}) {
  expect(e.sc.proc.exitCode).toBeNull();
  const { code, ms } = await e.sc.stop(o.signal ?? "SIGTERM");
  expect(code).toBe(0);
  expect(ms).toBeLessThan(2_000);
  const names = { secrets: o.secretNames ?? [SECRET], tenants: ["myminio"] } as Record<string, string[]>;
  const bad = e.api.requests
    .filter((r) => {
      // Events regarding the Tenant are written, never read (SPEC 4); without the permission, one try is refused.
      if (r.apiGroup === "events.k8s.io" && r.resource === "events") return r.verb !== "create" && r.verb !== "patch";
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

