/**
 * Reading Tenant and Secret manifests for `render`: YAML or JSON (JSON is
 * YAML), one or several documents; the document of the wanted kind is used,
 * so one file may hold both.
 */
import { readFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";
import { InputError } from "../errors.ts";

export async function loadManifest(path: string, kind: "Tenant" | "Secret"): Promise<Record<string, unknown>> {
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`${kind} file ${path}`, "", err.code === "ENOENT" ? "file not found" : `cannot read (${err.code})`);
  });
  const docs = parseAllDocuments(text);
  if (!Array.isArray(docs)) return fail(path, kind, "is not a YAML stream");
  const values: unknown[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    // The YAML error names line and column; it never quotes the document (which may hold secrets).
    if (err) return fail(path, kind, `not valid YAML or JSON (${err.code} at line ${err.linePos?.[0]?.line ?? "?"})`);
    const value: unknown = doc.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  const objects = values.filter((v): v is Record<string, unknown> => typeof v === "object" && !Array.isArray(v));
  const match = objects.find((o) => o.kind === kind) ?? (objects.length === 1 && objects[0]?.kind === undefined ? objects[0] : undefined);
  if (!match) return fail(path, kind, `no document of kind ${kind}`);
  return match;
}

const fail = (path: string, kind: string, reason: string): never => {
  throw new InputError(`${kind} file ${path}`, "", reason);
};
