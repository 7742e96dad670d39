/** SPEC 3.3: every invalid-Tenant rule, with the field it must name. */
import { describe, expect, test } from "bun:test";
import { validateTenant } from "../src/tenant/validate.ts";
import { parseQuantity } from "../src/tenant/validate.ts";
import { pool, tenant } from "./support/objects.ts";

const T = "Tenant minio-tenant/myminio";
const invalid = (t: unknown, message: string) => expect(validateTenant(t)).rejects.toThrow(message);
const vct = (spec: Record<string, unknown>) => ({ volumeClaimTemplate: { spec } });

describe("tenant rules", () => {
  test("a valid tenant passes and unknown fields are accepted", async () => {
    const t = tenant({ image: "minio/minio:latest", imagePullPolicy: "IfNotPresent", whatever: { nested: [1, 2] } });
    (t.spec.pools[0] as Record<string, unknown>).affinity = { nodeAffinity: {} };
    expect((await validateTenant(t)).metadata.name).toBe("myminio");
  });

  test("no pools", async () => {
    await invalid(tenant({ pools: undefined }), `${T}: spec.pools: at least one pool is required`);
    await invalid(tenant({ pools: [] }), `${T}: spec.pools: at least one pool is required`);
  });
  test("no configuration secret name", async () => {
    await invalid(tenant({ configuration: undefined }), `${T}: spec.configuration.name: is required`);
    await invalid(tenant({ configuration: { name: "" } }), `${T}: spec.configuration.name: is required`);
  });
  test("servers or volumesPerServer below 1", async () => {
    await invalid(tenant({ pools: [pool({ servers: 0 })] }), `${T}: spec.pools[0].servers: must be at least 1`);
    await invalid(tenant({ pools: [pool(), pool({ volumesPerServer: 0 })] }), `${T}: spec.pools[1].volumesPerServer: must be at least 1`);
  });
  test("2 servers need 4 volumes, 3 servers need 6", async () => {
    await invalid(tenant({ pools: [pool({ servers: 2, volumesPerServer: 1 })] }), `${T}: spec.pools[0].volumesPerServer: a pool of 2 servers needs at least 4 volumes in total`);
    await invalid(tenant({ pools: [pool({ servers: 3, volumesPerServer: 1 })] }), `${T}: spec.pools[0].volumesPerServer: a pool of 3 servers needs at least 6 volumes in total`);
    await expect(validateTenant(tenant({ pools: [pool({ servers: 2, volumesPerServer: 2 })] }))).resolves.toBeDefined();
    await expect(validateTenant(tenant({ pools: [pool({ servers: 3, volumesPerServer: 2 })] }))).resolves.toBeDefined();
    await expect(validateTenant(tenant({ pools: [pool({ servers: 1, volumesPerServer: 1 })] }))).resolves.toBeDefined();
  });
  test("a pool without a volume claim template", async () => {
    await invalid(tenant({ pools: [pool({ volumeClaimTemplate: undefined })] }), `${T}: spec.pools[0].volumeClaimTemplate: is required`);
  });
  test("storage request missing, zero, negative or not a quantity", async () => {
    const at = `${T}: spec.pools[0].volumeClaimTemplate.spec.resources.requests.storage`;
    await invalid(tenant({ pools: [pool(vct({ accessModes: ["ReadWriteOnce"] }))] }), `${at}: is required`);
    await invalid(tenant({ pools: [pool(vct({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "0" } } }))] }), `${at}: must be positive`);
    await invalid(tenant({ pools: [pool(vct({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "-1Gi" } } }))] }), `${at}: must be positive`);
    await invalid(tenant({ pools: [pool(vct({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "lots" } } }))] }), `${at}: is not a Kubernetes quantity`);
  });
  test("access modes missing or empty", async () => {
    const at = `${T}: spec.pools[0].volumeClaimTemplate.spec.accessModes: at least one access mode is required`;
    await invalid(tenant({ pools: [pool(vct({ resources: { requests: { storage: "1Ti" } } }))] }), at);
    await invalid(tenant({ pools: [pool(vct({ accessModes: [], resources: { requests: { storage: "1Ti" } } }))] }), at);
  });
  test("KES gcp credential and workload identity must come together", async () => {
    await invalid(tenant({ kes: { gcpCredentialSecretName: "gcp" } }), `${T}: spec.kes.gcpWorkloadIdentityPool: gcpCredentialSecretName and gcpWorkloadIdentityPool must be set together`);
    await invalid(tenant({ kes: { gcpWorkloadIdentityPool: "pool" } }), `${T}: spec.kes.gcpCredentialSecretName: gcpCredentialSecretName and gcpWorkloadIdentityPool must be set together`);
    await expect(validateTenant(tenant({ kes: { gcpCredentialSecretName: "g", gcpWorkloadIdentityPool: "p" } }))).resolves.toBeDefined();
  });
  test("invalid domains", async () => {
    await invalid(tenant({ features: { domains: { minio: ["ok.example.com", "bad domain with spaces"] } } }), `${T}: spec.features.domains.minio[1]: is not a valid domain`);
    await invalid(tenant({ features: { domains: { minio: ["https://"] } } }), `${T}: spec.features.domains.minio[0]: is not a valid domain`);
    await invalid(tenant({ features: { domains: { console: "http://[bad" } } }), `${T}: spec.features.domains.console: is not a valid domain`);
  });
  describe("domains are DNS names the way the operator checks them (miekg/dns IsDomainName, scheme added)", () => {
    const at = (i: number) => `${T}: spec.features.domains.minio[${i}]: is not a valid domain`;
    const domains = (minio: string[], spec: Record<string, unknown> = {}) => tenant({ ...spec, features: { domains: { minio } } });
    const ok = (minio: string[], spec: Record<string, unknown> = {}) => expect(validateTenant(domains(minio, spec))).resolves.toBeDefined();
    const l = (n: number) => "x".repeat(n);

    test("an empty label", async () => {
      await invalid(domains(["s3.example.com", "minio..example.com"]), at(1));
      await invalid(domains([".example.com"]), at(0)); // stricter than the operator, which reads `https://.` as one label
      await invalid(domains(["https://s3.example.com..:9000"]), at(0));
    });
    test("a trailing dot is fine", () => ok(["s3.example.com."]));
    test("labels of 63 octets pass, 64 fail", async () => {
      await ok([`s3.${l(63)}.example.com`]);
      await invalid(domains([`s3.${l(64)}.example.com`]), at(0));
      await invalid(domains([`s3.example.${l(64)}:9000`]), at(0));
    });
    test("the scheme is part of the first label, as in the operator: 55 more octets with https, 56 with http", async () => {
      await ok([`${l(55)}.example.com`]);
      await invalid(domains([`${l(56)}.example.com`]), at(0));
      await ok([`${l(56)}.example.com`], { requestAutoCert: false });
      await invalid(domains([`http://${l(57)}.example.com`]), at(0));
    });
    test("octets, not characters: 31 × ü + 1 is 63 octets, 32 × ü is 64", async () => {
      await ok([`s3.${"ü".repeat(31)}a.example.com`]);
      await invalid(domains([`s3.${"ü".repeat(32)}.example.com`]), at(0));
    });
    test("at most 255 octets in all, the scheme included", async () => {
      const name = (octets: number) => {
        let s = "https://s3";
        while (octets - s.length > 64) s += `.${l(62)}`;
        return `${s}.${l(octets - s.length - 1)}`;
      };
      expect(name(255)).toHaveLength(255);
      await ok([name(255)]);
      await invalid(domains([name(256)]), at(0));
    });
    test("a backslash in the host is refused by Go's url.Parse, before any DNS escape rule", async () => {
      await invalid(domains(["s3\\.example.com"]), at(0));
      await invalid(domains(["s3.example.com\\"]), at(0));
    });
  });

  test("overlapping domains", async () => {
    await invalid(tenant({ features: { domains: { minio: ["a.example.com", "example.com"] } } }), `${T}: spec.features.domains.minio: overlapping domains: example.com`);
    await invalid(tenant({ features: { domains: { minio: ["s3.example.com", "https://s3.example.com:9000"] } } }), "overlapping domains");
    await expect(validateTenant(tenant({ features: { domains: { minio: ["a.example.com", "b.example.com"] } } }))).resolves.toBeDefined();
    await expect(validateTenant(tenant({ features: { domains: { minio: ["myexample.com", "example.com"] } } }))).rejects.toThrow("overlapping");
  });
});

describe("schema errors name the JSON path", () => {
  test.each([
    [{ servers: "4" }, "spec.pools[0].servers: expected integer"],
    [{ volumesPerServer: 1.5 }, "spec.pools[0].volumesPerServer: expected integer"],
    [{ name: 7 }, "spec.pools[0].name: expected string (got a number; quote it in YAML)"],
  ])("pool field %j", async (bad, message) => {
    await invalid(tenant({ pools: [pool(bad)] }), `${T}: ${message}`);
  });
  test("missing required pool fields", async () => {
    const p = pool();
    delete (p as Record<string, unknown>).servers;
    await invalid(tenant({ pools: [p] }), `${T}: spec.pools[0].servers: is required`);
  });
  test.each([
    [{ features: { bucketDNS: "yes" } }, "spec.features.bucketDNS: expected boolean"],
    [{ features: { domains: { minio: "s3.example.com" } } }, "spec.features.domains.minio: expected array"],
    [{ env: [{ name: "A", value: 1 }] }, "spec.env[0].value: expected string (got a number; quote it in YAML)"],
    [{ requestAutoCert: "false" }, "spec.requestAutoCert: expected boolean"],
    [{ pools: {} }, "spec.pools: expected array"],
  ])("%j", async (spec, message) => {
    await invalid(tenant(spec), `${T}: ${message}`);
  });
  test("a non-object and a missing spec", async () => {
    await expect(validateTenant("nope")).rejects.toThrow("Tenant ?/?: not an object");
    await expect(validateTenant({ metadata: { name: "x", namespace: "n" } })).rejects.toThrow("Tenant n/x: spec: is required");
  });
});

describe("quantities", () => {
  test.each([
    ["1Ti", 2 ** 40], ["500Gi", 500 * 2 ** 30], ["1e12", 1e12], ["1.5G", 1.5e9], ["100m", 0.1], [".5Ki", 512], [1024, 1024], ["1E3", 1000],
  ])("%p", (q, v) => expect(parseQuantity(q)).toBe(v));
  test.each(["", "Gi", "1 Gi", "1GB", "1.2.3", "abc"])("%p is not a quantity", (q) => expect(parseQuantity(q)).toBeUndefined());
});
