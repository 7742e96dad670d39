/**
 * Reading Tenant and Secret manifests for `render`: YAML or JSON (JSON is
 * YAML), one or several documents; the document of the wanted kind is used,
 * so one file may hold both. `-` reads standard input (once, if both flags
 * name it).
 *
 * Two parsers, one result: a plain manifest (./plain-yaml.ts says which) is
 * read by the runtime's native parser where there is one (Bun), anything
 * else by js-yaml with the kubectl schema (./kubectl-yaml.ts), whose reading
 * is the contract on every runtime:
 * - a duplicated key is an error; dates and times stay strings; yes/no/on/off
 *   are booleans (as kubectl reads them);
 * - a document that is a list or a bare value is an error; empty documents
 *   are skipped.
 */
import { InputError } from "../errors.ts";
import { parseNativeYaml, readStdin, readTextFile } from "../runtime/index.ts";
import { isPlainYaml } from "./plain-yaml.ts";

let stdinText: Promise<string> | undefined;

export async function loadManifest(path: string, kind: "Tenant" | "Secret"): Promise<Record<string, unknown>> {
  const source = path === "-" ? "standard input" : path;
  let text: string;
  try {
    text = await (path === "-" ? (stdinText ??= readStdin()) : readTextFile(path));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(source, kind, code === "ENOENT" ? "file not found" : `cannot read (${code})`);
  }
  let values: unknown[];
  try {
    values = await parseYaml(text);
  } catch (err) {
    const where = (err as Error).message;
    return fail(source, kind, `not valid YAML or JSON${where ? ` ${where}` : ""}`);
  }
  const objects: Record<string, unknown>[] = [];
  for (const [i, v] of values.entries()) {
    if (v === null || v === undefined) continue;
    if (Array.isArray(v)) return fail(source, kind, `document ${i + 1} is a list, not a Kubernetes object`);
    if (typeof v !== "object") return fail(source, kind, `document ${i + 1} is a ${typeof v}, not a Kubernetes object`);
    const bad = nonFinite(v);
    if (bad !== undefined) return fail(source, kind, `document ${i + 1}: ${bad}: infinity or NaN cannot be sent to Kubernetes`);
    objects.push(v as Record<string, unknown>);
  }
  const match = objects.find((o) => o.kind === kind) ?? (objects.length === 1 && objects[0]?.kind === undefined ? objects[0] : undefined);
  if (!match) return fail(source, kind, `no document of kind ${kind}`);
  return match;
}

/** The documents of `text`, as js-yaml with the kubectl schema reads them (see the top of this file). */
export async function parseYaml(text: string): Promise<unknown[]> {
  if (parseNativeYaml && isPlainYaml(text)) {
    try {
      const value = parseNativeYaml(text);
      if (value !== null && typeof value === "object" && !Array.isArray(value)) return [value];
    } catch {
      // js-yaml below words the error
    }
  }
  const { loadKubectlYaml } = await import("./kubectl-yaml.ts");
  return loadKubectlYaml(text);
}

/** The path of the first .inf/.nan, which has no JSON form (kubectl refuses it too). */
function nonFinite(value: unknown, path = ""): string | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? undefined : path || "(document)";
  if (value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    const found = nonFinite(v, Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k);
    if (found !== undefined) return found;
  }
  return undefined;
}

const fail = (source: string, kind: string, reason: string): never => {
  throw new InputError(`${kind} file ${source}`, "", reason);
};
