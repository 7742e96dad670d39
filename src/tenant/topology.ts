/**
 * Names, hosts and arguments derived from a validated Tenant (SPEC 3.2).
 * These must match what the MinIO Operator creates (StatefulSet and Service
 * names), or MinIO's peers will not find each other.
 */
import { isDomainName, urlHost } from "./domain-name.ts";
import type { Pool, Tenant } from "./schema.ts";

export interface Place {
  tenant: string;
  namespace: string;
  clusterDomain: string;
}

export const DEFAULT_MOUNT_PATH = "/export";

/** TLS is on unless auto-cert is switched off and no external certificate is given. */
export function tlsEnabled(t: Tenant): boolean {
  return t.spec.requestAutoCert !== false || (t.spec.externalCertSecret?.length ?? 0) > 0;
}

export const scheme = (t: Tenant) => (tlsEnabled(t) ? "https" : "http");

/** The operator names pool StatefulSets `<tenant>-<pool>`, with pool default `ss-<index>`. */
export const poolName = (pool: Pool, index: number) => pool.name || `ss-${index}`;

/** `minio.<ns>.svc.<cd>`: the tenant's own Service, also the SNI for the readiness probe. */
export const minioServiceHost = (p: Place) => `minio.${p.namespace}.svc.${p.clusterDomain}`;

/**
 * Go's path.Join("/", p): absolute, no duplicate or trailing slashes, `.`
 * dropped, `..` removing the segment before it (and nothing at the root).
 * Not node:path's posix.normalize: evaluating node:path costs a compiled
 * `render` about 0.3 ms of start-up for these few lines.
 */
export function cleanPath(p: string): string {
  const segments: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "..") segments.pop();
    else if (seg !== "" && seg !== ".") segments.push(seg);
  }
  return `/${segments.join("/")}`;
}

export function volumePath(t: Tenant, pool: Pool): string {
  const mount = t.spec.mountPath || DEFAULT_MOUNT_PATH;
  const vols = pool.volumesPerServer === 1 ? mount : `${mount}{0...${pool.volumesPerServer - 1}}`;
  return cleanPath(t.spec.subPath ? `${vols}/${t.spec.subPath}` : vols);
}

/** MINIO_ARGS: the volume path alone for a single server, else one endpoint pattern per pool. */
export function minioArgs(t: Tenant, p: Place): string {
  const pools = t.spec.pools ?? [];
  const only = pools[0];
  if (pools.length === 1 && only && only.servers === 1) return volumePath(t, only);
  return pools
    .map((pool, i) => {
      const servers = pool.servers === 1 ? "0" : `{0...${pool.servers - 1}}`;
      const host = `${p.tenant}-${poolName(pool, i)}-${servers}.${p.tenant}-hl.${p.namespace}.svc.${p.clusterDomain}`;
      return `${scheme(t)}://${host}${volumePath(t, pool)}`;
    })
    .join(" ");
}

/** A domain with the tenant's scheme added when it has none. */
export function withScheme(t: Tenant, domain: string): string {
  return /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(domain) ? domain : `${scheme(t)}://${domain}`;
}

/**
 * Host (no port) of a `domains.minio` entry, or undefined when the operator
 * would refuse it: `IsDomainName` runs on the whole entry with its scheme
 * added, as the operator runs it, so the scheme counts towards the first
 * label and the total length, and a path counts too. The host is checked
 * again on its own, which only adds one refusal the operator misses: a
 * leading dot (`https://.example.com` reads to it as a first label `https://`).
 */
export function domainHost(t: Tenant, domain: string): string | undefined {
  const url = withScheme(t, domain);
  const host = isDomainName(url) ? urlHost(url) : undefined;
  return host !== undefined && isDomainName(host) ? host : undefined;
}

/** Host of the console domain: it only has to parse, the operator puts no DNS rule on it. */
export const consoleHost = (t: Tenant, domain: string): string | undefined => urlHost(withScheme(t, domain));

/** Hosts of spec.features.domains.minio, in order. Validation has already checked them. */
export const minioDomainHosts = (t: Tenant): string[] =>
  (t.spec.features?.domains?.minio ?? []).map((d) => domainHost(t, d) ?? d);

/**
 * The domain that makes others overlap: MinIO rejects a domain list in which
 * one domain is the longest common suffix of the sorted list (e.g.
 * `example.com` and `a.example.com`), because bucket lookups become ambiguous.
 */
export function overlappingDomain(hosts: string[]): string | undefined {
  if (hosts.length < 2) return undefined;
  const sorted = [...hosts].sort();
  let suffix = sorted[0] ?? "";
  for (const h of sorted.slice(1)) {
    let i = 0;
    while (i < suffix.length && i < h.length && suffix[suffix.length - 1 - i] === h[h.length - 1 - i]) i++;
    suffix = suffix.slice(suffix.length - i);
  }
  return sorted.find((h) => h === suffix);
}
