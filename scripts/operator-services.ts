/**
 * The Services the MinIO Operator creates for every Tenant (`minio`,
 * `<tenant>-hl`, `<tenant>-console`), with the controller ownerReference to
 * the Tenant that the operator sets. A fake cluster without them would hide
 * the webhook's most important refusal: a bucket named `minio` must get 409,
 * never a takeover of the Tenant's own Service.
 */
import type { KObject } from "../test/fake-apiserver/index.ts";

export function operatorServices(tenant: KObject, tls: boolean): KObject[] {
  const { name, namespace, uid } = tenant.metadata as { name: string; namespace: string; uid: string };
  const port = tls ? { name: "https-minio", port: 443 } : { name: "http-minio", port: 80 };
  const service = (svcName: string, spec: KObject): KObject => ({
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: svcName,
      namespace,
      labels: { "v1.min.io/tenant": name },
      ownerReferences: [{ apiVersion: "minio.min.io/v2", kind: "Tenant", name, uid, controller: true, blockOwnerDeletion: true }],
    },
    spec: { type: "ClusterIP", selector: { "v1.min.io/tenant": name }, ...spec },
  });
  return [
    service("minio", { ports: [{ ...port, targetPort: 9000, protocol: "TCP" }] }),
    service(`${name}-hl`, { clusterIP: "None", ports: [{ name: port.name, port: 9000, targetPort: 9000, protocol: "TCP" }] }),
    service(`${name}-console`, { ports: [{ name: tls ? "https-console" : "http-console", port: tls ? 9443 : 9090, targetPort: tls ? 9443 : 9090, protocol: "TCP" }] }),
  ];
}

/** TLS as the operator decides it (SPEC 3.2): requestAutoCert absent or true, or external certificates. */
export function tenantUsesTls(tenant: KObject): boolean {
  const spec = (tenant.spec ?? {}) as { requestAutoCert?: boolean; externalCertSecret?: unknown[] };
  return spec.requestAutoCert !== false || (Array.isArray(spec.externalCertSecret) && spec.externalCertSecret.length > 0);
}
