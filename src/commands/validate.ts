/**
 * `validate`, the init container: read the Tenant and its Secret, validate,
 * write the config file atomically, exit. Writes nothing when anything fails.
 *
 * Its retry policy lives here, not in kube/: transient failures (network,
 * 429, 5xx, no answer within 3 s) are retried with backoff until one deadline
 * for both reads (`--retry-for`), then exit 3 naming the API server and the
 * cause; answers that retrying cannot change (404, 403, 401) are InputErrors
 * naming the object, exit 1 at once; a certificate the client refuses is
 * exit 3 at once (retrying for a minute would only delay the one line that
 * explains it).
 */
import type { Logger } from "pino";
import { ClusterUnreachableError, describe, InputError } from "../errors.ts";
import { isTransient, loadKube, retryAfterOf, statusOf, type Kube } from "../kube/client.ts";
import { objectPath, secretSource, tenantSource, type RawObject } from "../kube/sources.ts";
import { retry, type BackoffPolicy } from "../retry.ts";

/**
 * Validation, generation and the file write, imported once the first read
 * is on the wire: evaluating them then overlaps the TLS handshake instead of
 * preceding it (issue 11: ~1.5 ms of every pod start, when TypeBox was still
 * among them; it now loads only for an invalid object).
 * One chain, not Promise.all: concurrent chunk loads once crashed the
 * compiled binary (see main.ts).
 */
const loadSteps = async () => {
  const { generateConfig } = await import("../config/generate.ts");
  const { validateTenant } = await import("../tenant/validate.ts");
  const { writeFileAtomic } = await import("../config/atomic-write.ts");
  return { generateConfig, validateTenant, writeFileAtomic };
};

export interface ValidateOptions {
  tenant: string;
  namespace: string;
  kubeconfig?: string;
  configFile: string;
  clusterDomain: string;
  /** How long transient API failures are retried before exit 3. */
  retryForMs: number;
}

/** One attempt that gets no answer within this time is a transient failure (Kubernetes' read SLO is 1 s at p99). */
const ATTEMPT_TIMEOUT_MS = 3_000;
/**
 * Shorter than the watches' API_BACKOFF on purpose: `validate` is one pod's
 * init container with its own budget (--retry-for, a minute by default), and
 * a pod does not start until it succeeds; 0.3 s doubling to 3 s tries about
 * 25 times in that minute. It is still jittered, and a 429/503's Retry-After
 * is a floor under each wait (one past the budget ends the run at once), so
 * a server shedding load is not retried sooner than it asked.
 */
const READ_BACKOFF: BackoffPolicy = { baseMs: 300, capMs: 3_000 };
/** How long a failing validate may spend reporting its Event before it exits. */
const EVENT_BUDGET_MS = 5_000;

export async function validate(o: ValidateOptions, log: Logger): Promise<void> {
  const kube = loadKube(o.kubeconfig, "validate");
  const deadline = Date.now() + o.retryForMs;
  const read = (object: string, path: string) => readObject(kube, object, path, deadline, log);
  let tenantObj: RawObject | undefined;
  try {
    const tenantRead = read(`Tenant ${o.namespace}/${o.tenant}`, objectPath(tenantSource(o.namespace, o.tenant)));
    const steps = loadSteps();
    steps.catch(() => {}); // awaited below; a failure meanwhile is not an unhandled rejection
    tenantObj = await tenantRead;
    const { generateConfig, validateTenant, writeFileAtomic } = await steps;
    // Validate first: the Secret's name comes from spec.configuration.name.
    const secretName = (await validateTenant(tenantObj, o.namespace)).spec.configuration!.name!;
    const secretObj = await read(`Secret ${o.namespace}/${secretName}`, objectPath(secretSource(o.namespace, secretName)));
    const generated = await generateConfig({ tenant: tenantObj, secret: secretObj, namespace: o.namespace, clusterDomain: o.clusterDomain });
    for (const w of generated.warnings) log.warn(w);
    // Blocking fsyncs: nothing else runs in this process meanwhile (atomic-write.ts says why).
    const written = await writeFileAtomic(o.configFile, generated.content, { blockingFsync: true });
    log.info({ tenant: o.tenant, namespace: o.namespace, secretName, configFile: o.configFile, written }, "configuration valid; config file ready");
  } catch (err) {
    await reportFailure(kube, tenantObj, o.namespace, err, log);
    throw err;
  }
}

/**
 * A certificate the client refuses is a configuration error, not an outage.
 */
export function isTlsVerificationError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const text = `${typeof code === "string" ? code : ""} ${err instanceof Error ? err.message : ""}`;
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|unable to verify|self[- ]signed certificate|certificate/i.test(text);
}

async function readObject(kube: Kube, object: string, path: string, deadline: number, log: Logger): Promise<RawObject> {
  const started = Date.now();
  let attempts = 0;
  try {
    return await retry(
      () => {
        attempts++;
        // The last attempt gets what is left of the budget (at least 1 s), so --retry-for bounds the run.
        return kube.request<RawObject>({ path, timeoutMs: Math.min(ATTEMPT_TIMEOUT_MS, Math.max(1_000, deadline - Date.now())) });
      },
      {
        policy: READ_BACKOFF,
        deadline,
        retryable: (err) => isTransient(err) && !(statusOf(err) === undefined && isTlsVerificationError(err)),
        retryAfterMs: retryAfterOf,
        onRetry: (err, attempt, delay) => log.warn({ object, attempt, retryInMs: Math.round(delay) }, `read failed, retrying: ${describe(err)}`),
      },
    );
  } catch (err) {
    const status = statusOf(err);
    if (status === 404) throw new InputError(object, "", "not found", 404);
    if (status === 403) throw new InputError(object, "", "forbidden: the service account may not read it (check the Role's resourceNames)", 403);
    if (status === 401) throw new InputError(object, "", "unauthorized: the API server rejected the credentials", 401);
    if (!isTransient(err)) throw new InputError(object, "", `cannot be read: ${describe(err)}`);
    const api = `Kubernetes API${kube.server ? ` ${kube.server}` : ""}`;
    if (status === undefined && isTlsVerificationError(err)) throw new ClusterUnreachableError(`${object}: ${api}: TLS verification failed: ${describe(err)}`);
    const secs = ((Date.now() - started) / 1000).toFixed(1);
    throw new ClusterUnreachableError(`${object}: ${api} unreachable after ${attempts} attempt${attempts === 1 ? "" : "s"} in ${secs} s: ${describe(err)}`);
  }
}

/**
 * Invalid input is also an Event regarding the Tenant, so `kubectl describe
 * tenant` says why the pods sit in Init:CrashLoopBackOff. Only once the
 * Tenant was read (an Event needs its uid), never for an unreachable API
 * (exit 3: it would only wait again), and never delaying the exit by more
 * than a few seconds.
 */
async function reportFailure(kube: Kube, tenantObj: RawObject | undefined, namespace: string, err: unknown, log: Logger) {
  if (!(err instanceof InputError)) return;
  const { ACTIONS, EventRecorder, REASONS, tenantRegarding } = await import("../kube/events.ts"); // only a failed run reports
  const regarding = tenantRegarding(tenantObj, namespace);
  if (!regarding) return;
  const secret = err.object.startsWith("Secret ");
  const reason = secret && err.status === 404 ? REASONS.SecretNotFound : secret && err.status === 403 ? REASONS.SecretForbidden : REASONS.ConfigInvalid;
  const events = new EventRecorder({ kube, log, requestTimeoutMs: 3_000 });
  events.report(regarding, "Warning", reason, `validate failed: ${err.message}`, ACTIONS.Validate);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([events.flush(), new Promise((r) => (timer = setTimeout(r, EVENT_BUDGET_MS)))]);
  clearTimeout(timer);
}
