// labelSelector / fieldSelector parsing and matching (k8s.io/apimachinery labels & fields).

import { errors } from "./errors.ts";
import type { KObject, ResourceType } from "./resources.ts";

export type LabelRequirement =
  | { key: string; op: "exists" | "!exists" }
  | { key: string; op: "=" | "!="; value: string }
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "gt" | "lt"; value: number };

export type LabelSelector = LabelRequirement[];

function splitTopLevel(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

export function parseLabelSelector(input: string | undefined): LabelSelector {
  if (input === undefined || input.trim() === "") return [];
  const reqs: LabelSelector = [];
  for (const raw of splitTopLevel(input)) {
    const part = raw.trim();
    const fail = () => errors.badRequest(`unable to parse requirement: found '${part}', expected: identifier or operator`);
    if (!part) throw fail();
    let m: RegExpMatchArray | null;
    if ((m = part.match(/^([^\s!=<>(),]+)\s+(in|notin)\s*\(([^()]*)\)$/))) {
      const values = m[3]!.split(",").map((v) => v.trim());
      reqs.push({ key: m[1]!, op: m[2] as "in" | "notin", values });
    } else if ((m = part.match(/^([^\s!=<>(),]+)\s*(==|=|!=)\s*([^\s!=<>(),]*)$/))) {
      reqs.push({ key: m[1]!, op: m[2] === "!=" ? "!=" : "=", value: m[3]! });
    } else if ((m = part.match(/^([^\s!=<>(),]+)\s*([<>])\s*(-?\d+)$/))) {
      reqs.push({ key: m[1]!, op: m[2] === ">" ? "gt" : "lt", value: Number(m[3]) });
    } else if ((m = part.match(/^!\s*([^\s!=<>(),]+)$/))) {
      reqs.push({ key: m[1]!, op: "!exists" });
    } else if ((m = part.match(/^([^\s!=<>(),]+)$/))) {
      reqs.push({ key: m[1]!, op: "exists" });
    } else {
      throw fail();
    }
  }
  return reqs;
}

export function matchesLabels(sel: LabelSelector, labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  for (const r of sel) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    const v = l[r.key];
    switch (r.op) {
      case "exists":
        if (!has) return false;
        break;
      case "!exists":
        if (has) return false;
        break;
      case "=":
        if (!has || v !== r.value) return false;
        break;
      case "!=":
        if (has && v === r.value) return false;
        break;
      case "in":
        if (!has || !r.values.includes(v!)) return false;
        break;
      case "notin":
        if (has && r.values.includes(v!)) return false;
        break;
      case "gt":
      case "lt": {
        if (!has || !/^-?\d+$/.test(v!)) return false;
        const n = Number(v);
        if (r.op === "gt" ? !(n > r.value) : !(n < r.value)) return false;
        break;
      }
    }
  }
  return true;
}

export interface FieldRequirement {
  field: string;
  op: "=" | "!=";
  value: string;
}
export type FieldSelector = FieldRequirement[];

function splitEscaped(s: string, sep: string): string[] {
  const out: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    if (ch === "\\" && i + 1 < s.length) {
      cur += ch + s[i + 1];
      i++;
    } else if (ch === sep) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

const unescape = (s: string) => s.replace(/\\(.)/g, "$1");

export function parseFieldSelector(input: string | undefined, rt: ResourceType): FieldSelector {
  if (input === undefined || input.trim() === "") return [];
  const reqs: FieldSelector = [];
  for (const part of splitEscaped(input, ",")) {
    const m = part.match(/^((?:[^=!\\]|\\.)+?)(==|=|!=)((?:[^\\]|\\.)*)$/);
    if (!m) throw errors.badRequest(`invalid selector: '${input}'; can't understand '${part}'`);
    const field = unescape(m[1]!.trim());
    if (field !== "metadata.name" && field !== "metadata.namespace" && !(field in rt.fieldLabels)) {
      throw errors.badRequest(`field label not supported: ${field}`);
    }
    reqs.push({ field, op: m[2] === "!=" ? "!=" : "=", value: unescape(m[3]!) });
  }
  return reqs;
}

export function matchesFields(sel: FieldSelector, rt: ResourceType, obj: KObject): boolean {
  for (const r of sel) {
    let v: string | undefined;
    if (r.field === "metadata.name") v = obj.metadata?.name;
    else if (r.field === "metadata.namespace") v = obj.metadata?.namespace;
    else v = rt.fieldLabels[r.field]!(obj);
    const actual = v ?? "";
    if (r.op === "=" ? actual !== r.value : actual === r.value) return false;
  }
  return true;
}

/** `fields.Selector.RequiresExactMatch("metadata.name")` — how RBAC learns the name of a list/watch. */
export function exactNameFromFieldSelector(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  for (const part of splitEscaped(raw, ",")) {
    const m = part.match(/^\s*metadata\.name\s*(==|=)((?:[^\\]|\\.)*)$/);
    if (m) return unescape(m[2]!);
  }
  return undefined;
}
