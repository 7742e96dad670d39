/**
 * The part of kustomize that deploy/ uses, for tests on machines without
 * kubectl: `resources` (files and directories), `components`, and the images
 * transformer (name -> newName/newTag/digest) on container images and on the
 * extra fields a component's `configurations` name. test/deploy-manifests
 * checks it against the real `kubectl kustomize` where kubectl is installed.
 * Also `kustomize edit set image`, which the README's install runs.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { dump, loadAll } from "js-yaml";

type Obj = Record<string, any>;

interface ImageRule {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}
interface FieldSpec {
  path: string;
  kind?: string;
}

const yamlDocs = (file: string) => (loadAll(readFileSync(file, "utf8")) as Obj[]).filter(Boolean);
const kustomizationOf = (dir: string) => yamlDocs(join(dir, "kustomization.yaml"))[0]!;

export function kustomizeBuild(dir: string): Obj[] {
  const k = kustomizationOf(dir);
  const objects: Obj[] = [];
  for (const r of (k.resources ?? []) as string[]) {
    const p = join(dir, r);
    objects.push(...(statSync(p).isDirectory() ? kustomizeBuild(p) : yamlDocs(p)));
  }
  const images: ImageRule[] = [...(k.images ?? [])];
  const fields: FieldSpec[] = [...fieldSpecs(dir, k)];
  for (const c of (k.components ?? []) as string[]) {
    const cdir = join(dir, c);
    const ck = kustomizationOf(cdir);
    for (const r of (ck.resources ?? []) as string[]) objects.push(...yamlDocs(join(cdir, r)));
    images.push(...(ck.images ?? []));
    fields.push(...fieldSpecs(cdir, ck));
  }
  for (const o of objects) for (const rule of images) transformImages(o, rule, fields);
  return objects;
}

function fieldSpecs(dir: string, k: Obj): FieldSpec[] {
  return ((k.configurations ?? []) as string[]).flatMap((f) => ((yamlDocs(join(dir, f))[0]?.images ?? []) as FieldSpec[]));
}

/** The new reference for `value` if its name is the rule's, else undefined. */
function rewrite(value: unknown, rule: ImageRule): string | undefined {
  if (typeof value !== "string") return undefined;
  const m = /^([^@:]+(?::\d+\/[^@:]+)?)(?::([^@]+))?(?:@(.+))?$/.exec(value);
  if (!m || m[1] !== rule.name) return undefined;
  const name = rule.newName ?? m[1];
  if (rule.digest) return `${name}@${rule.digest}`;
  const tag = rule.newTag ?? m[2];
  return `${name}${tag ? `:${tag}` : ""}${!rule.newTag && m[3] ? `@${m[3]}` : ""}`;
}

function transformImages(o: Obj, rule: ImageRule, fields: FieldSpec[]) {
  // Default field specs: the image of every container and init container, wherever the pod spec sits.
  const walk = (v: unknown) => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (!v || typeof v !== "object") return;
    for (const [key, child] of Object.entries(v as Obj)) {
      if ((key === "containers" || key === "initContainers") && Array.isArray(child)) {
        for (const c of child) {
          const n = rewrite(c?.image, rule);
          if (n) c.image = n;
        }
      }
      walk(child);
    }
  };
  walk(o);
  for (const f of fields) {
    if (f.kind && f.kind !== o.kind) continue;
    const parts = f.path.split("/");
    const visit = (node: unknown, i: number) => {
      if (Array.isArray(node)) return node.forEach((n) => visit(n, i));
      if (!node || typeof node !== "object") return;
      const key = parts[i]!;
      if (i === parts.length - 1) {
        const n = rewrite((node as Obj)[key], rule);
        if (n) (node as Obj)[key] = n;
      } else visit((node as Obj)[key], i + 1);
    };
    visit(o, 0);
  }
}

/** `kustomize edit set image NAME=NEWNAME[:TAG|@DIGEST]` in `dir`. */
export function kustomizeEditSetImage(dir: string, arg: string) {
  const [name, ref] = arg.split("=") as [string, string];
  const m = /^([^@]+?)(?::([^:@/]+))?(?:@(.+))?$/.exec(ref)!;
  const file = join(dir, "kustomization.yaml");
  if (!existsSync(file)) throw new Error(`kustomize edit: no kustomization.yaml in ${dirname(file)}`);
  const k = kustomizationOf(dir);
  const rule: ImageRule = { name, newName: m[1], ...(m[3] ? { digest: m[3] } : m[2] ? { newTag: m[2] } : {}) };
  k.images = [...((k.images ?? []) as ImageRule[]).filter((i) => i.name !== name), rule];
  writeFileSync(file, dump(k));
}

/** The MinIO Operator's Deployment as its kustomize base installs it: what the README's install steps start from. */
export const operatorDeployment = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "minio-operator", namespace: "minio-operator" },
  spec: {
    selector: { matchLabels: { name: "minio-operator" } },
    template: {
      metadata: { labels: { name: "minio-operator" } },
      spec: { containers: [{ name: "minio-operator", image: "minio/operator:v7.1.1", args: ["controller"], env: [{ name: "OPERATOR_STS_ENABLED", value: "on" }] }] },
    },
  },
};
