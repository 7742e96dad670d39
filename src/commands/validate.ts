/**
 * `validate`, the init container: read the Tenant and its Secret, validate,
 * write the config file atomically, exit. Writes nothing when anything fails.
 */
import type { Logger } from "pino";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { generateConfig } from "../config/generate.ts";
import { loadKubeOrFail } from "./kube-setup.ts";
import { getSecret, getTenant, readWithRetry, retryFor } from "../kube/read.ts";
import { validateTenant } from "../tenant/validate.ts";

export interface ValidateOptions {
  tenant: string;
  namespace: string;
  kubeconfig?: string;
  configFile: string;
  clusterDomain: string;
  /** How long transient API failures are retried before exit 3. */
  retryForMs: number;
}

export async function validate(o: ValidateOptions, log: Logger): Promise<void> {
  const kube = loadKubeOrFail(o.kubeconfig);
  const retry = retryFor(o.retryForMs, kube.config.getCurrentCluster()?.server);
  const tenantObj = await readWithRetry(`Tenant ${o.namespace}/${o.tenant}`, () => getTenant(kube, o.namespace, o.tenant), log, retry);
  // Validate first: the Secret's name comes from spec.configuration.name.
  const secretName = validateTenant(tenantObj, o.namespace).spec.configuration!.name!;
  const secretObj = await readWithRetry(`Secret ${o.namespace}/${secretName}`, () => getSecret(kube, o.namespace, secretName), log, retry);
  const generated = generateConfig({ tenant: tenantObj, secret: secretObj, namespace: o.namespace, clusterDomain: o.clusterDomain });
  for (const w of generated.warnings) log.warn(w);
  const written = await writeFileAtomic(o.configFile, generated.content);
  log.info({ tenant: o.tenant, namespace: o.namespace, secretName, configFile: o.configFile, written }, "configuration valid; config file ready");
}
