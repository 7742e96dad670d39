/**
 * Tenant validation (SPEC 3.3): first the schema (types of every field we
 * read, reported with its JSON path), then the rules the operator enforces.
 * Returns the typed Tenant or throws an InputError naming the field.
 */
import { InputError, objectRef } from "../errors.ts";
import type { Secret, Tenant } from "./schema.ts";
import { checkSecret, checkTenant } from "./schema-checks.generated.ts";
import { consoleHost, domainHost, overlappingDomain } from "./topology.ts";

/** `/spec/pools/0/servers` -> `spec.pools[0].servers` */
export function jsonPathToField(pointer: string): string {
  return pointer
    .split("/")
    .slice(1)
    .map((seg) => seg.replace(/~1/g, "/").replace(/~0/g, "~"))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
}

const COMPILED = { Tenant: checkTenant, Secret: checkSecret };
interface Checked {
  Tenant: Tenant;
  Secret: Secret;
}

/**
 * Check `value` against the named schema; the first error names its path,
 * never the offending value. A valid object takes the compiled check alone
 * (no TypeBox evaluated: start-up of render and validate, memory of every
 * sidecar); only a failure loads the schemas and TypeBox's Errors, which
 * find the same failures as the compiled check and say where.
 */
export async function checkSchema<K extends keyof Checked>(name: K, value: unknown, object: string): Promise<Checked[K]> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InputError(object, "", "not an object");
  }
  if (COMPILED[name](value)) return value as Checked[K];
  // One after the other, not Promise.all: concurrent chunk loads once crashed the compiled binary (main.ts).
  const schemas = await import("./schema.ts");
  const { Errors } = await import("@sinclair/typebox/errors");
  const first = Errors(schemas[name], [], value).First();
  if (!first) throw new InputError(object, "(root)", "does not match the schema");
  throw new InputError(object, jsonPathToField(first.path) || "(root)", schemaReason(first.message) + yamlHint(first.message, first.value));
}

/**
 * An unquoted `on`, `yes` or `123` is a boolean or number in YAML (and to
 * kubectl), not a string: say so, naming only the type, never the value.
 */
const yamlHint = (message: string, value: unknown) =>
  message === "Expected string" && (typeof value === "number" || typeof value === "boolean")
    ? ` (got a ${typeof value}; quote it in YAML)`
    : "";

// TypeBox messages ("Expected integer") are fine; make "Expected required property" read naturally.
const schemaReason = (m: string) => (m === "Expected required property" ? "is required" : m.replace(/^Expected/, "expected"));

export async function validateTenant(value: unknown, namespace?: string): Promise<Tenant> {
  const object = objectRef("Tenant", value, namespace);
  const t = await checkSchema("Tenant", value, object);
  const fail = (field: string, reason: string): never => {
    throw new InputError(object, field, reason);
  };

  const pools = t.spec.pools ?? [];
  if (pools.length === 0) fail("spec.pools", "at least one pool is required");
  if (!t.spec.configuration?.name) fail("spec.configuration.name", "is required (the configuration Secret)");

  pools.forEach((pool, i) => {
    const at = `spec.pools[${i}]`;
    if (pool.servers < 1) fail(`${at}.servers`, "must be at least 1");
    if (pool.volumesPerServer < 1) fail(`${at}.volumesPerServer`, "must be at least 1");
    // Erasure coding needs at least 4 drives in total; MinIO refuses smaller 2- and 3-server pools.
    const total = pool.servers * pool.volumesPerServer;
    if (pool.servers === 2 && total < 4) fail(`${at}.volumesPerServer`, "a pool of 2 servers needs at least 4 volumes in total");
    if (pool.servers === 3 && total < 6) fail(`${at}.volumesPerServer`, "a pool of 3 servers needs at least 6 volumes in total");
    const vct = pool.volumeClaimTemplate;
    if (!vct) return fail(`${at}.volumeClaimTemplate`, "is required");
    const storage = vct.spec?.resources?.requests?.storage;
    const size = storage === undefined ? undefined : parseQuantity(storage);
    if (storage === undefined) fail(`${at}.volumeClaimTemplate.spec.resources.requests.storage`, "is required");
    if (size === undefined) fail(`${at}.volumeClaimTemplate.spec.resources.requests.storage`, "is not a Kubernetes quantity");
    if (size !== undefined && size <= 0) fail(`${at}.volumeClaimTemplate.spec.resources.requests.storage`, "must be positive");
    if (!vct.spec?.accessModes?.length) fail(`${at}.volumeClaimTemplate.spec.accessModes`, "at least one access mode is required");
  });

  const kes = t.spec.kes;
  if (kes && !!kes.gcpCredentialSecretName !== !!kes.gcpWorkloadIdentityPool) {
    fail(
      kes.gcpCredentialSecretName ? "spec.kes.gcpWorkloadIdentityPool" : "spec.kes.gcpCredentialSecretName",
      "gcpCredentialSecretName and gcpWorkloadIdentityPool must be set together",
    );
  }

  const domains = t.spec.features?.domains?.minio ?? [];
  const hosts = domains.map(
    (d, i) =>
      domainHost(t, d) ??
      fail(
        `spec.features.domains.minio[${i}]`,
        "is not a valid domain (a URL host, and with its scheme a DNS name: no empty label, labels of at most 63 octets, 255 octets in all)",
      ),
  );
  const overlap = overlappingDomain(hosts);
  if (overlap) fail("spec.features.domains.minio", `overlapping domains: ${overlap} is a suffix of another domain`);
  const consoleDomain = t.spec.features?.domains?.console;
  if (consoleDomain && !consoleHost(t, consoleDomain)) fail("spec.features.domains.console", "is not a valid domain");
  return t;
}

/**
 * Kubernetes resource quantities ("1Ti", "500Gi", "1e12", "1.5G") as numbers.
 * Grammar from k8s.io/apimachinery/pkg/api/resource: a signed decimal, then
 * an optional binary suffix (Ki..Ei), decimal suffix (n u m "" k M G T P E)
 * or decimal exponent (e/E).
 */
const QUANTITY = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?\d+)?$/;

const SUFFIX: Record<string, number> = {
  Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60,
  n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
};

/** The quantity's value, or undefined when it is not a valid quantity. */
export function parseQuantity(q: string | number): number | undefined {
  if (typeof q === "number") return Number.isFinite(q) ? q : undefined;
  const m = QUANTITY.exec(q.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  const suffix = m[2];
  if (!suffix) return base;
  const mult = SUFFIX[suffix] ?? 10 ** Number(suffix.slice(1));
  return base * mult;
}
