/**
 * TypeBox schemas for the parts of a `minio.min.io/v2` Tenant and a `v1`
 * Secret that the sidecar reads. Checks run through their compiled form
 * (./schema-checks.generated.ts, `npm run generate` after any change here);
 * this module itself is loaded only to word a failure (./validate.ts). Field names and types follow the upstream
 * CRD (resources/base/crds/minio.min.io_tenants.yaml). Objects are open
 * (`additionalProperties` allowed) because real Tenants carry dozens of
 * fields we never read; only the fields we read are typed, so a wrong type
 * there is rejected with its JSON path.
 */
// The builders by name (a namespace import the bundler can tree-shake), not TypeBox's `Type`
// object, which carries every builder: evaluating all of them cost a compiled `render` ~0.5 ms.
import * as Type from "@sinclair/typebox";
import type { Static, TSchema, TProperties } from "@sinclair/typebox";

/** An open object: unknown fields are accepted. */
const Obj = <T extends TProperties>(props: T) => Type.Object(props, { additionalProperties: true });
const Opt = <T extends TSchema>(s: T) => Type.Optional(s);

/** Kubernetes quantities arrive as strings ("1Ti") or plain numbers (1e12). */
const Quantity = Type.Union([Type.String(), Type.Number()]);

const ObjectMeta = Obj({
  name: Opt(Type.String()),
  namespace: Opt(Type.String()),
  uid: Opt(Type.String()),
  resourceVersion: Opt(Type.String()),
});

const EnvVar = Obj({
  name: Type.String(),
  value: Opt(Type.String()),
  valueFrom: Opt(Type.Unknown()),
});

const VolumeClaimTemplate = Obj({
  metadata: Opt(ObjectMeta),
  spec: Opt(
    Obj({
      accessModes: Opt(Type.Array(Type.String())),
      resources: Opt(Obj({ requests: Opt(Type.Record(Type.String(), Quantity)) })),
      storageClassName: Opt(Type.String()),
    }),
  ),
});

export const Pool = Obj({
  name: Opt(Type.String()),
  servers: Type.Integer(),
  volumesPerServer: Type.Integer(),
  volumeClaimTemplate: Opt(VolumeClaimTemplate),
  runtimeClassName: Opt(Type.String()),
});

const Kes = Obj({
  keyName: Opt(Type.String()),
  gcpCredentialSecretName: Opt(Type.String()),
  gcpWorkloadIdentityPool: Opt(Type.String()),
});

const TenantSpec = Obj({
  pools: Opt(Type.Array(Pool)),
  env: Opt(Type.Array(EnvVar)),
  configuration: Opt(Obj({ name: Opt(Type.String()) })),
  features: Opt(
    Obj({
      bucketDNS: Opt(Type.Boolean()),
      domains: Opt(Obj({ minio: Opt(Type.Array(Type.String())), console: Opt(Type.String()) })),
    }),
  ),
  requestAutoCert: Opt(Type.Boolean()),
  externalCertSecret: Opt(Type.Array(Obj({ name: Type.String(), type: Opt(Type.String()) }))),
  kes: Opt(Kes),
  mountPath: Opt(Type.String()),
  subPath: Opt(Type.String()),
  prometheusOperator: Opt(Type.Boolean()),
});

export const Tenant = Obj({
  apiVersion: Opt(Type.String()),
  kind: Opt(Type.String()),
  metadata: ObjectMeta,
  spec: TenantSpec,
});

export type Tenant = Static<typeof Tenant>;

/** The parts of a v1 Secret we read; unknown fields are accepted. */
export const Secret = Obj({
  apiVersion: Opt(Type.String()),
  kind: Opt(Type.String()),
  metadata: ObjectMeta,
  /** base64 values, as the API server returns them */
  data: Opt(Type.Record(Type.String(), Type.String())),
  /** plain values, only in manifests given to `render` */
  stringData: Opt(Type.Record(Type.String(), Type.String())),
});
export type Secret = Static<typeof Secret>;
export type Pool = Static<typeof Pool>;
