/**
 * The README's kustomize install of the operator, as code: its yaml block,
 * with the operator's Deployment as `operator.yaml` and this repository's
 * deploy/ beside it under the name the block uses, rendered by the real
 * `kubectl kustomize` after the README's `kustomize edit set image`. Tenant
 * pods must get the user's image in OPERATOR_SIDECAR_IMAGE (issue 22: the
 * layout the README described before rendered the bare image name).
 */
import { afterAll, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dump, loadAll } from "js-yaml";
import { kustomizeEditSetImage, operatorDeployment } from "./support/kustomize.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const hasKubectl = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;
const work = mkdtempSync(join(tmpdir(), "kustomize-install-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The yaml block under the README's "Operator installed with kustomize" item. */
function readmeKustomization(): string {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const at = readme.indexOf("**Operator installed with kustomize, as code:**");
  const block = /```yaml\n([\s\S]*?)```/.exec(readme.slice(at))?.[1];
  if (at < 0 || !block) throw new Error("README: no yaml block under 'Operator installed with kustomize, as code'");
  return block.replace(/^ {2}/gm, "");
}


function render(kustomization: string): { env: Array<{ name: string; value: string }>; image: string } {
  const dir = mkdtempSync(join(work, "install-"));
  mkdirSync(join(dir, "site"));
  cpSync(join(ROOT, "deploy"), join(dir, "minio-operator-sidecar/deploy"), { recursive: true });
  kustomizeEditSetImage(join(dir, "minio-operator-sidecar/deploy/image"), "minio-operator-sidecar=registry.test:5000/team/minio-operator-sidecar:9.9.9");
  writeFileSync(join(dir, "site/operator.yaml"), dump(operatorDeployment));
  writeFileSync(join(dir, "site/kustomization.yaml"), kustomization);
  const r = spawnSync("kubectl", ["kustomize", join(dir, "site")], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubectl kustomize: ${r.stderr}`);
  const dep = (loadAll(r.stdout) as any[]).find((o) => o?.kind === "Deployment");
  const c = dep.spec.template.spec.containers.find((c: { name: string }) => c.name === "minio-operator");
  return { env: c.env, image: c.image };
}

test.skipIf(!hasKubectl)("the README's kustomization gives the operator the user's image in OPERATOR_SIDECAR_IMAGE", () => {
  const out = render(readmeKustomization());
  expect(out.env).toContainEqual({ name: "OPERATOR_SIDECAR_IMAGE", value: "registry.test:5000/team/minio-operator-sidecar:9.9.9" });
  expect(out.env).toContainEqual({ name: "OPERATOR_STS_ENABLED", value: "on" }); // merged, not replaced
  expect(out.image).toBe("minio/operator:v7.1.1");
});

test.skipIf(!hasKubectl)("why the order is documented: the image component first leaves the bare name", () => {
  const k = readmeKustomization();
  const lines = k.split("\n");
  const i = lines.findIndex((l) => l.includes("deploy/operator/inject"));
  const j = lines.findIndex((l) => l.includes("deploy/image"));
  expect(i).toBeGreaterThan(0);
  expect(j).toBe(i + 1);
  [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  expect(render(lines.join("\n")).env).toContainEqual({ name: "OPERATOR_SIDECAR_IMAGE", value: "minio-operator-sidecar" });
});
