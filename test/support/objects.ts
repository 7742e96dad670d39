/** Builders for Tenant and Secret objects used across tests. */
import { Buffer } from "node:buffer";

export const NS = "minio-tenant";
export const PASSWORD = "s3cr3t-Pa55word!";

/** `namespace: null` leaves metadata.namespace out. */
export function tenant(spec: Record<string, unknown> = {}, name = "myminio", namespace: string | null = NS) {
  return {
    apiVersion: "minio.min.io/v2",
    kind: "Tenant",
    metadata: { name, ...(namespace ? { namespace } : {}) },
    spec: {
      configuration: { name: "myminio-env-configuration" },
      pools: [pool({ name: "pool-0", servers: 4, volumesPerServer: 4 })],
      ...spec,
    },
  };
}

export function pool(p: Record<string, unknown> = {}) {
  return {
    servers: 4,
    volumesPerServer: 2,
    volumeClaimTemplate: {
      metadata: { name: "data" },
      spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Ti" } } },
    },
    ...p,
  };
}

export const CREDENTIALS = `export MINIO_ROOT_USER="minio"\nexport MINIO_ROOT_PASSWORD="${PASSWORD}"\n`;

/** A Secret as the API server returns it: base64 `data`; `configEnv: null` leaves the key out. */
export function secret(configEnv: string | null = CREDENTIALS, name = "myminio-env-configuration", namespace = NS) {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace },
    type: "Opaque",
    data: configEnv === null ? {} : { "config.env": Buffer.from(configEnv).toString("base64") },
  };
}
