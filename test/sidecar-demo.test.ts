/**
 * `npm run demo` keeps working: scripts/demo.ts --smoke runs the same steps
 * (fake API server with deploy/examples and the Role of deploy/rbac.yaml,
 * validate, sidecar, a live Secret edit, one webhook call) and exits.
 */
import { expect, test } from "bun:test";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";

const DEMO = new URL("../scripts/demo.ts", import.meta.url).pathname;

test("demo --smoke: validate writes the file, the sidecar rewrites it after the Secret edit, the webhook creates a Service; all cleaned up", async () => {
  const child = spawn(process.execPath, [DEMO, "--smoke"], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, KUBERNETES_SERVICE_HOST: undefined } });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (out += d));
  const timer = setTimeout(() => child.kill("SIGKILL"), 40_000);
  const code = await new Promise<number | null>((r) => child.once("close", r));
  clearTimeout(timer);
  expect(out).toContain("validate exited 0 and wrote ");
  expect(out).toContain("config file rewritten: MINIO_BROWSER changed");
  expect(out).toContain("smoke check passed");
  // The operator's own Service is seeded: bucket minio is refused, and a create followed at once by a delete shows both.
  expect(out).toMatch(/webhook for bucket minio answered 409: /);
  expect(out).toContain("Service created: minio-tenant/brief");
  expect(out).toContain("Service deleted: minio-tenant/brief");
  expect(code).toBe(0);
  // The example root password is in the file, never in what the demo, validate or the sidecar print.
  expect(out).not.toContain("minio123");
  const tmp = /wrote (\S+)\/config\/config\.env/.exec(out)![1]!;
  expect(existsSync(tmp)).toBe(false);
}, 45_000);
