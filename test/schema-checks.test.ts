/**
 * The Tenant and Secret checks run in their compiled form
 * (src/tenant/schema-checks.generated.ts, TypeBox's TypeCompiler output):
 * it must be current with src/tenant/schema.ts, and it must accept exactly
 * what TypeBox's Value.Check accepts (the reference, which also words the
 * errors) over the examples and seeded random changes of them.
 */
import { describe, expect, test } from "bun:test";
import { seededRandom } from "./support/random.ts";
import { readFileSync } from "node:fs";
import { Check } from "@sinclair/typebox/value";
import { GENERATED_PATH, generatedChecks } from "../scripts/generate-schema-checks.ts";
import { checkSecret, checkTenant } from "../src/tenant/schema-checks.generated.ts";
import { Secret, Tenant } from "../src/tenant/schema.ts";
import { checkSchema } from "../src/tenant/validate.ts";
import { CREDENTIALS, pool, secret, tenant } from "./support/objects.ts";

test("the committed compiled checks are current (else: npm run generate)", () => {
  expect(readFileSync(GENERATED_PATH, "utf8")).toBe(generatedChecks());
});

describe("compiled checks accept exactly what Value.Check accepts", () => {
  const REPLACEMENTS: unknown[] = [1, 1.5, -1, 0, NaN, Infinity, "", "x", "1Ti", true, false, null, undefined, [], ["a"], [1], {}, { name: "x" }, new Date(0), new Uint8Array(1)];

  /** Every path to a value inside `v` (objects and arrays). */
  const paths = (v: unknown, at: (string | number)[] = []): (string | number)[][] => {
    if (v === null || typeof v !== "object" || v instanceof Date || ArrayBuffer.isView(v)) return [at];
    const keys = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
    return [at, ...keys.flatMap((k) => paths((v as Record<string | number, unknown>)[k], [...at, k]))];
  };
  const mutate = (base: unknown, random: (k: number) => number): unknown => {
    const copy = structuredClone(base) as Record<string | number, unknown>;
    for (let n = 1 + random(2); n > 0; n--) {
      const all = paths(copy).filter((p) => p.length > 0);
      const path = all[random(all.length)]!;
      let parent: Record<string | number, unknown> = copy;
      for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
      const last = path[path.length - 1]!;
      if (random(5) === 0 && !Array.isArray(parent)) delete parent[last];
      else parent[last] = structuredClone(REPLACEMENTS[random(REPLACEMENTS.length)]); // a fresh copy: no shared or cyclic values
    }
    return copy;
  };

  const richTenant = tenant({
    pools: [pool(), pool({ name: "pool-1", runtimeClassName: "gvisor" })],
    env: [{ name: "A", value: "1" }, { name: "B", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
    features: { bucketDNS: true, domains: { minio: ["s3.example.com"], console: "console.example.com" } },
    externalCertSecret: [{ name: "tls", type: "kubernetes.io/tls" }],
    kes: { keyName: "k" },
    mountPath: "/data",
    subPath: "/x",
    prometheusOperator: false,
  });
  const richSecret = { ...secret(CREDENTIALS), data: { "config.env": btoa(CREDENTIALS), other: "eA==" } };

  for (const [name, base, compiled, schema] of [
    ["Tenant", richTenant, checkTenant, Tenant],
    ["Secret", richSecret, checkSecret, Secret],
  ] as const) {
    test(`${name}: the example, and 3,000 random changes of it`, () => {
      expect(compiled(base)).toBe(true);
      const random = seededRandom(name.length * 7919);
      let rejected = 0;
      for (let i = 0; i < 3000; i++) {
        const value = mutate(base, random);
        const reference = Check(schema, value);
        if (compiled(value) !== reference) expect({ value, compiled: compiled(value) }).toEqual({ value, compiled: reference });
        if (!reference) rejected++;
      }
      // Both answers must occur, or the comparison proves nothing.
      expect(rejected).toBeGreaterThan(300);
      expect(rejected).toBeLessThan(2700);
    });
  }
});

test("a failure is worded by TypeBox's Errors, loaded then: the field's path, never its value", async () => {
  await expect(checkSchema("Tenant", tenant({ pools: [pool({ servers: "four" })] }), "Tenant ns/t")).rejects.toThrow(
    "Tenant ns/t: spec.pools[0].servers: expected integer",
  );
  await expect(checkSchema("Secret", { metadata: {}, stringData: { "config.env": 7 } }, "Secret ns/s")).rejects.toThrow(
    'Secret ns/s: stringData.config.env: expected string (got a number; quote it in YAML)',
  );
});
