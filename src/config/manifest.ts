/**
 * Reading Tenant and Secret manifests for `render`: YAML or JSON (JSON is
 * YAML), one or several documents; the document of the wanted kind is used,
 * so one file may hold both. The parser is the runtime's (Bun's native one,
 * js-yaml on Deno); js-yaml, which ships with client-node anyway, explains a
 * syntax error with its line number.
 */
import { readFileSync } from "node:fs";
import { parseYamlDocuments } from "../runtime/index.ts";
import { InputError } from "../errors.ts";

export async function loadManifest(path: string, kind: "Tenant" | "Secret"): Promise<Record<string, unknown>> {
  // Sync: two small files, and node:fs/promises would add to render's start-up.
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(path, kind, code === "ENOENT" ? "file not found" : `cannot read (${code})`);
  }
  let values: unknown[];
  try {
    values = (await parseYamlDocuments(text)).filter((v) => v !== null && v !== undefined);
  } catch {
    return fail(path, kind, `not valid YAML or JSON${await syntaxErrorAt(text)}`);
  }
  const objects = values.filter((v): v is Record<string, unknown> => typeof v === "object" && !Array.isArray(v));
  const match = objects.find((o) => o.kind === kind) ?? (objects.length === 1 && objects[0]?.kind === undefined ? objects[0] : undefined);
  if (!match) return fail(path, kind, `no document of kind ${kind}`);
  return match;
}

/**
 * Where js-yaml finds the syntax error: line and reason only, because its full
 * message quotes the document, which may hold secrets.
 */
async function syntaxErrorAt(text: string): Promise<string> {
  const { loadAll, YAMLException } = await import("js-yaml");
  try {
    loadAll(text);
    return "";
  } catch (err) {
    return err instanceof YAMLException ? ` at line ${err.mark.line + 1}: ${err.reason}` : "";
  }
}

const fail = (path: string, kind: string, reason: string): never => {
  throw new InputError(`${kind} file ${path}`, "", reason);
};
