/**
 * `validate`, the init container: read the Tenant and its Secret, validate,
 * write the config file atomically, exit. Writes nothing when anything fails.
 *
 * Its retry policy lives here, not in kube/: transient failures (network,
 * 429, 5xx, no answer within 3 s) are retried with backoff for `retryForMs`,
 * then exit 3; answers that retrying cannot change (404, 403, 401) are
 * InputErrors naming the object, exit 1 at once.
 */
import type { Logger } from "pino";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { generateConfig } from "../config/generate.ts";
import { ClusterUnreachableError, InputError, describe } from "../errors.ts";
import { isTransient, statusOf, type Kube } from "../kube/client.ts";
import { objectPath, secretSource, tenantSource, type RawObject } from "../kube/sources.ts";
import { retry, type BackoffPolicy } from "../retry.ts";
import { validateTenant } from "../tenant/validate.ts";
import { loadKubeOrFail } from "./kube-setup.ts";

export interface ValidateOptions {
  tenant: string;
  namespace: string;
  kubeconfig?: string;
  configFile: string;
  clusterDomain: string;
  /** How long transient API failures are retried before exit 3. */
  retryForMs?: number;
}

/** One attempt that gets no answer within this time is a transient failure (Kubernetes' read SLO is 1 s at p99). */
const ATTEMPT_TIMEOUT_MS = 3_000;
const READ_BACKOFF: BackoffPolicy = { baseMs: 300, capMs: 3_000 };
export const DEFAULT_RETRY_FOR_MS = 20_000;

export async function validate(o: ValidateOptions, log: Logger): Promise<void> {
  const kube = loadKubeOrFail(o.kubeconfig);
  const read = (object: string, path: string) => readObject(kube, object, path, o.retryForMs ?? DEFAULT_RETRY_FOR_MS, log);
  const tenantObj = await read(`Tenant ${o.namespace}/${o.tenant}`, objectPath(tenantSource(o.namespace, o.tenant)));
  // Validate first: the Secret's name comes from spec.configuration.name.
  const secretName = validateTenant(tenantObj, o.namespace).spec.configuration!.name!;
  const secretObj = await read(`Secret ${o.namespace}/${secretName}`, objectPath(secretSource(o.namespace, secretName)));
  const generated = generateConfig({ tenant: tenantObj, secret: secretObj, namespace: o.namespace, clusterDomain: o.clusterDomain });
  for (const w of generated.warnings) log.warn(w);
  const written = await writeFileAtomic(o.configFile, generated.content);
  log.info({ tenant: o.tenant, namespace: o.namespace, secretName, configFile: o.configFile, written }, "configuration valid; config file ready");
}

async function readObject(kube: Kube, object: string, path: string, retryForMs: number, log: Logger): Promise<RawObject> {
  let attempts = 0;
  try {
    return await retry(
      () => {
        attempts++;
        return kube.request<RawObject>({ path, timeoutMs: ATTEMPT_TIMEOUT_MS });
      },
      {
        policy: READ_BACKOFF,
        retryForMs,
        retryable: isTransient,
        onRetry: (err, attempt, delay) =>
          log.warn({ object, attempt, retryInMs: Math.round(delay) }, `read failed, retrying: ${describe(err)}`),
      },
    );
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) throw new InputError(object, "", "not found");
    if (status === 403) throw new InputError(object, "", "forbidden: the service account may not read it (check the Role's resourceNames)");
    if (status === 401) throw new InputError(object, "", "unauthorized: the API server rejected the credentials");
    if (!isTransient(err)) throw new InputError(object, "", `cannot be read: ${describe(err)}`);
    throw new ClusterUnreachableError(`${object}: Kubernetes API unreachable after ${attempts} attempts: ${describe(err)}`);
  }
}
