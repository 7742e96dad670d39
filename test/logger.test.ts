/** pino redaction: even if a secret-bearing field reaches the logger, its value does not reach the output. */
import { expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { PASSWORD } from "./support/objects.ts";

test("secret-bearing fields are censored at any depth", () => {
  const script = `
    import { createLogger } from "${new URL("../src/log/logger.ts", import.meta.url).pathname}";
    const log = createLogger({ level: "info" });
    const p = ${JSON.stringify(PASSWORD)};
    log.info({ password: p, env: { MINIO_ROOT_PASSWORD: p }, secret: { data: { "config.env": p } } }, "top");
    log.info({ req: { headers: { authorization: "Bearer " + p } } }, "nested");
    log.info({ obj: { value: p, token: p } }, "values");
    const err = Object.assign(new Error("request failed"), { config: { headers: { authorization: p } }, code: "E1" });
    log.error({ err }, "error");
    log.error(err);
    const input = { list: [{ password: p }], kept: { a: { b: { token: "deep-is-kept" } } } };
    log.info(input, "array");
    if (input.list[0].password !== p || err.config.headers.authorization !== p) throw new Error("the logged objects were changed");
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.map((l) => l.msg)).toEqual(["top", "nested", "values", "error", "request failed", "array"]);
  expect(r.stdout).not.toContain(PASSWORD);
  expect(lines[0].password).toBe("[redacted]");
  expect(lines[1].req.headers.authorization).toBe("[redacted]");
  expect(lines[2].obj.value).toBe("[redacted]");
  for (const l of [lines[3], lines[4]]) {
    expect(l.err).toMatchObject({ type: "Error", message: "request failed", code: "E1", config: "[redacted]" });
    expect(l.err.stack).toContain("request failed");
  }
  expect(lines[5].list[0].password).toBe("[redacted]");
  // Three levels down is past the depth pino's paths covered (key, *.key, *.*.key): kept as it was.
  expect(lines[5].kept.a.b.token).toBe("deep-is-kept");
});

test("the deferred logger: lines logged before pino is loaded come out in order, with the time they were logged", () => {
  const script = `
    import { deferredLogger } from "${new URL("../src/log/deferred.ts", import.meta.url).pathname}";
    const { log, flush } = deferredLogger({ level: "info", command: "validate" });
    const t0 = Date.now();
    log.info({ step: 1 }, "queued one");
    log.debug("not at info");
    log.warn({ password: ${JSON.stringify(PASSWORD)} }, "queued two");
    const busyUntil = Date.now() + 30; while (Date.now() < busyUntil) {} // pino cannot load before this returns
    await flush();
    log.error("after load");
    console.error(t0);
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const t0 = Number(r.stderr.trim());
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.map((l) => [l.level, l.msg, l.command])).toEqual([
    ["info", "queued one", "validate"],
    ["warn", "queued two", "validate"],
    ["error", "after load", "validate"],
  ]);
  expect(lines[0].step).toBe(1);
  expect(lines[1].password).toBe("[redacted]");
  // Stamped when logged, not when written (30 ms later).
  expect(Math.abs(Date.parse(lines[0].time) - t0)).toBeLessThan(15);
  expect(Date.parse(lines[2].time) - t0).toBeGreaterThanOrEqual(30);
});
