/**
 * The merge of SPEC 3.2 (same result as the Go operator): operator defaults,
 * then the Tenant's `spec.env`, then every variable of the Secret.
 */
import { InputError } from "../errors.ts";
import type { Tenant } from "../tenant/schema.ts";
import {
  minioArgs,
  minioDomainHosts,
  minioServiceHost,
  withScheme,
  tlsEnabled,
  type Place,
} from "../tenant/topology.ts";
import { assertRepresentable } from "./env-file.ts";
import { ENV_NAME } from "./secret-env.ts";

export const MINISIGN_PUBKEY = "RWTx5Zr1tiHQLwG9keckT0c45M3AGeHD6IvimQHpyRywVWGbP1aVSGav";
export const WEBHOOK_BASE = "http://127.0.0.1:4222/webhook/v1/bucketsrv";
const KES_CERTS = "/tmp/certs";

export function defaultEnv(t: Tenant, p: Place): Map<string, string> {
  const env = new Map<string, string>();
  const { tenant: T, namespace: NS, clusterDomain: CD } = p;
  const tls = tlsEnabled(t);
  const features = t.spec.features;

  env.set("MINIO_UPDATE", "on");
  env.set("MINIO_UPDATE_MINISIGN_PUBKEY", MINISIGN_PUBKEY);
  env.set("MINIO_PROMETHEUS_JOB_ID", t.spec.prometheusOperator ? `${T}-${NS}-minio-job` : "minio-job");
  if (t.spec.pools?.some((pool) => pool.runtimeClassName === "crun")) env.set("HOME", "/");

  const domains: string[] = [];
  if (features?.bucketDNS) {
    env.set("MINIO_DNS_WEBHOOK_ENDPOINT", `${WEBHOOK_BASE}/${NS}/${T}`);
    domains.push(`${NS}.svc.${CD}`);
  }
  domains.push(...minioDomainHosts(t));
  if (domains.length) env.set("MINIO_DOMAIN", domains.join(","));

  const firstDomain = features?.domains?.minio?.[0];
  env.set(
    "MINIO_SERVER_URL",
    firstDomain ? withScheme(t, firstDomain) : tls ? `https://${minioServiceHost(p)}:443` : `http://${minioServiceHost(p)}:80`,
  );
  const consoleDomain = features?.domains?.console;
  if (consoleDomain) env.set("MINIO_BROWSER_REDIRECT_URL", withScheme(t, consoleDomain));

  if (t.spec.kes) {
    env.set("MINIO_KMS_KES_ENDPOINT", `https://${T}-kes-hl-svc.${NS}.svc.${CD}:7373`);
    env.set("MINIO_KMS_KES_CERT_FILE", `${KES_CERTS}/client.crt`);
    env.set("MINIO_KMS_KES_KEY_FILE", `${KES_CERTS}/client.key`);
    env.set("MINIO_KMS_KES_CA_PATH", `${KES_CERTS}/CAs/kes.crt`);
    env.set("MINIO_KMS_KES_CAPATH", `${KES_CERTS}/CAs/kes.crt`);
    env.set("MINIO_KMS_KES_KEY_NAME", t.spec.kes.keyName || "my-minio-key");
  }
  env.set("MINIO_ARGS", minioArgs(t, p));
  return env;
}

export interface MergeResult {
  env: Map<string, string>;
  warnings: string[];
}

/** Defaults, then spec.env, then the Secret's variables. Each value is checked where it comes from. */
export function mergeEnv(
  t: Tenant,
  p: Place,
  secretVars: ReadonlyMap<string, string>,
  names: { tenant: string; secret: string },
): MergeResult {
  const env = defaultEnv(t, p);
  const warnings: string[] = [];

  (t.spec.env ?? []).forEach((e, i) => {
    const field = `spec.env[${i}]`;
    if (!ENV_NAME.test(e.name)) throw new InputError(names.tenant, `${field}.name`, "is not a valid environment variable name");
    if (e.value === undefined && e.valueFrom !== undefined) {
      warnings.push(`${names.tenant}: ${field} (${e.name}): valueFrom cannot be resolved by the sidecar, skipped`);
      return;
    }
    const value = e.value ?? "";
    assertRepresentable(names.tenant, `${field} (${e.name})`, value);
    env.set(e.name, value);
  });

  for (const [name, value] of secretVars) {
    assertRepresentable(names.secret, `config.env ${name}`, value);
    env.set(name, value);
  }
  return { env, warnings };
}

const has = (env: ReadonlyMap<string, string>, ...names: string[]) => names.some((n) => !!env.get(n));

/** Root credentials: a user and a password, each non-empty (SPEC 3.1). */
export function hasRootCredentials(env: ReadonlyMap<string, string>): boolean {
  return has(env, "MINIO_ROOT_USER", "MINIO_ACCESS_KEY") && has(env, "MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY");
}

export function rootCredentials(env: ReadonlyMap<string, string>): { accessKeyId: string; secretAccessKey: string } | undefined {
  if (!hasRootCredentials(env)) return undefined;
  return {
    accessKeyId: env.get("MINIO_ROOT_USER") || env.get("MINIO_ACCESS_KEY") || "",
    secretAccessKey: env.get("MINIO_ROOT_PASSWORD") || env.get("MINIO_SECRET_KEY") || "",
  };
}
