/**
 * A Tenant pod as the MinIO Operator's StatefulSet template builds it
 * (pkg/resources/statefulsets/minio-statefulset.go of minio/operator, read
 * for facts only: the operator is AGPL and none of its code is used here):
 *
 * - init container `validate-arguments`: the sidecar image, args
 *   `validate --tenant T`, env CLUSTER_DOMAIN, mounts `cfg-vol` at
 *   /tmp/minio/ and, as the Tenant names a configuration Secret, the
 *   projected volume `configuration` at /tmp/minio-config;
 * - container `minio` (here the stand-in, test/node/stand-in-minio.ts): env
 *   MINIO_CONFIG_ENV_FILE=/tmp/minio/config.env, ports 9000 and the console,
 *   `cfg-vol` (its data volumes come from PersistentVolumeClaims, which a
 *   node without a controller manager cannot bind: left out);
 * - container `sidecar`: args `sidecar --tenant T --config-name S`, env
 *   CLUSTER_DOMAIN, the same two mounts, and the readiness probe
 *   `httpGet /ready` on 4444, initialDelaySeconds 5, periodSeconds 1,
 *   failureThreshold 1 (no liveness probe);
 * - the pool's default security context: pod runAsNonRoot, runAsUser and
 *   runAsGroup 1000, fsGroup 1000 with OnRootMismatch; every container
 *   runAsNonRoot, runAsUser and runAsGroup 1000;
 * - restartPolicy Always, the default termination grace period (30 s),
 *   serviceAccountName from the Tenant (the operator's default `T-sa`).
 *
 * Differences a test node needs: `nodeName` (no scheduler) and
 * `hostNetwork` (no CNI plugin), and imagePullPolicy IfNotPresent, since the
 * images are imported, not pulled.
 */
import { operatorRole } from "../support/backend.ts";

export interface OperatorPodOptions {
  name: string;
  namespace: string;
  tenant: string;
  configName: string;
  serviceAccount: string;
  sidecarImage: string;
  /** The stand-in MinIO image; null leaves the MinIO container out. */
  minioImage: string | null;
  nodeName: string;
  clusterDomain?: string;
}

export function operatorPod(o: OperatorPodOptions): Record<string, any> {
  const env = [{ name: "CLUSTER_DOMAIN", value: o.clusterDomain ?? "cluster.local" }];
  const cfgMount = { name: "cfg-vol", mountPath: "/tmp/minio/" };
  const configurationMount = { name: "configuration", mountPath: "/tmp/minio-config" };
  const securityContext = { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000 };
  const containers: Record<string, any>[] = [];
  if (o.minioImage) {
    containers.push({
      name: "minio",
      image: o.minioImage,
      imagePullPolicy: "IfNotPresent",
      args: ["server", "--certs-dir", "/tmp/certs", "--console-address", ":9090"],
      ports: [
        { name: "http-minio", containerPort: 9000 },
        { name: "http-console", containerPort: 9090 },
      ],
      env: [{ name: "MINIO_CONFIG_ENV_FILE", value: "/tmp/minio/config.env" }],
      volumeMounts: [cfgMount],
      securityContext,
    });
  }
  containers.push({
    name: "sidecar",
    image: o.sidecarImage,
    imagePullPolicy: "IfNotPresent",
    args: ["sidecar", "--tenant", o.tenant, "--config-name", o.configName],
    env,
    volumeMounts: [cfgMount, configurationMount],
    securityContext,
    readinessProbe: {
      httpGet: { path: "/ready", port: 4444, scheme: "HTTP" },
      initialDelaySeconds: 5,
      periodSeconds: 1,
      failureThreshold: 1,
    },
  });
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: o.name,
      namespace: o.namespace,
      labels: { "v1.min.io/tenant": o.tenant, "v1.min.io/pool": "pool-0" },
    },
    spec: {
      nodeName: o.nodeName,
      hostNetwork: true,
      serviceAccountName: o.serviceAccount,
      restartPolicy: "Always",
      securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, fsGroupChangePolicy: "OnRootMismatch" },
      initContainers: [
        {
          name: "validate-arguments",
          image: o.sidecarImage,
          imagePullPolicy: "IfNotPresent",
          args: ["validate", "--tenant", o.tenant],
          env,
          volumeMounts: [cfgMount, configurationMount],
          securityContext,
        },
      ],
      containers,
      volumes: [
        { name: "cfg-vol", emptyDir: {} },
        { name: "configuration", projected: { sources: [{ secret: { name: o.configName } }] } },
      ],
    },
  };
}

/**
 * The Role the operator binds to every Tenant's ServiceAccount (`T-role`,
 * pkg/controller/service-account.go, facts only): get/list/watch on every
 * Secret and Tenant of the namespace, create/delete/get on Services (the
 * rules of test/fixtures/operator-per-tenant-role.yaml).
 */
export function operatorTenantRbac(tenant: string, namespace: string, serviceAccount = `${tenant}-sa`): Record<string, any>[] {
  return [
    { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: serviceAccount, namespace } },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: `${tenant}-role`, namespace },
      rules: operatorRole().rules,
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: { name: `${tenant}-binding`, namespace },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: `${tenant}-role` },
      subjects: [{ kind: "ServiceAccount", name: serviceAccount, namespace }],
    },
  ];
}
