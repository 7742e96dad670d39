// JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

import { ApiError, errors } from "./errors.ts";

export function clone<T>(v: T): T {
  return v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** RFC 7386: objects merge recursively, `null` deletes, everything else (arrays too) replaces. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

const namedList = (v: unknown): v is Array<Record<string, unknown>> => Array.isArray(v) && v.every((e) => isObject(e) && typeof e.name === "string");

/**
 * Strategic merge patch, approximated: like RFC 7386, except that lists of
 * objects keyed by `name` (containers, env, volumes, volumeMounts, ports...)
 * merge element by element instead of being replaced, which is what the real
 * patchMergeKey of those fields does. Directives ($patch, $retainKeys) and
 * other merge keys are not implemented.
 */
export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return clone(patch);
  const out: Record<string, unknown> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else if (namedList(v) && namedList(out[k])) {
      const merged = [...(out[k] as Array<Record<string, unknown>>)];
      for (const item of v) {
        const i = merged.findIndex((e) => e.name === item.name);
        if (i >= 0) merged[i] = strategicMergePatch(merged[i], item) as Record<string, unknown>;
        else merged.push(clone(item));
      }
      out[k] = merged;
    } else out[k] = strategicMergePatch(out[k], v);
  }
  return out;
}

export interface JsonPatchOp {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  from?: string;
  value?: unknown;
}

/**
 * A JSON patch that does not apply: kube-apiserver answers 422 with a generic
 * message and the json-patch library's error only as a cause.
 */
function unprocessable(message: string): ApiError {
  const generic = "the server rejected our request due to an error in our request";
  const cause = message.startsWith(`${generic}: `) ? message.slice(generic.length + 2) : message;
  return new ApiError(422, "Invalid", generic, { causes: [{ reason: "UnexpectedServerResponse", message: cause }] });
}

function parsePointer(p: string): string[] {
  if (p === "") return [];
  if (!p.startsWith("/")) throw errors.badRequest(`invalid JSON pointer ${JSON.stringify(p)}`);
  return p
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

/** Stable-key representation for comparisons. */
export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonical(v[k]);
    return out;
  }
  return v;
}

function resolveParent(doc: unknown, tokens: string[], path: string): { parent: any; key: string } {
  let cur: any = doc;
  for (const t of tokens.slice(0, -1)) {
    if (Array.isArray(cur)) {
      const i = Number(t);
      if (!/^\d+$/.test(t) || i >= cur.length) throw unprocessable(`the server rejected our request due to an error in our request: doc is missing path: "${path}"`);
      cur = cur[i];
    } else if (isObject(cur) && t in cur) {
      cur = cur[t];
    } else {
      throw unprocessable(`the server rejected our request due to an error in our request: doc is missing path: "${path}"`);
    }
  }
  return { parent: cur, key: tokens[tokens.length - 1]! };
}

function getAt(doc: unknown, path: string): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return doc;
  const { parent, key } = resolveParent(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!/^\d+$/.test(key) || i >= parent.length) throw unprocessable(`the server rejected our request due to an error in our request: doc is missing path: "${path}"`);
    return parent[i];
  }
  if (!isObject(parent) || !(key in parent)) throw unprocessable(`the server rejected our request due to an error in our request: doc is missing path: "${path}"`);
  return parent[key];
}

function removeAt(doc: unknown, path: string): unknown {
  const tokens = parsePointer(path);
  const { parent, key } = resolveParent(doc, tokens, path);
  if (Array.isArray(parent)) {
    const i = Number(key);
    if (!/^\d+$/.test(key) || i >= parent.length) throw unprocessable(`the server rejected our request due to an error in our request: unable to remove nonexistent key: ${key}: missing value`);
    return parent.splice(i, 1)[0];
  }
  if (!isObject(parent) || !(key in parent)) throw unprocessable(`the server rejected our request due to an error in our request: unable to remove nonexistent key: ${key}: missing value`);
  const v = parent[key];
  delete parent[key];
  return v;
}

function addAt(doc: unknown, path: string, value: unknown, replace: boolean): unknown {
  const tokens = parsePointer(path);
  if (tokens.length === 0) return clone(value);
  const { parent, key } = resolveParent(doc, tokens, path);
  if (Array.isArray(parent)) {
    if (key === "-" && !replace) parent.push(clone(value));
    else {
      const i = Number(key);
      if (!/^\d+$/.test(key) || i > parent.length || (replace && i >= parent.length))
        throw unprocessable(`the server rejected our request due to an error in our request: index out of range: ${key}`);
      if (replace) parent[i] = clone(value);
      else parent.splice(i, 0, clone(value));
    }
  } else if (isObject(parent)) {
    // `replace` of a missing key adds it, as kube-apiserver's json-patch (v4) does, unlike RFC 6902.
    parent[key] = clone(value);
  } else {
    throw unprocessable(`the server rejected our request due to an error in our request: doc is missing path: "${path}"`);
  }
  return doc;
}

export function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw errors.badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let out = clone(doc);
  for (const raw of ops as JsonPatchOp[]) {
    if (!raw || typeof raw.path !== "string") throw errors.badRequest("invalid JSON patch operation: missing path");
    switch (raw.op) {
      case "add":
        out = addAt(out, raw.path, raw.value, false);
        break;
      case "replace":
        out = addAt(out, raw.path, raw.value, true);
        break;
      case "remove":
        removeAt(out, raw.path);
        break;
      case "move": {
        const v = removeAt(out, raw.from ?? "");
        out = addAt(out, raw.path, v, false);
        break;
      }
      case "copy":
        out = addAt(out, raw.path, getAt(out, raw.from ?? ""), false);
        break;
      case "test":
        if (!deepEqual(getAt(out, raw.path), raw.value))
          throw unprocessable(`the server rejected our request due to an error in our request: testing value ${raw.path} failed: test failed`);
        break;
      default:
        throw errors.badRequest(`Unexpected kind: ${String((raw as { op?: unknown }).op)}`);
    }
  }
  return out;
}
