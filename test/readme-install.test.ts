/**
 * The README's "Install into a cluster" steps, run as written and in the
 * order written, against the fake API server with namespaces as real objects
 * (a namespaced object in a namespace that does not exist is refused, as the
 * NamespaceLifecycle admission plugin does). Every command of the block is
 * understood here or the test fails, so the README cannot drift from what
 * works: kustomize edit on a copy of deploy/, kubectl apply -f/-k (create, or
 * patch when it exists, as apply does), kubectl kustomize > file, kubectl
 * patch with a strategic-merge patch file. Then validate runs with the
 * ServiceAccount and Role the steps created, against the Tenant they created.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dump, loadAll } from "js-yaml";
import { apiVersionOf, resolveKind, startFakeApiServer, type FakeApiServer, type KObject, type Rule } from "./fake-apiserver/index.ts";
import { runCli } from "./support/cli.ts";
import { kustomizeBuild, kustomizeEditSetImage, operatorDeployment } from "./support/kustomize.ts";

const ROOT = new URL("../", import.meta.url).pathname;

function installBlock(): string[] {
  const readme = readFileSync(join(ROOT, "README.md"), "utf8");
  const start = readme.indexOf("## Install into a cluster");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1];
  if (start < 0 || !block) throw new Error("README: no sh block under 'Install into a cluster'");
  return block.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
}


class Kubectl {
  readonly log: string[] = [];
  constructor(
    private readonly api: FakeApiServer,
    private readonly work: string,
  ) {}

  private async request(method: string, path: string, body: unknown, contentType = "application/json") {
    const r = await fetch(`${this.api.url}${path}`, {
      method,
      headers: { Authorization: "Bearer admin", "Content-Type": contentType },
      body: JSON.stringify(body),
      tls: { ca: this.api.caPem },
    } as RequestInit);
    return { status: r.status, body: (await r.json()) as KObject };
  }

  private path(o: KObject): string {
    const rt = resolveKind(o.kind, o.apiVersion);
    const base = rt.group ? `/apis/${apiVersionOf(rt)}` : `/api/${rt.version}`;
    return `${base}${rt.namespaced ? `/namespaces/${o.metadata?.namespace ?? "default"}` : ""}/${rt.resource}`;
  }

  /** kubectl apply, client side: create, or patch the object that exists. */
  private async apply(o: KObject) {
    const created = await this.request("POST", this.path(o), o);
    if (created.status === 201) return this.log.push(`created ${o.kind} ${o.metadata.name}`);
    if (created.status !== 409) throw new Error(`apply ${o.kind} ${o.metadata?.name}: ${created.status} ${created.body.message}`);
    const patched = await this.request("PATCH", `${this.path(o)}/${o.metadata.name}`, o, "application/merge-patch+json");
    if (patched.status !== 200) throw new Error(`apply ${o.kind} ${o.metadata.name}: ${patched.status} ${patched.body.message}`);
    this.log.push(`configured ${o.kind} ${o.metadata.name}`);
  }

  async run(line: string) {
    const at = (p: string) => join(this.work, p);
    let m: RegExpExecArray | null;
    if (/^docker (build|push) /.test(line)) return this.log.push(`skipped: ${line}`); // no registry here
    if ((m = /^\(cd (\S+) && kustomize edit set image (\S+)\)$/.exec(line))) return kustomizeEditSetImage(at(m[1]!), m[2]!);
    if ((m = /^kubectl apply -f (\S+)$/.exec(line))) {
      for (const o of loadAll(readFileSync(at(m[1]!), "utf8")) as KObject[]) if (o) await this.apply(o);
      return;
    }
    if ((m = /^kubectl apply -k (\S+)$/.exec(line))) {
      for (const o of kustomizeBuild(at(m[1]!))) await this.apply(o);
      return;
    }
    if ((m = /^kubectl kustomize (\S+) > (\S+)$/.exec(line))) {
      return writeFileSync(at(m[2]!), kustomizeBuild(at(m[1]!)).map((o) => dump(o)).join("---\n"));
    }
    if ((m = /^kubectl -n (\S+) patch deployment (\S+) --patch-file (\S+)$/.exec(line))) {
      const patch = loadAll(readFileSync(at(m[3]!), "utf8"))[0];
      const r = await this.request("PATCH", `/apis/apps/v1/namespaces/${m[1]}/deployments/${m[2]}`, patch, "application/strategic-merge-patch+json");
      if (r.status !== 200) throw new Error(`patch deployment ${m[2]}: ${r.status} ${r.body.message}`);
      return this.log.push(`patched Deployment ${m[2]}`);
    }
    throw new Error(`README install step not understood by this test: ${line}`);
  }
}

async function freshCluster() {
  const api = await startFakeApiServer({ strictNamespaces: true, tokens: { admin: "admin" } });
  api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: "minio-operator" } });
  api.create(operatorDeployment);
  const work = mkdtempSync(join(tmpdir(), "readme-install-"));
  cpSync(join(ROOT, "deploy"), join(work, "deploy"), { recursive: true });
  return { api, work, kubectl: new Kubectl(api, work) };
}

describe("README: Install into a cluster", () => {
  let c: Awaited<ReturnType<typeof freshCluster>>;
  // Read in the tests, not while the file loads: a README without the block must fail a test, not vanish.
  let steps: string[] = [];
  let image = "";

  beforeAll(async () => {
    c = await freshCluster();
  });
  afterAll(async () => {
    await c?.api.close();
    if (c) rmSync(c.work, { recursive: true, force: true });
  });

  test("every step applies cleanly, in the order written", async () => {
    steps = installBlock();
    image = /kustomize edit set image minio-operator-sidecar=(\S+)\)/.exec(steps.join("\n"))?.[1] ?? "(none in the README)";
    expect(image).toMatch(/^[\w.-]+(:\d+)?(\/[\w.-]+)+:[\w.-]+$/);
    for (const line of steps) await c.kubectl.run(line);
    expect(c.kubectl.log).toContain("created Namespace minio-tenant");
    expect(c.kubectl.log).toContain("created Tenant myminio");
    expect(c.kubectl.log).toContain("patched Deployment minio-operator");
  });

  test("the operator injects the image named once; its own container is otherwise unchanged", () => {
    const op = c.api.get({ kind: "Deployment", apiVersion: "apps/v1", namespace: "minio-operator", name: "minio-operator" })!;
    const [container] = op.spec.template.spec.containers;
    expect(container.image).toBe("minio/operator:v7.1.1");
    expect(container.env).toEqual([
      { name: "OPERATOR_STS_ENABLED", value: "on" },
      { name: "OPERATOR_SIDECAR_IMAGE", value: image },
    ]);
    const trial = c.api.get({ kind: "Pod", namespace: "minio-tenant", name: "myminio-sidecar-trial" })!;
    expect([...trial.spec.initContainers, ...trial.spec.containers].map((x: { image: string }) => x.image)).toEqual([image, image]);
  });

  test("the Tenant runs under the ServiceAccount the RoleBinding binds, and validate works with it", async () => {
    const t = c.api.get({ kind: "Tenant", namespace: "minio-tenant", name: "myminio" })!;
    const rb = c.api.get({ kind: "RoleBinding", apiVersion: "rbac.authorization.k8s.io/v1", namespace: "minio-tenant", name: "myminio-sidecar" })!;
    expect(rb.subjects).toEqual([{ kind: "ServiceAccount", name: t.spec.serviceAccountName, namespace: "minio-tenant" }]);
    expect(c.api.get({ kind: "ServiceAccount", namespace: "minio-tenant", name: t.spec.serviceAccountName })).toBeDefined();
    // The fake authorizes by token: give the ServiceAccount's token exactly the applied Role, bound in its namespace.
    const role = c.api.get({ kind: "Role", apiVersion: "rbac.authorization.k8s.io/v1", namespace: "minio-tenant", name: rb.roleRef.name })!;
    c.api.setToken("sa-token", {
      user: `system:serviceaccount:minio-tenant:${t.spec.serviceAccountName}`,
      rules: (role.rules as Rule[]).map((r) => ({ ...r, namespaces: ["minio-tenant"] })),
    });
    const kubeconfig = join(c.work, "sa.kubeconfig");
    await c.api.writeKubeconfig(kubeconfig, { token: "sa-token", namespace: "minio-tenant" });
    const r = await runCli(["validate", "--tenant", "myminio", "--kubeconfig", kubeconfig, "--config-file", join(c.work, "config.env")]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(readFileSync(join(c.work, "config.env"), "utf8")).toContain("export MINIO_ROOT_USER=");
  });
});

test("the order matters: the RBAC step before the namespace step is refused (so the test above really checks it)", async () => {
  const c = await freshCluster();
  try {
    await expect(c.kubectl.run("kubectl apply -k deploy")).rejects.toThrow('404 namespaces "minio-tenant" not found');
  } finally {
    await c.api.close();
    rmSync(c.work, { recursive: true, force: true });
  }
});
