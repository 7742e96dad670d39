/**
 * Errors that end a command with a specific exit code (SPEC 2). Each one
 * renders as one line naming the object and field. None of them may carry a
 * secret value: callers pass names, paths and reasons only.
 */

/** Invalid input: Tenant/Secret invalid or missing, unparseable manifest. Exit 1. */
export class InputError extends Error {
  override name = "InputError";
  constructor(
    /** e.g. `Tenant minio-tenant/myminio` */
    object: string,
    /** JSON-ish path, e.g. `spec.pools[0].servers`; empty when the object itself is at fault */
    field: string,
    reason: string,
  ) {
    super(field ? `${object}: ${field}: ${reason}` : `${object}: ${reason}`);
  }
}

/** Bad command line. Exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The API server could not be reached after retries (validate). Exit 3. */
export class ClusterUnreachableError extends Error {
  override name = "ClusterUnreachableError";
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof InputError) return 1;
  if (err instanceof UsageError) return 2;
  if (err instanceof ClusterUnreachableError) return 3;
  return 1;
}

/**
 * A description of any thrown value, never a stack trace: the first line of
 * its message, or every line for usage errors (message, then usage line).
 */
export function describe(err: unknown, allLines = false): string {
  if (!(err instanceof Error)) return firstLine(String(err));
  return allLines ? err.message : firstLine(err.message) || err.name;
}

/** `Kind namespace/name` of a (possibly malformed) object, as errors name it; `?` for what is missing. */
export function objectRef(kind: string, value: unknown, namespace?: string): string {
  const meta = (value as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  const str = (v: unknown) => (typeof v === "string" && v ? v : undefined);
  return `${kind} ${str(meta?.namespace) ?? namespace ?? "?"}/${str(meta?.name) ?? "?"}`;
}

export const firstLine = (text: string): string => text.split("\n", 1)[0] ?? "";
