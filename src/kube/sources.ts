/**
 * The two objects the sidecar and `validate` read, by collection path. Every
 * LIST and WATCH of them carries the name field selector, and every GET names
 * them, so a Role restricted with resourceNames is enough (SPEC 4).
 */
import { TENANTS_PATH } from "./client.ts";
import type { KubeObject, ObjectSource } from "./object-watch.ts";

export type RawObject = KubeObject & Record<string, unknown>;

export const tenantSource = (namespace: string, name: string): ObjectSource => ({
  kind: "Tenant",
  name,
  path: `${TENANTS_PATH}/namespaces/${namespace}/tenants`,
});

export const secretSource = (namespace: string, name: string): ObjectSource => ({
  kind: "Secret",
  name,
  path: `/api/v1/namespaces/${namespace}/secrets`,
});

/** GET path of one object of a source. */
export const objectPath = (s: ObjectSource) => `${s.path}/${encodeURIComponent(s.name)}`;
