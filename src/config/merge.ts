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
import { assertRepresentable, ENV_NAME } from "./env-file.ts";
import { CONFIG_KEY } from "./secret-env.ts";

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
    // spec.env is plain text to anyone who can read Tenants. A user name is not
    // a secret, so only passwords are warned about; neither counts for the
    // credentials check, which reads the Secret alone (as the operator does).
    if (value && ROOT_PASSWORDS.includes(e.name)) {
      warnings.push(
        `${names.tenant}: ${field} (${e.name}): a password in spec.env is readable by anyone who can read the Tenant and does not count as root credentials; set it in ${names.secret} ${CONFIG_KEY}`,
      );
    }
    env.set(e.name, value);
  });

  for (const [name, value] of secretVars) {
    assertRepresentable(names.secret, `config.env ${name}`, value);
    env.set(name, value);
  }
  return { env, warnings };
}

const ROOT_USERS = ["MINIO_ROOT_USER", "MINIO_ACCESS_KEY"];
const ROOT_PASSWORDS = ["MINIO_ROOT_PASSWORD", "MINIO_SECRET_KEY"];
const firstSet = (vars: ReadonlyMap<string, string>, names: string[]) => names.map((n) => vars.get(n)).find((v) => !!v);

/**
 * Root credentials (SPEC 3.1): a user and a password, each non-empty, the
 * current name before the legacy one. Asked of the Secret's variables alone
 * for the "missing root credentials" check, and of the merged config (what
 * MinIO reads) by the bucket loop to sign its requests.
 */
export function rootCredentials(vars: ReadonlyMap<string, string>): { accessKeyId: string; secretAccessKey: string } | undefined {
  const accessKeyId = firstSet(vars, ROOT_USERS);
  const secretAccessKey = firstSet(vars, ROOT_PASSWORDS);
  return accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined;
}
