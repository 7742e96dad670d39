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
import { runProcess } from "./support/cli.ts";

const ROOT = resolve(import.meta.dir, "..");
const work = mkdtempSync(join(tmpdir(), "compiled-binary-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

test("a .env or bunfig.toml in the working directory changes nothing", async () => {
  const bin = join(work, "minio-operator-sidecar");
  const build = Bun.spawnSync([process.execPath, "scripts/build.ts", "--outfile", bin], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  expect(build.exitCode).toBe(0);

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
