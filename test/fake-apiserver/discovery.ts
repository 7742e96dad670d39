// Non-resource endpoints: /version, discovery documents, health checks.

import { RESOURCE_TYPES, type KObject } from "./resources.ts";

export const VERSION_INFO = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2024-12-11T00:00:00Z",
  goVersion: "go1.23.3",
  compiler: "gc",
  platform: "linux/amd64",
};

const K8S_VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

/**
 * The answer for a non-resource GET: a JSON document, a plain-text string, or
 * undefined for an unknown path (404).
 */
export function discovery(segments: string[], serverAddress: string): KObject | string | undefined {
  const p = "/" + segments.join("/");
  if (p === "/healthz" || p === "/livez" || p === "/readyz") return "ok";
  if (p === "/version") return VERSION_INFO;
  if (p === "/api") return { kind: "APIVersions", versions: ["v1"], serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }] };
  const groups = [...new Set(RESOURCE_TYPES.filter((r) => r.group).map((r) => r.group))];
  const groupInfo = (g: string) => {
    const versions = [...new Set(RESOURCE_TYPES.filter((r) => r.group === g).map((r) => r.version))].map((v) => ({ groupVersion: `${g}/${v}`, version: v }));
    return { name: g, versions, preferredVersion: versions[0] };
  };
  if (p === "/apis") return { kind: "APIGroupList", apiVersion: "v1", groups: groups.map(groupInfo) };
  if (segments[0] === "apis" && segments.length === 2 && groups.includes(segments[1]!)) return { kind: "APIGroup", apiVersion: "v1", ...groupInfo(segments[1]!) };
  const gv =
    segments[0] === "api" && segments.length === 2
      ? { g: "", v: segments[1]! }
      : segments[0] === "apis" && segments.length === 3
        ? { g: segments[1]!, v: segments[2]! }
        : undefined;
  if (!gv) return undefined;
  const rts = RESOURCE_TYPES.filter((r) => r.group === gv.g && r.version === gv.v);
  if (!rts.length) return undefined;
  const resources: KObject[] = [];
  for (const r of rts) {
    const e: KObject = { name: r.resource, singularName: r.singular, namespaced: r.namespaced, kind: r.kind, verbs: K8S_VERBS };
    if (r.shortNames) e.shortNames = r.shortNames;
    resources.push(e);
    if (r.statusSubresource) resources.push({ name: `${r.resource}/status`, singularName: "", namespaced: r.namespaced, kind: r.kind, verbs: ["get", "patch", "update"] });
  }
  return { kind: "APIResourceList", apiVersion: "v1", groupVersion: gv.g ? `${gv.g}/${gv.v}` : gv.v, resources };
}
