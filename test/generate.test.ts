/** SPEC 3.2: the merge of defaults, spec.env and the Secret, with exact expected values. */
import { describe, expect, test } from "bun:test";
import { generateConfig } from "../src/config/generate.ts";
import { rootCredentials } from "../src/config/merge.ts";
import { cleanPath } from "../src/tenant/topology.ts";
import { CREDENTIALS, PASSWORD, pool, secret, tenant } from "./support/objects.ts";

const gen = (t: unknown, configEnv: string | null = CREDENTIALS, clusterDomain = "cluster.local") =>
  generateConfig({ tenant: t, secret: secret(configEnv), namespace: "fallback-ns", clusterDomain });
const env = async (t: unknown, configEnv: string | null = CREDENTIALS) => Object.fromEntries((await gen(t, configEnv)).env);
const noTls = { requestAutoCert: false };

describe("defaults", () => {
  test("the upstream base example gives exactly the SPEC file", async () => {
    expect((await gen(tenant())).content).toBe(
      [
        'export MINIO_ARGS="https://myminio-pool-0-{0...3}.myminio-hl.minio-tenant.svc.cluster.local/export{0...3}"',
        `export MINIO_PROMETHEUS_JOB_ID="minio-job"`,
        `export MINIO_ROOT_PASSWORD="${PASSWORD}"`,
        `export MINIO_ROOT_USER="minio"`,
        'export MINIO_SERVER_URL="https://minio.minio-tenant.svc.cluster.local:443"',
        'export MINIO_UPDATE="on"',
        'export MINIO_UPDATE_MINISIGN_PUBKEY="RWTx5Zr1tiHQLwG9keckT0c45M3AGeHD6IvimQHpyRywVWGbP1aVSGav"',
        "",
      ].join("\n"),
    );
  });

  test("single server with one volume: MINIO_ARGS is the bare volume path", async () => {
    const e = (await env(tenant({ pools: [pool({ servers: 1, volumesPerServer: 1 })] })));
    expect(e.MINIO_ARGS).toBe("/export");
  });

  test("single server with several volumes uses the ellipsis on the path only", async () => {
    expect((await env(tenant({ pools: [pool({ servers: 1, volumesPerServer: 4 })] }))).MINIO_ARGS).toBe("/export{0...3}");
  });

  test("multi-pool args, default pool names ss-N, a one-server pool uses -0", async () => {
    const t = tenant({
      ...noTls,
      pools: [pool({ servers: 4, volumesPerServer: 2 }), pool({ name: "fast", servers: 1, volumesPerServer: 4 }), pool({ servers: 2, volumesPerServer: 2 })],
    });
    expect((await env(t)).MINIO_ARGS).toBe(
      [
        "http://myminio-ss-0-{0...3}.myminio-hl.minio-tenant.svc.cluster.local/export{0...1}",
        "http://myminio-fast-0.myminio-hl.minio-tenant.svc.cluster.local/export{0...3}",
        "http://myminio-ss-2-{0...1}.myminio-hl.minio-tenant.svc.cluster.local/export{0...1}",
      ].join(" "),
    );
  });

  test("custom mountPath and subPath are joined and cleaned like Go's path.Join", async () => {
    const pools = [pool({ servers: 4, volumesPerServer: 1 })];
    expect((await env(tenant({ pools, mountPath: "/data/", subPath: "/minio/" }))).MINIO_ARGS).toBe(
      "https://myminio-ss-0-{0...3}.myminio-hl.minio-tenant.svc.cluster.local/data/minio",
    );
    expect((await env(tenant({ pools: [pool({ servers: 1, volumesPerServer: 2 })], mountPath: "data//x", subPath: "a/../b" }))).MINIO_ARGS).toBe(
      "/data//x{0...1}/b".replace("//", "/"),
    );
  });

  test("cleanPath gives what Go's path.Join(\"/\", p) gives", () => {
    // Go's own path.Clean examples (made absolute), and the edges of `..` at the root.
    const cases: [string, string][] = [
      ["a/c", "/a/c"], ["a//c", "/a/c"], ["a/c/.", "/a/c"], ["a/c/b/..", "/a/c"], ["/../a/c", "/a/c"],
      ["/../a/b/../././/c", "/a/c"], ["", "/"], [".", "/"], ["..", "/"], ["/", "/"], ["../../x/", "/x"],
      ["/export{0...3}/./minio/", "/export{0...3}/minio"], ["a/.../b", "/a/.../b"], ["..a/b..", "/..a/b.."],
    ];
    for (const [input, want] of cases) expect([input, cleanPath(input)]).toEqual([input, want]);
  });

  test("cluster domain and namespace fallback when the Tenant has none", async () => {
    const t = tenant({ ...noTls }, "t1", null);
    const g = await gen(t, CREDENTIALS, "corp.example");
    expect(g.env.get("MINIO_ARGS")).toBe("http://t1-pool-0-{0...3}.t1-hl.fallback-ns.svc.corp.example/export{0...3}");
    expect(g.env.get("MINIO_SERVER_URL")).toBe("http://minio.fallback-ns.svc.corp.example:80");
  });
});

describe("TLS", () => {
  test("requestAutoCert absent or true means https", async () => {
    expect((await env(tenant())).MINIO_SERVER_URL).toBe("https://minio.minio-tenant.svc.cluster.local:443");
    expect((await env(tenant({ requestAutoCert: true }))).MINIO_SERVER_URL).toBe("https://minio.minio-tenant.svc.cluster.local:443");
  });
  test("requestAutoCert false means http", async () => {
    const e = (await env(tenant(noTls)));
    expect(e.MINIO_SERVER_URL).toBe("http://minio.minio-tenant.svc.cluster.local:80");
    expect(e.MINIO_ARGS!.startsWith("http://")).toBe(true);
  });
  test("an external certificate turns TLS on even without auto-cert", async () => {
    const e = (await env(tenant({ ...noTls, externalCertSecret: [{ name: "tls", type: "kubernetes.io/tls" }] })));
    expect(e.MINIO_SERVER_URL).toBe("https://minio.minio-tenant.svc.cluster.local:443");
  });
  test("an empty externalCertSecret list does not", async () => {
    expect((await env(tenant({ ...noTls, externalCertSecret: [] }))).MINIO_SERVER_URL).toStartWith("http://");
  });
});

describe("features", () => {
  test("bucketDNS sets the webhook endpoint and the service domain", async () => {
    const e = (await env(tenant({ features: { bucketDNS: true } })));
    expect(e.MINIO_DNS_WEBHOOK_ENDPOINT).toBe("http://127.0.0.1:4222/webhook/v1/bucketsrv/minio-tenant/myminio");
    expect(e.MINIO_DOMAIN).toBe("minio-tenant.svc.cluster.local");
  });

  test("domains with and without scheme and port", async () => {
    const e = (await env(tenant({ features: { bucketDNS: true, domains: { minio: ["s3.example.com:9000", "https://s3.other.org/"] } } })));
    expect(e.MINIO_DOMAIN).toBe("minio-tenant.svc.cluster.local,s3.example.com,s3.other.org");
    expect(e.MINIO_SERVER_URL).toBe("https://s3.example.com:9000");
  });

  test("domain hosts are written as the operator writes them: case and Unicode kept, not punycoded", async () => {
    const e = (await env(tenant({ features: { domains: { minio: ["S3.Example.COM:9000", "https://Bücher.example/"] } } })));
    expect(e.MINIO_DOMAIN).toBe("S3.Example.COM,Bücher.example");
    expect(e.MINIO_SERVER_URL).toBe("https://S3.Example.COM:9000");
  });

  test("a domain that is not a DNS name is never rendered", async () => {
    for (const bad of ["minio..example.com", `s3.${"x".repeat(64)}.example.com`]) {
      await expect(gen(tenant({ features: { domains: { minio: ["s3.example.com", bad] } } }))).rejects.toThrow(
        "Tenant minio-tenant/myminio: spec.features.domains.minio[1]: is not a valid domain",
      );
    }
  });

  test("a domain gets http when TLS is off; no bucketDNS means only the domains", async () => {
    const e = (await env(tenant({ ...noTls, features: { domains: { minio: ["s3.example.com"] } } })));
    expect(e.MINIO_DOMAIN).toBe("s3.example.com");
    expect(e.MINIO_SERVER_URL).toBe("http://s3.example.com");
    expect(e.MINIO_DNS_WEBHOOK_ENDPOINT).toBeUndefined();
  });

  test("console domain sets the browser redirect URL, scheme added when missing", async () => {
    expect((await env(tenant({ features: { domains: { console: "console.example.com" } } }))).MINIO_BROWSER_REDIRECT_URL).toBe(
      "https://console.example.com",
    );
    expect((await env(tenant({ features: { domains: { console: "http://c.example.com:9090" } } }))).MINIO_BROWSER_REDIRECT_URL).toBe(
      "http://c.example.com:9090",
    );
    expect((await env(tenant())).MINIO_BROWSER_REDIRECT_URL).toBeUndefined();
    expect((await env(tenant())).MINIO_DOMAIN).toBeUndefined();
  });

  test("KES with default and custom key name", async () => {
    const e = (await env(tenant({ kes: { image: "minio/kes" } })));
    expect(e).toMatchObject({
      MINIO_KMS_KES_ENDPOINT: "https://myminio-kes-hl-svc.minio-tenant.svc.cluster.local:7373",
      MINIO_KMS_KES_CERT_FILE: "/tmp/certs/client.crt",
      MINIO_KMS_KES_KEY_FILE: "/tmp/certs/client.key",
      MINIO_KMS_KES_CA_PATH: "/tmp/certs/CAs/kes.crt",
      MINIO_KMS_KES_CAPATH: "/tmp/certs/CAs/kes.crt",
      MINIO_KMS_KES_KEY_NAME: "my-minio-key",
    });
    expect((await env(tenant({ kes: { keyName: "k1" } }))).MINIO_KMS_KES_KEY_NAME).toBe("k1");
    expect((await env(tenant())).MINIO_KMS_KES_ENDPOINT).toBeUndefined();
  });

  test("crun runtime class on any pool sets HOME=/", async () => {
    expect((await env(tenant({ pools: [pool(), pool({ runtimeClassName: "crun" })] }))).HOME).toBe("/");
    expect((await env(tenant({ pools: [pool({ runtimeClassName: "runc" })] }))).HOME).toBeUndefined();
  });

  test("prometheusOperator names the job after tenant and namespace", async () => {
    expect((await env(tenant({ prometheusOperator: true }))).MINIO_PROMETHEUS_JOB_ID).toBe("myminio-minio-tenant-minio-job");
    expect((await env(tenant({ prometheusOperator: false }))).MINIO_PROMETHEUS_JOB_ID).toBe("minio-job");
  });
});

describe("overlays", () => {
  test("spec.env overrides defaults; the Secret overrides both", async () => {
    const t = tenant({
      env: [
        { name: "MINIO_UPDATE", value: "off" },
        { name: "MINIO_BROWSER", value: "off" },
        { name: "MINIO_STORAGE_CLASS_STANDARD", value: "EC:4" },
        { name: "EMPTY" },
      ],
    });
    const e = (await env(t, `${CREDENTIALS}MINIO_STORAGE_CLASS_STANDARD=EC:2\n`));
    expect(e.MINIO_UPDATE).toBe("off");
    expect(e.MINIO_BROWSER).toBe("off");
    expect(e.MINIO_STORAGE_CLASS_STANDARD).toBe("EC:2");
    expect(e.EMPTY).toBe("");
  });

  test("the Secret can override MINIO_ARGS and MINIO_SERVER_URL like any default", async () => {
    const e = (await env(tenant(), `${CREDENTIALS}MINIO_SERVER_URL=https://s3.corp:443\n`));
    expect(e.MINIO_SERVER_URL).toBe("https://s3.corp:443");
  });

  test("valueFrom entries are skipped with a warning naming the entry, not a value", async () => {
    const t = tenant({ env: [{ name: "FROM_SECRET", valueFrom: { secretKeyRef: { name: "x", key: "y" } } }] });
    const g = await gen(t);
    expect(g.env.has("FROM_SECRET")).toBe(false);
    expect(g.warnings).toEqual(["Tenant minio-tenant/myminio: spec.env[0] (FROM_SECRET): valueFrom cannot be resolved by the sidecar, skipped"]);
  });
});

describe("credentials", () => {
  const missing = /Secret minio-tenant\/myminio-env-configuration: config.env: missing root credentials/;
  test.each([
    ["no password", 'export MINIO_ROOT_USER="minio"\n'],
    ["no user", `export MINIO_ROOT_PASSWORD="${PASSWORD}"\n`],
    ["empty password", 'export MINIO_ROOT_USER="minio"\nexport MINIO_ROOT_PASSWORD=""\n'],
    ["empty user", `MINIO_ROOT_USER=\nMINIO_ROOT_PASSWORD=${PASSWORD}\n`],
    ["empty config.env", ""],
    ["no config.env key", null],
  ])("%s is an error", async (_, configEnv) => {
    await expect(gen(tenant(), configEnv)).rejects.toThrow(missing);
  });

  test("legacy access/secret key names count as credentials", async () => {
    const e = (await env(tenant(), `MINIO_ACCESS_KEY=minio\nMINIO_SECRET_KEY=${PASSWORD}\n`));
    expect(e.MINIO_SECRET_KEY).toBe(PASSWORD);
  });

  test.each([
    ["a password", [{ name: "MINIO_ROOT_PASSWORD", value: PASSWORD }], 'MINIO_ROOT_USER="minio"\n'],
    ["a legacy secret key", [{ name: "MINIO_SECRET_KEY", value: PASSWORD }], "MINIO_ACCESS_KEY=minio\n"],
    ["a user", [{ name: "MINIO_ROOT_USER", value: "minio" }], `MINIO_ROOT_PASSWORD=${PASSWORD}\n`],
    ["both", [{ name: "MINIO_ROOT_USER", value: "minio" }, { name: "MINIO_ROOT_PASSWORD", value: PASSWORD }], "MINIO_BROWSER=on\n"],
  ])("%s in spec.env does not count: the Secret alone must hold the credentials, as the operator checks them", async (_, specEnv, configEnv) => {
    const t = tenant({ env: specEnv });
    await expect(gen(t, configEnv)).rejects.toThrow(missing);
    await expect(gen(t, configEnv)).rejects.not.toThrow(PASSWORD);
  });

  test("a password in spec.env is a warning naming the entry, never the value; the Secret's value wins", async () => {
    const tenantPassword = "plain-text-in-the-Tenant";
    const t = tenant({
      env: [
        { name: "MINIO_BROWSER", value: "on" },
        { name: "MINIO_ROOT_USER", value: "tenant-user" },
        { name: "MINIO_ROOT_PASSWORD", value: "" },
        { name: "MINIO_ROOT_PASSWORD", value: tenantPassword },
        { name: "MINIO_SECRET_KEY", value: tenantPassword },
      ],
    });
    const g = await gen(t);
    const why = "a password in spec.env is readable by anyone who can read the Tenant and does not count as root credentials; set it in Secret minio-tenant/myminio-env-configuration config.env";
    // A user name is no secret and an empty value no password: neither is warned about.
    expect(g.warnings).toEqual([
      `Tenant minio-tenant/myminio: spec.env[3] (MINIO_ROOT_PASSWORD): ${why}`,
      `Tenant minio-tenant/myminio: spec.env[4] (MINIO_SECRET_KEY): ${why}`,
    ]);
    expect(g.warnings.join("\n")).not.toContain(tenantPassword);
    expect(g.env.get("MINIO_ROOT_USER")).toBe("minio");
    expect(g.env.get("MINIO_ROOT_PASSWORD")).toBe(PASSWORD);
    // The bucket loop signs with the merged config's credentials: the Secret's, not the Tenant's legacy key.
    expect(rootCredentials(g.env)).toEqual({ accessKeyId: "minio", secretAccessKey: PASSWORD });
  });

  test("the error message never contains the secret value", async () => {
    let message = "";
    try {
      await gen(tenant(), `MINIO_ROOT_USER=\nMINIO_ROOT_PASSWORD=${PASSWORD}\n`);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(missing);
    expect(message).not.toContain(PASSWORD);
  });
});

describe("unrepresentable values", () => {
  test("a spec.env value with a newline fails naming the variable, not the value", async () => {
    const t = tenant({ env: [{ name: "MULTI", value: "line1\nhunter2" }] });
    await expect(gen(t)).rejects.toThrow("Tenant minio-tenant/myminio: spec.env[0] (MULTI): value contains a line break or NUL");
    await expect(gen(t)).rejects.not.toThrow(/hunter2/);
  });
  test.each([["CR", "a\rb"], ["NUL", "a\0b"]])("a Secret value with %s fails naming the variable", async (_, v) => {
    await expect(gen(tenant(), `${CREDENTIALS}BAD=${v}\n`)).rejects.toThrow(
      "Secret minio-tenant/myminio-env-configuration: config.env BAD: value contains a line break or NUL",
    );
  });
  test("a spec.env name that is not a variable name is an error", async () => {
    await expect(gen(tenant({ env: [{ name: "BAD-NAME", value: "x" }] }))).rejects.toThrow(
      "Tenant minio-tenant/myminio: spec.env[0].name: is not a valid environment variable name",
    );
  });
});
