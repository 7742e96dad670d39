/**
 * `validate`, the init container: read the Tenant and its Secret, validate,
 * write the config file atomically, exit. Writes nothing when anything fails.
 */
import type { Logger } from "pino";
import { writeFileAtomic } from "../config/atomic-write.ts";
import { generateConfig } from "../config/generate.ts";
import { InputError } from "../errors.ts";
import { ACTIONS, EventRecorder, REASONS, tenantRegarding } from "../kube/events.ts";
import { eventsRequest, loadKubeOrFail } from "./kube-setup.ts";
import { getSecret, getTenant, readWithRetry, retryFor } from "../kube/read.ts";
import type { RawObject } from "../kube/sources.ts";
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

/** How long a failing validate may spend reporting its Event before it exits. */
const EVENT_BUDGET_MS = 5_000;

export async function validate(o: ValidateOptions, log: Logger): Promise<void> {
  const kube = loadKubeOrFail(o.kubeconfig);
  const retry = retryFor(o.retryForMs, kube.config.getCurrentCluster()?.server);
  let tenantObj: RawObject | undefined;
  try {
    tenantObj = await readWithRetry(`Tenant ${o.namespace}/${o.tenant}`, () => getTenant(kube, o.namespace, o.tenant), log, retry);
    // Validate first: the Secret's name comes from spec.configuration.name.
    const secretName = validateTenant(tenantObj, o.namespace).spec.configuration!.name!;
    const secretObj = await readWithRetry(`Secret ${o.namespace}/${secretName}`, () => getSecret(kube, o.namespace, secretName), log, retry);
    const generated = generateConfig({ tenant: tenantObj, secret: secretObj, namespace: o.namespace, clusterDomain: o.clusterDomain });
    for (const w of generated.warnings) log.warn(w);
    const written = await writeFileAtomic(o.configFile, generated.content);
    log.info({ tenant: o.tenant, namespace: o.namespace, secretName, configFile: o.configFile, written }, "configuration valid; config file ready");
  } catch (err) {
    await reportFailure(kube, tenantObj, o.namespace, err, log);
    throw err;
  }
}

/**
 * Invalid input is also an Event regarding the Tenant, so `kubectl describe
 * tenant` says why the pods sit in Init:CrashLoopBackOff. Only once the
 * Tenant was read (an Event needs its uid), never for an unreachable API
 * (exit 3: it would only wait again), and never delaying the exit by more
 * than a few seconds.
 */
async function reportFailure(kube: ReturnType<typeof loadKubeOrFail>, tenantObj: RawObject | undefined, namespace: string, err: unknown, log: Logger) {
  const regarding = tenantRegarding(tenantObj, namespace);
  if (!regarding || !(err instanceof InputError)) return;
  const secret = err.object.startsWith("Secret ");
  const reason = secret && err.status === 404 ? REASONS.SecretNotFound : secret && err.status === 403 ? REASONS.SecretForbidden : REASONS.ConfigInvalid;
  const events = new EventRecorder({ request: eventsRequest(kube), log, requestTimeoutMs: 3_000 });
  events.report(regarding, "Warning", reason, `validate failed: ${err.message}`, ACTIONS.Validate);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([events.flush(), new Promise((r) => (timer = setTimeout(r, EVENT_BUDGET_MS)))]);
  clearTimeout(timer);
}
