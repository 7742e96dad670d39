/**
 * Tenant + Secret -> the config file: the one function `render`, `validate`
 * and the sidecar share, so the three can never disagree.
 */
import { InputError, objectRef } from "../errors.ts";
import type { Tenant } from "../tenant/schema.ts";
import { validateTenant } from "../tenant/validate.ts";
import { renderEnvFile } from "./env-file.ts";
import { mergeEnv, rootCredentials } from "./merge.ts";
import { configEnvText, parseConfigEnv, parseSecret, CONFIG_KEY } from "./secret-env.ts";

export interface GenerateInput {
  tenant: unknown;
  secret: unknown;
  /** Used when the Tenant has no metadata.namespace. */
  namespace: string;
  clusterDomain: string;
}

export interface Generated {
  tenant: Tenant;
  content: string;
  env: Map<string, string>;
  /** Problems that do not stop generation; they name lines and fields, never values. */
  warnings: string[];
}

export async function generateConfig(input: GenerateInput): Promise<Generated> {
  const tenant = await validateTenant(input.tenant, input.namespace);
  const namespace = tenant.metadata.namespace || input.namespace;
  const tenantName = `Tenant ${namespace}/${tenant.metadata.name ?? "?"}`;
  if (!tenant.metadata.name) throw new InputError(tenantName, "metadata.name", "is required");

  const secretName = objectRef("Secret", input.secret, namespace);
  const secret = await parseSecret(input.secret, secretName);
  const parsed = parseConfigEnv(configEnvText(secret, secretName));
  const warnings = parsed.skippedLines.map(
    (n) => `${secretName}: ${CONFIG_KEY} line ${n}: not NAME=VALUE, skipped`,
  );

  const place = { tenant: tenant.metadata.name, namespace, clusterDomain: input.clusterDomain };
  const merged = mergeEnv(tenant, place, parsed.vars, { tenant: tenantName, secret: secretName });
  // The Secret's own variables, not the merge: credentials in spec.env would be
  // plain text in the Tenant, so the operator does not accept them either.
  if (!rootCredentials(parsed.vars)) {
    throw new InputError(
      secretName,
      CONFIG_KEY,
      "missing root credentials (set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD to non-empty values in the Secret; spec.env does not count)",
    );
  }
  const content = renderEnvFile(merged.env, secretName);
  return { tenant, content, env: merged.env, warnings: [...warnings, ...merged.warnings] };
}
