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
  attempts: number;
  backoff: BackoffOptions;
  /**
   * One attempt that gets no answer within this time counts as a transient
   * failure (Kubernetes' SLO for a single-object read is 1 s at the 99th percentile).
   */
  attemptTimeoutMs: number;
}

export const VALIDATE_RETRY: RetryOptions = { attempts: 6, backoff: { baseMs: 300, capMs: 3_000 }, attemptTimeoutMs: 3_000 };

export async function readWithRetry<T>(object: string, read: () => Promise<T>, log: Logger, retry = VALIDATE_RETRY): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(read(), retry.attemptTimeoutMs);
    } catch (err) {
      const status = statusOf(err);
      if (status === 404) throw new InputError(object, "", "not found");
      if (status === 403) throw new InputError(object, "", "forbidden: the service account may not read it (check the Role's resourceNames)");
      if (status === 401) throw new InputError(object, "", "unauthorized: the API server rejected the credentials");
      if (!isTransient(err)) throw new InputError(object, "", `cannot be read: ${describeKubeError(err)}`);
      if (attempt >= retry.attempts) {
        throw new ClusterUnreachableError(`${object}: Kubernetes API unreachable after ${attempt} attempts: ${describeKubeError(err)}`);
      }
      const delay = backoffDelay(attempt - 1, retry.backoff);
      log.warn({ object, attempt, retryInMs: Math.round(delay) }, `read failed, retrying: ${describeKubeError(err)}`);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

export const getTenant = (kube: Kube, namespace: string, name: string) =>
  kube.custom.getNamespacedCustomObject({ ...TENANTS, namespace, name }) as Promise<RawObject>;

export const getSecret = (kube: Kube, namespace: string, name: string) =>
  kube.core.readNamespacedSecret({ namespace, name }) as Promise<RawObject>;
