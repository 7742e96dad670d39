/**
 * Bucket DNS webhook (SPEC 6): MinIO calls it when a bucket is created or
 * deleted. 200 is success, 409 "bucket name conflict", and a body containing
 * "invalid bucket name" makes MinIO reject the name.
 */
import { Elysia, t } from "elysia";
import type { Logger } from "pino";
import { isValidBucketServiceName, type BucketServices, type Outcome } from "../buckets/bucket-services.ts";
import type { Metrics } from "../sidecar/metrics.ts";
import { guard } from "./guard.ts";

export const WEBHOOK_PATH = "/webhook/v1/bucketsrv/:namespace/:name";

export interface WebhookDeps {
  namespace: string;
  tenant: string;
  services: BucketServices;
  /** Told of every Service this webhook created or deleted (the reconciler's memory). */
  onChange?: (bucket: string, present: boolean) => void;
  metrics: Metrics;
  log: Logger;
}

export interface WebhookRequest {
  namespace: string;
  name: string;
  bucket?: string;
  delete?: string;
}

export interface WebhookAnswer {
  status: number;
  body: string;
  result: string;
}

// strconv.ParseBool, which MinIO's side of this protocol was written against.
const TRUE = new Set(["1", "t", "T", "TRUE", "true", "True"]);
const FALSE = new Set(["0", "f", "F", "FALSE", "false", "False"]);

/** The webhook's decision table, without HTTP. */
export async function handleBucketRequest(d: WebhookDeps, r: WebhookRequest): Promise<WebhookAnswer> {
  if (r.namespace !== d.namespace || r.name !== d.tenant) {
    return { status: 403, result: "forbidden", body: `this sidecar serves tenant ${d.namespace}/${d.tenant} only\n` };
  }
  if (!isValidBucketServiceName(r.bucket)) {
    return { status: 400, result: "invalid-name", body: "invalid bucket name: must be a DNS-1035 label (lowercase letters, digits and '-', starting with a letter, at most 63 characters, no '.')\n" };
  }
  const del = r.delete === undefined ? false : TRUE.has(r.delete) ? true : FALSE.has(r.delete) ? false : undefined;
  if (del === undefined) return { status: 400, result: "bad-request", body: "delete must be true or false\n" };

  const outcome: Outcome = del ? await d.services.remove(r.bucket) : await d.services.ensure(r.bucket);
  if (outcome.status === 200) {
    d.onChange?.(r.bucket, !del);
    return { status: 200, result: outcome.result, body: `${outcome.result}\n` };
  }
  return { status: outcome.status, result: outcome.result, body: `${outcome.message}\n` };
}

export function webhookApp(d: WebhookDeps) {
  return new Elysia({ name: "webhook" })
    .use(guard)
    .onError(({ code, set }) => {
      if (code === "VALIDATION") {
        set.status = 400;
        return "invalid request\n";
      }
      if (code === "NOT_FOUND") {
        set.status = 404;
        return "not found\n";
      }
    })
    .post(
      WEBHOOK_PATH,
      async ({ params, query, set }) => {
        const op = query.delete && TRUE.has(query.delete) ? "delete" : "create";
        const answer = await handleBucketRequest(d, { ...params, bucket: query.bucket, delete: query.delete });
        d.metrics.webhookRequests.inc({ operation: op, result: answer.result });
        const level = answer.status >= 500 ? "error" : answer.status === 200 ? "info" : "warn";
        d.log[level]({ operation: op, bucket: query.bucket?.slice(0, 64), status: answer.status }, `bucket webhook: ${answer.result}`);
        set.status = answer.status;
        return answer.body;
      },
      {
        params: t.Object({ namespace: t.String(), name: t.String() }),
        query: t.Object({ bucket: t.Optional(t.String()), delete: t.Optional(t.String()) }, { additionalProperties: true }),
      },
    )
    .all(WEBHOOK_PATH, ({ set }) => {
      set.status = 405;
      set.headers.allow = "POST";
      return "method not allowed\n";
    });
}
