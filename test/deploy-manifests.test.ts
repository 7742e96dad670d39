/**
 * deploy/ (SPEC 4): every manifest parses with the client library's own YAML
 * loader and typed models, carries no field those models do not know (a typo
 * such as `readOnlyRootFileSystem` would otherwise be silently ignored by the
 * API server), and the RBAC grants exactly SPEC 4's least privilege. Then the
 * Role is proven sufficient, not just small: `validate` and the sidecar's
 * webhook run against the fake API server with a token limited to its rules.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { dumpYaml, loadAllYaml, type KubernetesObject, type V1Deployment, type V1Pod, type V1Role, type V1RoleBinding, type V1ServiceAccount } from "@kubernetes/client-node";
import { loadAll } from "js-yaml";
import { parseArgs } from "../src/cli/parse.ts";
import { startFakeApiServer, type FakeApiServer, type Rule } from "./fake-apiserver/index.ts";
import { runCli } from "./support/cli.ts";
import { kustomizeBuild } from "./support/kustomize.ts";
import { startSidecar } from "./support/sidecar.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const hasKubectl = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;
const DEPLOY = join(ROOT, "deploy");

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .flatMap((n) => (statSync(join(dir, n)).isDirectory() ? yamlFiles(join(dir, n)) : /\.ya?ml$/.test(n) ? [join(dir, n)] : []))
    .sort();
}

type Doc = { file: string; raw: Record<string, unknown>; obj: KubernetesObject };
// Kustomize transformer configurations (deploy/image/image-fields.yaml) are not objects.
const KUSTOMIZE_CONFIG = ["image/image-fields.yaml"];
const docs: Doc[] = yamlFiles(DEPLOY).filter((p) => !KUSTOMIZE_CONFIG.includes(relative(DEPLOY, p))).flatMap((path) => {
  const text = readFileSync(path, "utf8");
  const raws = loadAll(text) as Record<string, unknown>[];
  const objs = loadAllYaml(text) as KubernetesObject[];
  return objs.map((obj, i) => ({ file: relative(DEPLOY, path), raw: raws[i]!, obj }));
});
const idOf = (d: Doc) => `${d.file}: ${d.obj.kind} ${d.obj.metadata?.namespace ?? "-"}/${d.obj.metadata?.name ?? "-"}`;
const one = <T extends KubernetesObject>(kind: string, file?: string): T => {
  const found = docs.filter((d) => d.obj.kind === kind && (!file || d.file === file));
  expect(found.map(idOf)).toHaveLength(1);
  return found[0]!.obj as T;
};

describe("deploy/ manifests", () => {
  test("exactly the expected objects, in the expected files", () => {
    expect(docs.map(idOf)).toEqual([
      "examples/kustomization.yaml: Kustomization -/-",
      "examples/namespace.yaml: Namespace -/minio-tenant",
      "examples/secret.yaml: Secret minio-tenant/storage-configuration",
      "examples/tenant.yaml: Tenant minio-tenant/myminio",
      "image/kustomization.yaml: Component -/-",
      "kustomization.yaml: Kustomization -/-",
      "operator/inject/kustomization.yaml: Component -/-",
      "operator/inject/patch.yaml: Deployment minio-operator/minio-operator",
      "operator/kustomization.yaml: Kustomization -/-",
      "rbac.yaml: ServiceAccount minio-tenant/myminio-sidecar",
      "rbac.yaml: Role minio-tenant/myminio-sidecar",
      "rbac.yaml: RoleBinding minio-tenant/myminio-sidecar",
      "trial/kustomization.yaml: Kustomization -/-",
      "trial/pod.yaml: Pod minio-tenant/myminio-sidecar-trial",
    ]);
  });

  test("no field unknown to the Kubernetes models (typed round trip is lossless)", () => {
    for (const d of docs) {
      if (d.obj.kind === "Kustomization" || d.obj.kind === "Component" || d.obj.kind === "Tenant") continue; // no typed model
      expect({ [idOf(d)]: loadAll(dumpYaml(d.obj))[0] }).toEqual({ [idOf(d)]: d.raw });
    }
  });

  test("kustomizations list existing files and components, and every manifest is reachable from one", () => {
    const listed = new Set<string>();
    for (const d of docs.filter((x) => x.obj.kind === "Kustomization" || x.obj.kind === "Component")) {
      for (const r of (d.raw.resources as string[]) ?? []) {
        const path = join(dirname(d.file), r);
        expect(docs.some((x) => x.file === path)).toBe(true);
        listed.add(path);
      }
      for (const c of (d.raw.components as string[]) ?? []) {
        expect(docs.some((x) => x.file === join(dirname(d.file), c, "kustomization.yaml") && x.obj.kind === "Component")).toBe(true);
      }
      for (const f of (d.raw.configurations as string[]) ?? []) expect(KUSTOMIZE_CONFIG).toContain(join(dirname(d.file), f));
    }
    const unreachable = docs.filter((d) => d.obj.kind !== "Kustomization" && d.obj.kind !== "Component" && !listed.has(d.file));
    expect(unreachable.map(idOf)).toEqual([]);
  });

  test("the Tenant runs under the ServiceAccount the RoleBinding binds", () => {
    const t = one<KubernetesObject & { spec: { serviceAccountName?: string } }>("Tenant");
    expect(t.spec.serviceAccountName).toBe(one<V1RoleBinding>("RoleBinding").subjects![0]!.name);
  });

  test("one place names the image: deploy/image; the operator patch and the trial Pod get it from there", () => {
    const built = { operator: kustomizeBuild(join(DEPLOY, "operator")), trial: kustomizeBuild(join(DEPLOY, "trial")) };
    const image = (loadAll(readFileSync(join(DEPLOY, "image/kustomization.yaml"), "utf8"))[0] as { images: Array<{ newName: string; newTag: string }> }).images[0]!;
    const want = `${image.newName}:${image.newTag}`;
    expect(want).toMatch(/^[\w.-]+(:\d+)?(\/[\w.-]+)+:[\w.-]+$/); // registry/repo:tag
    const env = built.operator[0]!.spec.template.spec.containers[0].env;
    expect(env).toEqual([{ name: "OPERATOR_SIDECAR_IMAGE", value: want }]);
    const pod = built.trial[0]!;
    expect([...pod.spec.initContainers, ...pod.spec.containers].map((c: { image: string }) => c.image)).toEqual([want, want]);
    // No manifest carries a registry reference of its own: a second place to edit would drift.
    for (const d of docs) expect(JSON.stringify(d.raw)).not.toContain("registry.example.com/minio-operator-sidecar:");
  });

  test.skipIf(!hasKubectl)("the kustomize emulation of these tests matches kubectl kustomize", () => {
    for (const dir of ["", "operator", "trial", "examples"]) {
      const real = spawnSync("kubectl", ["kustomize", join(DEPLOY, dir)], { encoding: "utf8" });
      expect(real.status).toBe(0);
      expect({ [dir]: loadAll(real.stdout) }).toEqual({ [dir]: kustomizeBuild(join(DEPLOY, dir)) });
    }
  });

  test("no cluster-wide RBAC anywhere", () => {
    expect(docs.filter((d) => d.obj.kind === "ClusterRole" || d.obj.kind === "ClusterRoleBinding").map(idOf)).toEqual([]);
  });

  test("the Role grants exactly SPEC 4: tenant and secret by name, services with list (one LIST per reconcile round), events create/patch", () => {
    const role = one<V1Role>("Role");
    const tenant = one<KubernetesObject & { spec: { configuration: { name: string } } }>("Tenant");
    const norm = (role.rules ?? []).map((r) => ({
      apiGroups: [...(r.apiGroups ?? [])].sort(),
      resources: [...(r.resources ?? [])].sort(),
      resourceNames: r.resourceNames ? [...r.resourceNames].sort() : undefined,
      verbs: [...r.verbs].sort(),
      nonResourceURLs: r.nonResourceURLs,
    }));
    expect(norm).toEqual([
      { apiGroups: ["minio.min.io"], resources: ["tenants"], resourceNames: [tenant.metadata!.name!], verbs: ["get", "list", "watch"], nonResourceURLs: undefined },
      { apiGroups: [""], resources: ["secrets"], resourceNames: [tenant.spec.configuration.name], verbs: ["get", "list", "watch"], nonResourceURLs: undefined },
      { apiGroups: [""], resources: ["services"], resourceNames: undefined, verbs: ["create", "delete", "get", "list", "update"], nonResourceURLs: undefined },
      { apiGroups: ["events.k8s.io"], resources: ["events"], resourceNames: undefined, verbs: ["create", "patch"], nonResourceURLs: undefined },
    ]);
    expect(role.metadata?.namespace).toBe(tenant.metadata?.namespace);
  });

  test("the RoleBinding binds that Role to the ServiceAccount, in one namespace", () => {
    const role = one<V1Role>("Role");
    const sa = one<V1ServiceAccount>("ServiceAccount");
    const rb = one<V1RoleBinding>("RoleBinding");
    expect(rb.roleRef).toEqual({ apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata!.name! });
    expect(rb.subjects).toEqual([{ kind: "ServiceAccount", name: sa.metadata!.name!, namespace: sa.metadata!.namespace! }]);
    expect(new Set([role.metadata?.namespace, sa.metadata?.namespace, rb.metadata?.namespace]).size).toBe(1);
  });

  test("the operator patch sets OPERATOR_SIDECAR_IMAGE on the operator container and nothing else", () => {
    const dep = one<V1Deployment>("Deployment", "operator/inject/patch.yaml");
    expect(dep.apiVersion).toBe("apps/v1");
    expect(dep.metadata).toEqual({ name: "minio-operator", namespace: "minio-operator" });
    const containers = dep.spec!.template.spec!.containers;
    expect(containers.map((c) => c.name)).toEqual(["minio-operator"]);
    expect(containers[0]!.env).toEqual([{ name: "OPERATOR_SIDECAR_IMAGE", value: "minio-operator-sidecar" }]); // rewritten by deploy/image
  });

  describe("standalone Pod", () => {
    const pod = () => one<V1Pod>("Pod");

    test("runs validate then sidecar for myminio, under the least-privilege ServiceAccount", () => {
      const p = pod();
      expect(p.metadata?.namespace).toBe(one<V1Role>("Role").metadata?.namespace);
      expect(p.spec!.serviceAccountName).toBe(one<V1ServiceAccount>("ServiceAccount").metadata!.name);
      const [init, ...moreInit] = p.spec!.initContainers!;
      const [main, ...moreMain] = p.spec!.containers;
      expect(moreInit).toEqual([]);
      expect(moreMain).toEqual([]);
      expect(init!.command).toBeUndefined(); // the image's ENTRYPOINT is the binary
      expect(init!.args).toEqual(["validate", "--tenant", "myminio"]);
      expect(main!.args!.slice(0, 5)).toEqual(["sidecar", "--tenant", "myminio", "--config-name", "storage-configuration"]);
      // The CLI itself accepts these arguments (a renamed flag would exit 2 in the cluster).
      for (const c of [init!, main!]) expect(parseArgs(c.args!).kind).toBe("run");
    });

    test("security context: non-root uid 1000, read-only root, no privilege, no capabilities", () => {
      const p = pod();
      expect(p.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 });
      expect(p.spec!.hostNetwork ?? false).toBe(false);
      expect(p.spec!.hostPID ?? false).toBe(false);
      for (const c of [...p.spec!.initContainers!, ...p.spec!.containers]) {
        expect({ [c.name]: c.securityContext }).toEqual({
          [c.name]: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            runAsUser: 1000,
            runAsGroup: 1000,
            capabilities: { drop: ["ALL"] },
          },
        });
      }
    });

    test("the only writable path is the shared in-memory emptyDir at /tmp/minio", () => {
      const p = pod();
      expect(p.spec!.volumes).toHaveLength(1);
      const vol = p.spec!.volumes![0]!;
      expect(vol.emptyDir?.medium).toBe("Memory");
      for (const c of [...p.spec!.initContainers!, ...p.spec!.containers]) {
        expect(c.volumeMounts).toEqual([{ name: vol.name, mountPath: "/tmp/minio" }]);
      }
    });

    test("probes on 4444: /ready for readiness, /healthz for liveness; small requests and limits", () => {
      const main = pod().spec!.containers[0]!;
      const port = (p: string | number) => (typeof p === "number" ? p : main.ports!.find((x) => x.name === p)!.containerPort);
      expect(main.readinessProbe!.httpGet!.path).toBe("/ready");
      expect(port(main.readinessProbe!.httpGet!.port as string | number)).toBe(4444);
      expect(main.livenessProbe!.httpGet!.path).toBe("/healthz");
      expect(port(main.livenessProbe!.httpGet!.port as string | number)).toBe(4444);
      for (const c of [...pod().spec!.initContainers!, main]) {
        expect(c.resources?.requests?.cpu).toBeDefined();
        expect(c.resources?.requests?.memory).toBeDefined();
        expect(c.resources?.limits?.memory).toBeDefined();
      }
    });
  });
});

describe("deploy/rbac.yaml is enough for the sidecar (fake API server enforcing the Role)", () => {
  const TOKEN = "sidecar-sa";
  let api: FakeApiServer;
  let dir: string;
  let kubeconfig: string;
  let namespace: string;

  beforeAll(async () => {
    const role = one<V1Role>("Role");
    namespace = role.metadata!.namespace!;
    const rules: Rule[] = role.rules!.map((r) => ({
      apiGroups: r.apiGroups ?? [],
      resources: r.resources ?? [],
      verbs: r.verbs,
      ...(r.resourceNames ? { resourceNames: r.resourceNames } : {}),
      namespaces: [namespace], // a RoleBinding: its namespace only
    }));
    const examples = docs.filter((d) => d.file.startsWith("examples/") && ["Tenant", "Secret"].includes(d.obj.kind!)).map((d) => d.raw);
    api = await startFakeApiServer({
      objects: examples as never,
      tokens: { [TOKEN]: { user: `system:serviceaccount:${namespace}:${one<V1ServiceAccount>("ServiceAccount").metadata!.name}`, rules } },
    });
    dir = mkdtempSync(join(tmpdir(), "deploy-rbac-"));
    kubeconfig = join(dir, "kubeconfig");
    await api.writeKubeconfig(kubeconfig, { token: TOKEN, namespace });
  });
  afterAll(async () => {
    await api?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });
  const forbidden = () => api.requests.filter((r) => r.status === 403).map((r) => `${r.verb} ${r.resource} ${r.name}`);

  test("validate reads the Tenant and Secret and writes the expected file", async () => {
    const configFile = join(dir, "validate", "config.env");
    const r = await runCli(["validate", "--tenant", "myminio", "--namespace", namespace, "--kubeconfig", kubeconfig, "--config-file", configFile]);
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    expect(readFileSync(configFile, "utf8")).toBe(readFileSync(join(ROOT, "test/fixtures/examples/deploy-example.expected.env"), "utf8"));
    expect(forbidden()).toEqual([]);
  });

  test("a failing validate records its Event under the Role: created once, then patched on a repeat", async () => {
    const saved = api.get({ kind: "Secret", namespace, name: "storage-configuration" })!;
    api.patch({ kind: "Secret", namespace, name: "storage-configuration" }, { data: { "config.env": Buffer.from("MINIO_BROWSER=on\n").toString("base64") } });
    try {
      for (let i = 0; i < 2; i++) {
        const r = await runCli(["validate", "--tenant", "myminio", "--namespace", namespace, "--kubeconfig", kubeconfig, "--config-file", join(dir, "never.env")]);
        expect(r.code).toBe(1);
      }
      const events = api.list("events.events.k8s.io", { namespace });
      expect(events.map((e) => [e.reason, e.series?.count])).toEqual([["ConfigInvalid", 2]]);
      expect(api.requests.filter((r) => r.resource === "events").map((r) => `${r.verb} ${r.status}`)).toEqual(["create 201", "create 409", "patch 200", "patch 200"]);
      expect(forbidden()).toEqual([]);
    } finally {
      api.update({ ...saved, metadata: { ...saved.metadata, resourceVersion: undefined } } as never);
    }
  });

  test("sidecar watches by name and creates and deletes a bucket Service through the webhook", async () => {
    const sc = await startSidecar({ kubeconfig, namespace, configFile: join(dir, "sidecar", "config.env") });
    try {
      const hook = (bucket: string, del: boolean) =>
        sc.webhook(`/webhook/v1/bucketsrv/${namespace}/myminio?bucket=${bucket}&delete=${del}`, { method: "POST" });
      expect((await hook("photos", false)).status).toBe(200);
      expect(api.get({ kind: "Service", namespace, name: "photos" })).toBeDefined();
      expect((await hook("photos", true)).status).toBe(200);
      expect(api.get({ kind: "Service", namespace, name: "photos" })).toBeUndefined();
      // Watches ran under the Role too (they are only allowed with a name field selector).
      expect(api.requests.some((r) => r.resource === "tenants" && r.watch && r.name === "myminio")).toBe(true);
      expect(api.requests.some((r) => r.resource === "secrets" && r.watch && r.name === "storage-configuration")).toBe(true);
      expect(forbidden()).toEqual([]);
    } finally {
      await sc.stop();
    }
  });
});
