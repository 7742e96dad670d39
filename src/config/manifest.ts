/**
 * Reading Tenant and Secret manifests for `render`: YAML or JSON (JSON is
 * YAML), one or several documents; the document of the wanted kind is used,
 * so one file may hold both. js-yaml rather than `yaml`: it parses these
 * files 5x faster cold (render start-up) and ships with client-node anyway.
 */
import { readFile } from "node:fs/promises";
import { loadAll, YAMLException } from "js-yaml";
import { InputError } from "../errors.ts";

export async function loadManifest(path: string, kind: "Tenant" | "Secret"): Promise<Record<string, unknown>> {
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${kind} file ${path}`, "", err.code === "ENOENT" ? "file not found" : `cannot read (${err.code})`);
  });
  let values: unknown[];
  try {
    values = loadAll(text).filter((v) => v !== null && v !== undefined);
  } catch (err) {
    // Name the line and the reason only: js-yaml's full message quotes the document, which may hold secrets.
    const where = err instanceof YAMLException ? ` at line ${err.mark.line + 1}: ${err.reason}` : "";
    return fail(path, kind, `not valid YAML or JSON${where}`);
  }
  const objects = values.filter((v): v is Record<string, unknown> => typeof v === "object" && !Array.isArray(v));
  const match = objects.find((o) => o.kind === kind) ?? (objects.length === 1 && objects[0]?.kind === undefined ? objects[0] : undefined);
  if (!match) return fail(path, kind, `no document of kind ${kind}`);
  return match;
}

const fail = (path: string, kind: string, reason: string): never => {
  throw new InputError(`${kind} file ${path}`, "", reason);
};
