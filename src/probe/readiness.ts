/**
 * The readiness probe (SPEC 6): MinIO is ready when it answers HTTP at all on
 * /minio/health/live within 500 ms; the probe reports MinIO's status code.
 */
import type { MinioClient } from "./minio-client.ts";

export const READY_TIMEOUT_MS = 500;

export type Readiness = { ok: true; status: number } | { ok: false; reason: string };

export async function checkReadiness(minio: MinioClient): Promise<Readiness> {
  try {
    const res = await minio.request("/minio/health/live", { method: "HEAD", timeoutMs: READY_TIMEOUT_MS });
    return { ok: true, status: res.status };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { ok: false, reason: `HTTP request failed: ${e.code && !e.message.includes(e.code) ? `${e.code} ` : ""}${e.message}` };
  }
}
