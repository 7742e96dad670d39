/** `render` end to end from the command line, and the CLI's usage errors (SPEC 2). */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cliCommand, runCli, runProcess } from "./support/cli.ts";
import { CREDENTIALS, PASSWORD, pool, secret, tenant } from "./support/objects.ts";

const EX = new URL("./fixtures/examples/", import.meta.url).pathname;
let dir = "";
beforeAll(async () => (dir = await mkdtemp(join(tmpdir(), "render-"))));
afterAll(() => rm(dir, { recursive: true, force: true }));

async function files(t: unknown, s: unknown) {
  const tf = join(dir, `t-${Math.random()}.json`);
  const sf = join(dir, `s-${Math.random()}.json`);
  await writeFile(tf, JSON.stringify(t));
  await writeFile(sf, JSON.stringify(s));
  return ["--tenant-file", tf, "--secret-file", sf];
}

/** One line on stderr, exit 1, and no secret value anywhere. */
function expectOneLineError(r: { code: number | null; stdout: string; stderr: string }, message: string) {
  expect(r.code).toBe(1);
  expect(r.stdout).toBe("");
  expect(r.stderr).toBe(`error: ${message}\n`);
  expect(r.stderr).not.toContain(PASSWORD);
}

describe("render the examples (base, lite, tiny)", () => {
  for (const name of ["base", "lite", "tiny"]) {
    for (const secretFile of ["secret.yaml", "secret.json"]) {
      test(`tenant-${name} with ${secretFile}`, async () => {
        const r = await runCli(["render", "--tenant-file", `${EX}tenant-${name}.yaml`, "--secret-file", `${EX}${secretFile}`]);
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toBe(await readFile(`${EX}tenant-${name}.expected.env`, "utf8"));
      });
    }
  }

  test("one file may hold both objects; CLUSTER_DOMAIN is honoured", async () => {
    const both = join(dir, "both.yaml");
    await writeFile(both, `${await readFile(`${EX}tenant-base.yaml`, "utf8")}\n---\n${await readFile(`${EX}secret.yaml`, "utf8")}`);
    const r = await runCli(["render", "--tenant-file", both, "--secret-file", both], { env: { CLUSTER_DOMAIN: "corp.internal" } });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('export MINIO_ARGS="https://myminio-pool-0-{0...3}.myminio-hl.minio-tenant.svc.corp.internal/export{0...3}"\n');
  });
});

describe("render failures: exit 1, one stderr line naming object and field", () => {
  test("a Secret without a password", async () => {
    const r = await runCli(["render", ...(await files(tenant(), secret('MINIO_ROOT_USER=minio\nMINIO_BROWSER=on\n')))]);
    expectOneLineError(r, "Secret minio-tenant/myminio-env-configuration: config.env: missing root credentials (set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD to non-empty values in the Secret; spec.env does not count)");
  });

  test("a password in the Tenant's spec.env instead of the Secret", async () => {
    const t = tenant({ env: [{ name: "MINIO_ROOT_PASSWORD", value: PASSWORD }] });
    const r = await runCli(["render", ...(await files(t, secret("MINIO_ROOT_USER=minio\n")))]);
    expectOneLineError(r, "Secret minio-tenant/myminio-env-configuration: config.env: missing root credentials (set MINIO_ROOT_USER and MINIO_ROOT_PASSWORD to non-empty values in the Secret; spec.env does not count)");
  });

  test("an invalid pool", async () => {
    const r = await runCli(["render", ...(await files(tenant({ pools: [pool({ servers: 2, volumesPerServer: 1 })] }), secret()))]);
    expectOneLineError(r, "Tenant minio-tenant/myminio: spec.pools[0].volumesPerServer: a pool of 2 servers needs at least 4 volumes in total");
  });

  test("a value with a newline", async () => {
    const t = tenant({ env: [{ name: "MINIO_IDENTITY_OPENID_CLIENT_SECRET", value: `${PASSWORD}\nnext` }] });
    const r = await runCli(["render", ...(await files(t, secret()))]);
    expectOneLineError(r, "Tenant minio-tenant/myminio: spec.env[0] (MINIO_IDENTITY_OPENID_CLIENT_SECRET): value contains a line break or NUL, which MinIO's config file cannot represent");
  });

  test("a missing file and an unparseable manifest", async () => {
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, `kind: Tenant\npassword: {${PASSWORD}: [unclosed\n`);
    const r = await runCli(["render", "--tenant-file", bad, "--secret-file", join(dir, "nope.yaml")]);
    expect(r.code).toBe(1);
    expect(r.stderr.split("\n").filter(Boolean)).toHaveLength(1);
    expect(r.stderr).not.toContain(PASSWORD);
    const r2 = await runCli(["render", "--tenant-file", bad, "--secret-file", `${EX}secret.yaml`]);
    expect(r2.stderr).toMatch(/^error: Tenant file .*bad\.yaml: not valid YAML or JSON at line 3: unexpected end of the stream within a flow collection\n$/);
    expect(r2.stderr).not.toContain(PASSWORD);
  });

  test("YAML errors name the line and the kind of problem, never an alias, tag or directive name (a password's first word, say)", async () => {
    const word = "Correct7horse";
    const cases: Array<[string, string]> = [
      [`apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  config.env: *${word}\n`, "at line 6: unidentified alias"],
      [`apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  config.env: !${word} x\n`, "at line 6: unknown tag"],
      [`apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  config.env: !w!${word} x\n`, "at line 6: undeclared tag handle"],
      [`apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  config.env: !<${word}> x\n`, "at line 6: unknown tag"],
    ];
    for (const [text, problem] of cases) {
      const sf = join(dir, `alias-${Math.random()}.yaml`);
      await writeFile(sf, text);
      const r = await runCli(["render", "--tenant-file", `${EX}tenant-base.yaml`, "--secret-file", sf]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`not valid YAML or JSON ${problem}`);
      expect(r.stderr).not.toContain(word);
    }
  });

  test("manifests from pipes (--tenant-file <(kubectl get ...)), a directory and an empty file", async () => {
    const direct = await runCli(["render", "--tenant-file", `${EX}tenant-base.yaml`, "--secret-file", `${EX}secret.yaml`]);
    expect(direct.code).toBe(0);
    // What bash's process substitution hands over: /dev/fd/N, the read end of a pipe.
    const piped = await runProcess("bash", ["-c", 'exec "$@" 3< <(cat "$T") 4< <(cat "$S")', "bash", ...cliCommand(["render", "--tenant-file", "/dev/fd/3", "--secret-file", "/dev/fd/4"])], {
      env: { T: `${EX}tenant-base.yaml`, S: `${EX}secret.yaml`, KUBERNETES_SERVICE_HOST: undefined },
    });
    expect([piped.code, piped.stderr]).toEqual([0, ""]);
    expect(piped.stdout).toBe(direct.stdout);

    expectOneLineError(await runCli(["render", "--tenant-file", dir, "--secret-file", `${EX}secret.yaml`]), `Tenant file ${dir}: cannot read (EISDIR)`);
    const empty = join(dir, "empty.yaml");
    await writeFile(empty, "");
    expectOneLineError(await runCli(["render", "--tenant-file", empty, "--secret-file", `${EX}secret.yaml`]), `Tenant file ${empty}: no document of kind Tenant`);
  });

  test("warnings go to stderr, the file alone to stdout", async () => {
    const r = await runCli(["render", ...(await files(tenant(), secret(`${CREDENTIALS}garbage line ${PASSWORD}\n`)))]);
    expect(r.code).toBe(0);
    expect(r.stdout.split("\n").every((l) => l === "" || l.startsWith("export "))).toBe(true);
    expect(r.stderr).toBe("warning: Secret minio-tenant/myminio-env-configuration: config.env line 3: not NAME=VALUE, skipped\n");
  });

  test("a password also in spec.env: a warning naming the entry, the Secret's password in the file", async () => {
    const t = tenant({ env: [{ name: "MINIO_ROOT_PASSWORD", value: "tenant-plain-text" }] });
    const r = await runCli(["render", ...(await files(t, secret()))]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`export MINIO_ROOT_PASSWORD="${PASSWORD}"\n`);
    expect(r.stdout).not.toContain("tenant-plain-text");
    expect(r.stderr).toStartWith("warning: Tenant minio-tenant/myminio: spec.env[0] (MINIO_ROOT_PASSWORD): a password in spec.env");
    expect(r.stderr).not.toContain("tenant-plain-text");
  });
});

describe("usage", () => {
  test.each([
    [["rendr"], 'unknown command "rendr"; did you mean "render"?'],
    [["valdate", "--tenant", "x"], 'unknown command "valdate"; did you mean "validate"?'],
    [["render", "--tenant-fil", "x"], 'unknown flag "--tenant-fil" for render; did you mean "--tenant-file"?'],
    [["s", "--tenant", "t"], "missing required flag --config-name"],
    [["render", "--tenant-file"], "flag --tenant-file needs a value (PATH)"],
    [["frobnicate"], 'unknown command "frobnicate"'],
    [["validate", "--tenant", "t", "--log-level", "dbug"], 'invalid --log-level "dbug": one of fatal, error, warn, info, debug, trace, silent; did you mean "debug"?'],
    [[], "missing command"],
  ])("%j exits 2", async (args, message) => {
    const r = await runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toStartWith(`error: ${message}\n`);
    expect(r.stderr).toContain("usage: minio-operator-sidecar");
  });

  test("--help, command help and --version", async () => {
    const help = await runCli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("validate (v)");
    const cmd = await runCli(["sidecar", "--help"]);
    expect(cmd.stdout).toContain("--webhook-address HOST:PORT");
    expect(cmd.stdout).toContain("[default: 127.0.0.1:4222]");
    const v = await runCli(["--version"]);
    expect(v.stdout).toMatch(/^minio-operator-sidecar \S+ \(commit \S+, built \S+\)\n$/);
  });
});
