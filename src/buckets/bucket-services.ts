/**
 * Bucket DNS: one ExternalName Service per bucket, named after the bucket
 * and owned (controller ownerReference) by the Tenant. Only Services we own
 * are ever changed or deleted: the Go sidecar deleted whatever Service had
 * the bucket's name, including the tenant's own `minio` Service.
 */
import type { V1Service } from "@kubernetes/client-node";
import { describe } from "../errors.ts";
import { statusOf, type Kube } from "../kube/client.ts";
import { minioServiceHost, tlsEnabled } from "../tenant/topology.ts";
import type { Tenant } from "../tenant/schema.ts";

/** DNS-1035 label: what a Service name must be. A bucket name with a dot can never be one. */
const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
export const isValidBucketServiceName = (b: string | undefined): b is string => !!b && b.length <= 63 && DNS1035.test(b);

/**
 * Service names a bucket may never take, existing or not (SPEC 6): the names
 * the MinIO Operator gives the Tenant's own Services (its
 * pkg/apis/minio.min.io/v2/names.go: MinIOCIServiceName, MinIOHLServiceName,
 * ConsoleCIServiceName, KESHLServiceName; and, in the v4 releases that still
 * run log search and Prometheus, LogHLServiceName, LogSearchAPIServiceName,
 * PrometheusServiceName, PrometheusHLServiceName) and `kubernetes`, the API
 * server's own Service name in the default namespace that some clients
 * resolve relative to theirs. A free one is not safe either: a MinIO user
 * allowed to create buckets could otherwise claim `<tenant>-kes-hl-svc` (the
 * KES endpoint in MINIO_KMS_KES_ENDPOINT) before the operator creates it and
 * point it at MinIO. docs/reference.md lists them.
 */
export function reservedServiceNames(tenant: string): ReadonlySet<string> {
  return new Set([
    "minio",
    "kubernetes",
    `${tenant}-hl`,
    `${tenant}-console`,
    `${tenant}-kes-hl-svc`,
    `${tenant}-log-hl-svc`,
    `${tenant}-log-search-api`,
    `${tenant}-prometheus`,
    `${tenant}-prometheus-hl-svc`,
  ]);
}

export const MANAGED_BY = { "app.kubernetes.io/managed-by": "minio-operator-sidecar" } as const;
export const TENANT_LABEL = "v1.min.io/tenant";
/** create → 409 → read → 404 rounds before a racing delete is reported as an API error. */
const ENSURE_ATTEMPTS = 3;

export type Outcome =
  | { status: 200; result: "created" | "exists" | "updated" | "deleted" | "absent" }
  | { status: 409; result: "conflict"; message: string }
  | { status: 502; result: "api-error"; message: string; /** the API's error (its status and Retry-After) */ cause?: unknown };

export interface Owner {
  name: string;
  uid: string;
  tenant: Tenant;
}

export class BucketServices {
  /**
   * uid of each bucket Service this process created or verified as ours. A
   * delete then goes straight to DELETE with a uid precondition (one API call
   * instead of GET + DELETE): the precondition still guarantees that only the
   * object we own is deleted; on a mismatch we fall back to checking it.
   */
  private readonly ownedUids = new Map<string, string>();
  /** PUT on services was refused (403) once: stale Services are replaced by delete + create from then on. */
  private updateForbidden = false;

  constructor(
    private readonly kube: Kube,
    private readonly namespace: string,
    private readonly clusterDomain: string,
    /** The watched Tenant (uid and TLS setting); undefined until it has been read. */
    private readonly owner: () => Owner | undefined,
  ) {}

  desired(bucket: string, owner: Owner): V1Service {
    const tls = tlsEnabled(owner.tenant);
    return {
      apiVersion: "v1",
      kind: "Service",
      metadata: {
        name: bucket,
        namespace: this.namespace,
        labels: { ...MANAGED_BY, [TENANT_LABEL]: owner.name },
        // No blockOwnerDeletion: with OwnerReferencesPermissionEnforcement
        // (OpenShift) setting it needs update on tenants/finalizers, which
        // neither Role grants, and a refused create makes MinIO delete the
        // bucket. Garbage collection follows the ownerReference without it
        // (docs/reference.md, "Bucket Services and OpenShift").
        ownerReferences: [{ apiVersion: "minio.min.io/v2", kind: "Tenant", name: owner.name, uid: owner.uid, controller: true }],
      },
      spec: {
        type: "ExternalName",
        externalName: minioServiceHost({ tenant: owner.name, namespace: this.namespace, clusterDomain: this.clusterDomain }),
        ports: [{ name: tls ? "https-minio" : "http-minio", port: tls ? 443 : 80, targetPort: 9000, protocol: "TCP" }],
      },
    };
  }

  /**
   * A bucket Service: ExternalName with a controller ownerReference to our Tenant. The type check
   * matters: the operator's own `minio`, `T-hl` and `T-console` Services carry the very same
   * controller ownerReference (the operator's `t.OwnerRef()`), but are never ExternalName.
   */
  isOurs(svc: V1Service, owner: Owner): boolean {
    return (
      svc.spec?.type === "ExternalName" &&
      (svc.metadata?.ownerReferences ?? []).some((r) => r.controller === true && r.kind === "Tenant" && r.uid === owner.uid)
    );
  }

  /**
   * Create the bucket's Service; idempotent; 409 when the name belongs to someone else.
   * A Service deleted between our create (409) and our read (404) is created again,
   * a bounded number of times: two actors racing create/delete must not recurse forever.
   */
  async ensure(bucket: string): Promise<Outcome> {
    const owner = this.owner();
    if (!owner) return { status: 502, result: "api-error", message: "Tenant not read yet" };
    if (reservedServiceNames(owner.name).has(bucket)) return reserved(bucket);
    const body = this.desired(bucket, owner);
    for (let attempt = 1; ; attempt++) {
      try {
        this.remember(bucket, await this.kube.request<V1Service>({ method: "POST", path: this.collection, body }));
        return { status: 200, result: "created" };
      } catch (err) {
        if (statusOf(err) !== 409) return apiError(err);
      }
      // It exists: ours (another caller won the race, or an earlier create) or someone else's.
      try {
        const existing = await this.read(bucket);
        if (!this.isOurs(existing, owner)) return conflict(bucket);
        this.remember(bucket, existing);
        if (sameSpec(existing, body)) return { status: 200, result: "exists" };
        await this.replace(bucket, existing, body);
        return { status: 200, result: "updated" };
      } catch (err) {
        if (statusOf(err) !== 404 || attempt >= ENSURE_ATTEMPTS) return apiError(err);
      }
    }
  }

  /** Ours but stale (e.g. TLS switched on), as read by the caller: bring it in line (see replace). */
  async bringInLine(bucket: string, existing: V1Service, owner: Owner): Promise<Outcome> {
    try {
      this.remember(bucket, existing);
      await this.replace(bucket, existing, this.desired(bucket, owner));
      return { status: 200, result: "updated" };
    } catch (err) {
      return apiError(err);
    }
  }

  /**
   * Bring our stale Service in line: PUT, or, where the Role has no `update`
   * on services (the MinIO Operator's own per-Tenant Role grants create,
   * delete and get only), delete exactly this object (uid and
   * resourceVersion preconditions: never one changed or recreated meanwhile)
   * and create it anew. The refused PUT is asked once per process, not on
   * every stale Service (each refusal is a 403 in the audit log).
   */
  private async replace(bucket: string, existing: V1Service, body: V1Service) {
    if (!this.updateForbidden) {
      try {
        await this.kube.request({
          method: "PUT",
          path: `${this.collection}/${bucket}`,
          body: { ...body, metadata: { ...body.metadata, resourceVersion: existing.metadata?.resourceVersion } },
        });
        return;
      } catch (err) {
        if (statusOf(err) !== 403) throw err;
        this.updateForbidden = true;
      }
    }
    const md = existing.metadata;
    await this.kube.request({ method: "DELETE", path: `${this.collection}/${bucket}`, body: { preconditions: { uid: md?.uid, resourceVersion: md?.resourceVersion } } });
    this.ownedUids.delete(bucket);
    this.remember(bucket, await this.kube.request<V1Service>({ method: "POST", path: this.collection, body }));
  }

  /** GET one Service by name. */
  read(name: string): Promise<V1Service> {
    return this.kube.request<V1Service>({ path: `${this.collection}/${name}` });
  }

  get collection(): string {
    return `/api/v1/namespaces/${this.namespace}/services`;
  }

  /** Delete the bucket's Service only when it is ours; absent is success. */
  async remove(bucket: string): Promise<Outcome> {
    const owner = this.owner();
    if (!owner) return { status: 502, result: "api-error", message: "Tenant not read yet" };
    if (reservedServiceNames(owner.name).has(bucket)) return reserved(bucket);
    const known = this.ownedUids.get(bucket);
    this.ownedUids.delete(bucket);
    if (known) {
      try {
        await this.deleteExactly(bucket, known);
        return { status: 200, result: "deleted" };
      } catch (err) {
        if (statusOf(err) === 404) return { status: 200, result: "absent" };
        // 409: the precondition failed, the object under that name is another one now; check it below.
        if (statusOf(err) !== 409) return apiError(err);
      }
    }
    try {
      const existing = await this.read(bucket);
      if (!this.isOurs(existing, owner)) return conflict(bucket);
      await this.deleteExactly(bucket, existing.metadata?.uid);
      return { status: 200, result: "deleted" };
    } catch (err) {
      if (statusOf(err) === 404) return { status: 200, result: "absent" };
      if (statusOf(err) === 409) return conflict(bucket);
      return apiError(err);
    }
  }

  private remember(bucket: string, svc: V1Service) {
    const uid = svc.metadata?.uid;
    if (uid) this.ownedUids.set(bucket, uid);
  }

  /** Preconditions: delete exactly the object we checked, never one recreated meanwhile by someone else. */
  private deleteExactly(bucket: string, uid: string | undefined) {
    return this.kube.request({ method: "DELETE", path: `${this.collection}/${bucket}`, body: { preconditions: { uid } } });
  }
}

/** Whether an existing Service already is what `desired()` would create (type, target, the one port). */
export function sameSpec(a: V1Service, b: V1Service): boolean {
  const pa = a.spec?.ports?.[0];
  const pb = b.spec?.ports?.[0];
  return (
    a.spec?.type === b.spec?.type &&
    a.spec?.externalName === b.spec?.externalName &&
    a.spec?.ports?.length === 1 &&
    pa?.name === pb?.name &&
    pa?.port === pb?.port &&
    String(pa?.targetPort) === String(pb?.targetPort)
  );
}

export const conflict = (bucket: string): Outcome => ({
  status: 409,
  result: "conflict",
  message: `bucket name conflict: Service ${bucket} exists and is not owned by this Tenant`,
});

const reserved = (bucket: string): Outcome => ({
  status: 409,
  result: "conflict",
  message: `bucket name conflict: ${bucket} is a Service name the MinIO Operator or Kubernetes uses in this namespace`,
});

const apiError = (err: unknown): Outcome => ({ status: 502, result: "api-error", message: `Kubernetes API: ${describe(err)}`, cause: err });
