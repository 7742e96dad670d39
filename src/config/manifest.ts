/**
 * Reading Tenant and Secret manifests for `render`: YAML or JSON (JSON is
 * YAML), one or several documents; the document of the wanted kind is used,
 * so one file may hold both. `-` reads standard input (once, if both flags
 * name it).
 *
 * One parser on every runtime (js-yaml, which ships with client-node anyway),
 * with the scalar rules `kubectl apply` uses, so that Bun and Deno accept and
 * reject the same documents (Bun's native parser differed: duplicate keys
 * last-wins, and Deno's js-yaml turned dates into Date objects):
 * - a duplicated key is an error (kubectl's strict field validation);
 * - dates and times stay strings (kubectl's YAML to JSON keeps them as text);
 * - yes/no/on/off (any case, and y/n) are booleans, as kubectl reads them, so
 *   an unquoted `value: on` is a schema error here as the API server makes it;
 * - a document that is a list or a bare value is an error; empty documents
 *   are skipped.
 */
import { CORE_SCHEMA, loadAll, Type, YAMLException } from "js-yaml";
import * as jsyaml from "js-yaml";
import { InputError } from "../errors.ts";
import { readStdin, readTextFile } from "../runtime/index.ts";

// This replaces the core schema's boolean (one type per tag), so it carries true/false too.
const YAML11_TRUE = /^(?:true|True|TRUE|y|Y|yes|Yes|YES|on|On|ON)$/;
const YAML11_FALSE = /^(?:false|False|FALSE|n|N|no|No|NO|off|Off|OFF)$/;
const yaml11Bool = new Type("tag:yaml.org,2002:bool", {
  kind: "scalar",
  resolve: (data: string | null) => data !== null && (YAML11_TRUE.test(data) || YAML11_FALSE.test(data)),
  construct: (data: string) => YAML11_TRUE.test(data),
  predicate: (value: unknown) => typeof value === "boolean",
});
// js-yaml exports its built-in types at run time; @types/js-yaml does not declare them.
const { merge } = (jsyaml as unknown as { types: { merge: Type } }).types;
/** YAML 1.2 core (null, true/false, numbers) plus YAML 1.1 booleans and `<<` merge keys; no timestamps. */
const KUBECTL_SCHEMA = CORE_SCHEMA.extend({ implicit: [yaml11Bool, merge] });

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
    values = loadAll(text, null, { schema: KUBECTL_SCHEMA });
  } catch (err) {
    // Line and reason only: js-yaml's full message quotes the document, which may hold secrets.
    const where = err instanceof YAMLException ? ` at line ${err.mark.line + 1}: ${err.reason}` : "";
    return fail(source, kind, `not valid YAML or JSON${where}`);
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
