/**
 * One-shot reads for `validate`: GET the Tenant and the Secret by name,
 * retrying transient failures (network, 429, 5xx) with backoff. Answers
 * that retrying cannot change (404, 403, 401) become InputErrors naming the
 * object; a cluster still unreachable after the retries is exit 3.
 */
import type { Logger } from "pino";
import { ClusterUnreachableError, InputError } from "../errors.ts";
import { backoffDelay, type BackoffOptions } from "./backoff.ts";
import { describeKubeError, isTransient, statusOf, TENANTS, type Kube } from "./client.ts";
import type { RawObject } from "./sources.ts";
import { withTimeout } from "./timeout.ts";

export interface RetryOptions {
  /** Transient failures are retried until this time (epoch ms); one deadline for all reads of a run. */
  deadline: number;
  backoff: BackoffOptions;
  /**
   * One attempt that gets no answer within this time counts as a transient
   * failure (Kubernetes' SLO for a single-object read is 1 s at the 99th percentile).
   */
  attemptTimeoutMs: number;
  /** The API server's URL, named in the exit-3 message. */
  server?: string;
}

export const VALIDATE_BACKOFF: BackoffOptions = { baseMs: 300, capMs: 3_000 };
export const ATTEMPT_TIMEOUT_MS = 3_000;

export const retryFor = (ms: number, server?: string): RetryOptions => ({
  deadline: Date.now() + ms,
  backoff: VALIDATE_BACKOFF,
  attemptTimeoutMs: ATTEMPT_TIMEOUT_MS,
  server,
});

/**
 * A certificate the client refuses is a configuration error, not an outage:
 * retrying for a minute would only delay the one line that explains it.
 */
export function isTlsVerificationError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  const text = `${typeof code === "string" ? code : ""} ${err instanceof Error ? err.message : ""}`;
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|unable to verify|self[- ]signed certificate|certificate/i.test(text);
}

export async function readWithRetry<T>(object: string, read: () => Promise<T>, log: Logger, retry: RetryOptions): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      // The last attempt gets what is left of the budget (at least 1 s), so --retry-for bounds the run.
      return await withTimeout(read(), Math.min(retry.attemptTimeoutMs, Math.max(1_000, retry.deadline - Date.now())));
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new InputError(object, "", "not found", 404);
      if (status === 403) throw new InputError(object, "", "forbidden: the service account may not read it (check the Role's resourceNames)", 403);
      if (status === 401) throw new InputError(object, "", "unauthorized: the API server rejected the credentials", 401);
      if (!isTransient(err)) throw new InputError(object, "", `cannot be read: ${describeKubeError(err)}`);
      const api = `Kubernetes API${retry.server ? ` ${retry.server}` : ""}`;
      if (status === undefined && isTlsVerificationError(err)) {
        throw new ClusterUnreachableError(`${object}: ${api}: TLS verification failed: ${describeKubeError(err)}`);
      }
      const delay = backoffDelay(attempt - 1, retry.backoff);
      if (Date.now() + delay >= retry.deadline) {
        const secs = ((Date.now() - started) / 1000).toFixed(1);
        throw new ClusterUnreachableError(`${object}: ${api} unreachable after ${attempt} attempt${attempt === 1 ? "" : "s"} in ${secs} s: ${describeKubeError(err)}`);
      }
      log.warn({ object, attempt, retryInMs: Math.round(delay) }, `read failed, retrying: ${describeKubeError(err)}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export const getTenant = (kube: Kube, namespace: string, name: string) =>
  kube.custom.getNamespacedCustomObject({ ...TENANTS, namespace, name }) as Promise<RawObject>;

export const getSecret = (kube: Kube, namespace: string, name: string) =>
  kube.core.readNamespacedSecret({ namespace, name }) as Promise<RawObject>;
