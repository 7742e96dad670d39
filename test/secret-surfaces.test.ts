/**
 * SPEC 6: nothing that leaves the process helps anyone to a secret. The probe
 * and sidecar-API ports reach the whole pod network, and the config file
 * holds the root password next to lines anyone can derive from the Tenant, so
 * a published unkeyed digest of it confirms a guessed password offline (the
 * sha256 on /status once did, on the fifth guess).
 *
 * Every surface of a real `validate` (success and failure) and a real sidecar
 * run through a valid config, an invalid Secret and the recovery is
 * collected: stdout and stderr, the termination logs, both ports' endpoints
 * (/ready, /healthz, /status, /metrics, the sidecar API, the webhook), and
 * the Events written to the API server. In all of it:
 * - no md5, sha1, sha256 or sha512 (hex either case, base64, base64url) of
 *   any config file written, of the Secret's config.env, or of any value in it;
 * - no hex string of a digest's length that a word list holding the real
 *   password reproduces, as a digest of the word or of the config file with
 *   the word in the password's place (the attack itself);
 * - no secret value in plain text.
 * A credential plugin's output (a token printed, or on stderr of a failure)
 * reaches none of them either.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { KObject } from "./fake-apiserver/index.ts";
import { runCli } from "./support/cli.ts";
import { NS, PASSWORD, secret } from "./support/objects.ts";
import type { SidecarProcess } from "./support/sidecar.ts";
import { SECRET, startWorld, TENANT, until, type World } from "./fake-minio/world.ts";

const OIDC = "oidc-client-Secret-5a6b7c";
const SECRET_ENV = `export MINIO_ROOT_USER="minio"\nexport MINIO_ROOT_PASSWORD="${PASSWORD}"\nexport MINIO_IDENTITY_OPENID_CLIENT_SECRET="${OIDC}"\n`;
/** The Secret without a user: invalid, but still holding the password and the OIDC secret. */
const BROKEN_ENV = `export MINIO_ROOT_PASSWORD="${PASSWORD}"\nexport MINIO_IDENTITY_OPENID_CLIENT_SECRET="${OIDC}"\n`;
const WORDS = ["password", "minio123", "admin", "changeme", "letmein", "s3cr3t", "Pa55word!", "s3cr3t-Pa55word", PASSWORD, "hunter2", "qwerty"];
const ALGORITHMS = ["md5", "sha1", "sha256", "sha512"] as const;
const HEX_LENGTHS = new Set([32, 40, 64, 128]);

const digests = (data: string) =>
  ALGORITHMS.flatMap((a) => {
    const d = createHash(a).update(data).digest();
    return [d.toString("hex"), d.toString("hex").toUpperCase(), d.toString("base64"), d.toString("base64url")];
  });

let w: World;
const surfaces: Record<string, string> = {};
const files: string[] = [];

async function collect(sc: SidecarProcess, label: string) {
  for (const path of ["/ready", "/healthz", "/status", "/metrics"]) surfaces[`${label} probe ${path}`] = await (await sc.probe(path)).text();
  const sha = createHash("sha256").update(await readFile(w.configFile, "utf8")).digest("hex");
  surfaces[`${label} GET sidecar API`] = await (await sc.api("/sidecar/v1/config")).text();
  surfaces[`${label} POST sidecar API`] = await (await sc.api(`/sidecar/v1/config?c=${sha}`, { method: "POST" })).text();
}

beforeAll(async () => {
  w = await startWorld();
  w.api.update(secret(SECRET_ENV, SECRET) as unknown as KObject);
  const tl = async (name: string) => {
    const p = join(w.dir, name);
    await writeFile(p, ""); // the kubelet creates it; the binary writes only an existing file
    return p;
  };
  const cluster = ["--kubeconfig", w.kubeconfig, "--namespace", NS, "--log-level", "trace"];

  // validate, successful
  const validated = join(w.dir, "validate.env");
  const tlOk = await tl("termination-ok");
  const ok = await runCli(["validate", "--tenant", TENANT, "--config-file", validated, "--termination-log", tlOk, ...cluster]);
  expect(ok.code).toBe(0);
  files.push(await readFile(validated, "utf8"));
  Object.assign(surfaces, { "validate stdout": ok.stdout, "validate stderr": ok.stderr, "validate termination log": await readFile(tlOk, "utf8") });

  // validate, failing on the Secret (which still holds the password)
  w.api.update(secret(BROKEN_ENV, SECRET) as unknown as KObject);
  const tlBad = await tl("termination-bad");
  const bad = await runCli(["validate", "--tenant", TENANT, "--config-file", join(w.dir, "never.env"), "--termination-log", tlBad, ...cluster]);
  expect(bad.code).toBe(1);
  Object.assign(surfaces, { "failed validate stdout": bad.stdout, "failed validate stderr": bad.stderr, "failed validate termination log": await readFile(tlBad, "utf8") });
  expect(surfaces["failed validate termination log"]).toContain("missing root credentials");
  w.api.update(secret(SECRET_ENV, SECRET) as unknown as KObject);

  // the sidecar: valid, an invalid Secret, the recovery
  const tlSidecar = await tl("termination-sidecar");
  const sc = await w.sidecar(["--log-level", "trace", "--termination-log", tlSidecar]);
  const status = async () => (await (await sc.probe("/status")).json()) as { configValid: boolean; lastError?: string };
  await until(async () => (await status()).configValid, 10_000, "valid");
  files.push(await readFile(w.configFile, "utf8"));
  surfaces["webhook create"] = await (await sc.webhook(`/webhook/v1/bucketsrv/${NS}/${TENANT}?bucket=photos`, { method: "POST" })).text();
  await collect(sc, "valid");
  w.api.update(secret(BROKEN_ENV, SECRET) as unknown as KObject);
  await until(async () => (await status()).lastError, 10_000, "error on /status");
  await collect(sc, "invalid");
  w.api.update(secret(SECRET_ENV.replace(OIDC, `${OIDC}-2`), SECRET) as unknown as KObject);
  await until(async () => (await status()).configValid, 10_000, "valid again");
  files.push(await readFile(w.configFile, "utf8"));
  await collect(sc, "recovered");
  const { code } = await sc.stop();
  expect(code).toBe(0);
  Object.assign(surfaces, { "sidecar stdout": sc.stdout(), "sidecar stderr": sc.stderr(), "sidecar termination log": await readFile(tlSidecar, "utf8") });
  surfaces["Events"] = JSON.stringify(w.api.list("events.events.k8s.io", { namespace: NS }));
  expect(surfaces["Events"]).toContain("ConfigInvalid"); // the error path really ran
}, 90_000);
afterAll(() => w?.close());

describe("every output surface of validate and the sidecar", () => {
  test("no digest of a config file, of the Secret's config.env or of any value in it", () => {
    const secrets = [SECRET_ENV, BROKEN_ENV, SECRET_ENV.replace(OIDC, `${OIDC}-2`), PASSWORD, OIDC, `${OIDC}-2`, "minio"];
    expect(files).toHaveLength(3);
    const found: string[] = [];
    for (const data of [...files, ...secrets]) {
      for (const d of digests(data)) {
        for (const [where, text] of Object.entries(surfaces)) if (text.includes(d)) found.push(`${where}: ${d}`);
      }
    }
    expect(found).toEqual([]);
  });

  test("a word list holding the real password confirms nothing against any digest-sized hex string printed", () => {
    const hex = new Set<string>();
    for (const text of Object.values(surfaces)) for (const m of text.matchAll(/[0-9a-fA-F]{32,}/g)) if (HEX_LENGTHS.has(m[0].length)) hex.add(m[0].toLowerCase());
    const confirmed: string[] = [];
    for (const word of WORDS) {
      const guesses = [word, ...files.map((f) => f.replaceAll(PASSWORD, word)), SECRET_ENV.replaceAll(PASSWORD, word)];
      for (const g of guesses) for (const a of ALGORITHMS) if (hex.has(createHash(a).update(g).digest("hex"))) confirmed.push(`${word} (${a})`);
    }
    expect(confirmed).toEqual([]);
  });

  test("no secret value in plain text", () => {
    for (const [where, text] of Object.entries(surfaces)) {
      for (const value of [PASSWORD, OIDC]) if (text.includes(value)) throw new Error(`${where} carries a secret value`);
    }
  });
});

describe("a credential plugin's output reaches no surface", () => {
  const TOKEN = "exec-tok-91fa-LEAK-7c2e";
  /** A kubeconfig for the fake API server whose user is an exec plugin running `code` under this Bun. */
  async function execKubeconfig(name: string, code: string) {
    const file = join(w.dir, name);
    const doc = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: w.api.url, "certificate-authority-data": Buffer.from(w.api.caPem).toString("base64") } }],
      users: [{ name: "plugin-user", user: { exec: { apiVersion: "client.authentication.k8s.io/v1", command: process.execPath, args: ["-e", code], interactiveMode: "Never" } } }],
      contexts: [{ name: "ctx", context: { cluster: "c", user: "plugin-user", namespace: NS } }],
      "current-context": "ctx",
    };
    await writeFile(file, JSON.stringify(doc));
    return file;
  }
  const plugins = {
    "prints a token instead of an ExecCredential": { code: `console.log(${JSON.stringify(TOKEN)})`, says: "printed something that is not an ExecCredential" },
    "fails with a token on stderr": { code: `console.error("denied for " + ${JSON.stringify(TOKEN)}); process.exit(7)`, says: "exited with code 7" },
  };
  for (const [what, p] of Object.entries(plugins)) {
    test(`a plugin that ${what}: validate's stderr, stdout and termination message; the sidecar's /status and logs`, async () => {
      const kubeconfig = await execKubeconfig(`kc-${p.says.length}`, p.code);
      const tlPath = join(w.dir, `tl-plugin-${p.says.length}`);
      await writeFile(tlPath, "");
      const v = await runCli(["validate", "--tenant", TENANT, "--kubeconfig", kubeconfig, "--config-file", join(w.dir, "plugin.env"), "--termination-log", tlPath, "--retry-for", "0"]);
      expect(v.code).not.toBe(0);
      const tlText = await readFile(tlPath, "utf8");
      expect(v.stderr).toContain(p.says);
      expect(tlText).toContain(p.says);
      for (const text of [v.stdout, v.stderr, tlText]) expect(text).not.toContain(TOKEN);

      const sc = await w.sidecar(["--kubeconfig", kubeconfig, "--config-file", join(w.dir, `plugin-sidecar-${p.says.length}.env`)]);
      try {
        const s = await until(async () => {
          const body = await (await sc.probe("/status")).text();
          return body.includes(p.says) ? body : undefined;
        }, 20_000, "the plugin's failure on /status");
        expect(s).not.toContain(TOKEN);
        expect(await (await sc.probe("/metrics")).text()).not.toContain(TOKEN);
      } finally {
        await sc.stop();
      }
      expect(sc.stdout()).toContain(p.says);
      expect(`${sc.stdout()}\n${sc.stderr()}`).not.toContain(TOKEN);
    }, 60_000);
  }
});
