/**
 * SPEC 2: flag values are checked before anything starts. A malformed value
 * is a usage error (exit 2) naming the flag, before any API request, file or
 * socket; a port in use is reported at once, naming its flag.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer, type FakeApiServer } from "./fake-apiserver/index.ts";
import { runCli } from "./support/cli.ts";
import { NS, secret, tenant } from "./support/objects.ts";
import { freePort } from "./support/sidecar.ts";

let api: FakeApiServer;
// Fixed up front: the test tables below are built when the file loads.
const dir = await mkdtemp(join(tmpdir(), "cli-flags-"));
const kubeconfig = join(dir, "kubeconfig");
beforeAll(async () => {
  api = await startFakeApiServer({ objects: [tenant(), secret()] });
  await api.writeKubeconfig(kubeconfig, { namespace: NS });
});
afterAll(async () => {
  await api?.close();
  await rm(dir, { recursive: true, force: true });
});

const sidecarArgs = (...extra: string[]) => [
  "sidecar", "--tenant", "myminio", "--config-name", "myminio-env-configuration",
  "--kubeconfig", kubeconfig, "--config-file", join(dir, "never.env"), ...extra,
];
const validateArgs = (...extra: string[]) => ["validate", "--tenant", "myminio", "--kubeconfig", kubeconfig, "--config-file", join(dir, "never.env"), ...extra];

describe("malformed values: exit 2 naming the flag, nothing contacted", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["--probe-address without a port", sidecarArgs("--probe-address", "0.0.0.0"), /^error: invalid --probe-address "0\.0\.0\.0": want HOST:PORT/],
    ["--probe-address port out of range", sidecarArgs("--probe-address", "127.0.0.1:70000"), /^error: invalid --probe-address "127\.0\.0\.1:70000"/],
    ["--webhook-address garbage", sidecarArgs("--webhook-address", "localhost:http"), /^error: invalid --webhook-address "localhost:http"/],
    ["--sidecar-address with a path", sidecarArgs("--sidecar-address", "127.0.0.1:4224/x"), /^error: invalid --sidecar-address "127\.0\.0\.1:4224\/x"/],
    ["--minio-url not a URL", sidecarArgs("--minio-url", "localhost:9000"), /^error: invalid --minio-url: (not a URL|scheme localhost is not http or https)/],
    ["--minio-url ftp", sidecarArgs("--minio-url", "ftp://localhost:9000"), /^error: invalid --minio-url: scheme ftp is not http or https/],
    ["--minio-url with credentials (not echoed)", sidecarArgs("--minio-url", "http://admin:hunter22@localhost:9000"), /^error: invalid --minio-url: the URL must not carry credentials\n/],
    ["--namespace not a DNS-1123 label (sidecar)", sidecarArgs("--namespace", "Minio_Tenant"), /^error: invalid --namespace "Minio_Tenant": not a valid namespace/],
    ["--namespace not a DNS-1123 label (validate)", validateArgs("--namespace", "-tenant"), /^error: invalid --namespace "-tenant": not a valid namespace/],
    ["--namespace too long", validateArgs("--namespace", "a".repeat(64)), /^error: invalid --namespace "a{64}": not a valid namespace/],
    ["--retry-for not a duration", validateArgs("--retry-for", "60"), /^error: invalid --retry-for "60": not a duration/],
    ["--retry-for with an unknown unit", validateArgs("--retry-for", "1d"), /^error: invalid --retry-for "1d": not a duration/],
    ["--namespace for render", ["render", "--tenant-file", "x", "--secret-file", "y", "--namespace", "UPPER"], /^error: invalid --namespace "UPPER"/],
    [
      "--webhook-address beyond loopback",
      sidecarArgs("--webhook-address", "0.0.0.0:4222"),
      /^error: --webhook-address 0\.0\.0\.0:4222 is not a loopback address; .* unless --allow-remote-webhook is given\n/,
    ],
    ["--webhook-address on every interface (:PORT)", sidecarArgs("--webhook-address", ":4222"), /^error: --webhook-address :4222 is not a loopback address/],
  ];
  for (const [what, args, line] of cases) {
    test(what, async () => {
      const from = api.requests.length;
      const t0 = performance.now();
      const r = await runCli(args);
      expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 2, stdout: "" });
      expect(r.stderr).toMatch(line);
      expect(r.stderr.split("\n")[1]).toStartWith("usage: minio-operator-sidecar ");
      expect(r.stderr).not.toContain("hunter22");
      expect(api.requests.length).toBe(from); // refused before any request
      expect(performance.now() - t0).toBeLessThan(5_000);
    });
  }
});

describe("accepted values", () => {
  test("loopback webhook addresses pass: 127.0.0.1, 127.1.2.3, [::1], localhost (parse only: --help after them)", async () => {
    for (const a of ["127.0.0.1:0", "127.1.2.3:0", "[::1]:0", "localhost:0"]) {
      const r = await runCli(["sidecar", "--tenant", "t", "--config-name", "c", "--webhook-address", a, "--retry-for-nothing"]);
      // An unknown flag after a good value: the value itself was not what failed.
      expect(r.stderr).toStartWith('error: unknown flag "--retry-for-nothing" for sidecar');
    }
  });

  test("--allow-remote-webhook lets a non-loopback --webhook-address through parsing (here: not on this host, so the bind check names it)", async () => {
    const r = await runCli(sidecarArgs("--allow-remote-webhook", "--webhook-address", "192.0.2.1:4222", "--probe-address", "127.0.0.1:0", "--sidecar-address", "127.0.0.1:0"));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("error: --webhook-address 192.0.2.1:4222: address not available on this host\n");
  });
});

describe("a port in use: reported at once, naming the flag, before the first read of the cluster", () => {
  let holder: Server;
  let port = 0;
  let unreachable = "";
  beforeAll(async () => {
    holder = createServer();
    await new Promise<void>((r) => holder.listen(0, "127.0.0.1", () => r()));
    port = (holder.address() as { port: number }).port;
    // An API server that is not there: waiting for the first read would take 10 s.
    unreachable = join(dir, "unreachable.kubeconfig");
    await api.writeKubeconfig(unreachable, { namespace: NS, server: `https://127.0.0.1:${await freePort()}` });
  });
  afterAll(() => holder?.close());

  for (const flag of ["--probe-address", "--webhook-address", "--sidecar-address"]) {
    test(flag, async () => {
      const others = ["--probe-address", "--webhook-address", "--sidecar-address"].filter((f) => f !== flag).flatMap((f) => [f, "127.0.0.1:0"]);
      const t0 = performance.now();
      const r = await runCli([
        "sidecar", "--tenant", "myminio", "--config-name", "myminio-env-configuration", "--kubeconfig", unreachable,
        "--config-file", join(dir, "never.env"), flag, `127.0.0.1:${port}`, ...others,
      ]);
      const ms = performance.now() - t0;
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(`error: ${flag} 127.0.0.1:${port}: address already in use (another process, or another of the three address flags, holds this port)\n`);
      expect(ms).toBeLessThan(5_000);
    });
  }

  test("two flags naming one port: the second is named; the sidecar writes its termination message too", async () => {
    const p = await freePort();
    const log = join(dir, "sidecar-termination-log");
    await writeFile(log, "");
    const r = await runCli([
      "sidecar", "--tenant", "myminio", "--config-name", "myminio-env-configuration", "--kubeconfig", unreachable, "--config-file", join(dir, "never.env"),
      "--probe-address", `127.0.0.1:${p}`, "--webhook-address", "127.0.0.1:0", "--sidecar-address", `127.0.0.1:${p}`, "--termination-log", log,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith(`error: --sidecar-address 127.0.0.1:${p}: address already in use`);
    expect(await readFile(log, "utf8")).toBe(r.stderr);
  });
});
