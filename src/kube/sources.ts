/**
 * The two objects the sidecar reads, as ObjectSources for ObjectWatch and as
 * plain reads for `validate`. Every LIST carries the name field selector, so
 * a Role restricted with resourceNames is enough (SPEC 4).
 */
import type { V1Secret } from "@kubernetes/client-node";
import { TENANTS, type Kube } from "./client.ts";
import type { KubeObject, ObjectSource } from "./object-watch.ts";

export type RawObject = KubeObject & Record<string, unknown>;

export function tenantSource(kube: Kube, namespace: string, name: string): ObjectSource<RawObject> {
  return {
    kind: "Tenant",
    name,
    namespace,
    path: `/apis/${TENANTS.group}/${TENANTS.version}/namespaces/${namespace}/${TENANTS.plural}`,
    async list(fieldSelector) {
      const list = (await kube.custom.listNamespacedCustomObject({ ...TENANTS, namespace, fieldSelector })) as {
        items?: RawObject[];
        metadata?: { resourceVersion?: string };
      };
      return { object: list.items?.[0], resourceVersion: list.metadata?.resourceVersion ?? "0" };
    },
  };
}

export function secretSource(kube: Kube, namespace: string, name: string): ObjectSource<RawObject> {
  return {
    kind: "Secret",
    name,
    namespace,
    path: `/api/v1/namespaces/${namespace}/secrets`,
    async list(fieldSelector) {
      const list = await kube.core.listNamespacedSecret({ namespace, fieldSelector });
      return { object: list.items[0] as (V1Secret & RawObject) | undefined, resourceVersion: list.metadata?.resourceVersion ?? "0" };
    },
  };
}
