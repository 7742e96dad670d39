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
  `;
  const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
  expect(lines.map((l) => l.msg)).toEqual(["top", "nested", "values"]);
  expect(r.stdout).not.toContain(PASSWORD);
  expect(lines[0].password).toBe("[redacted]");
  expect(lines[1].req.headers.authorization).toBe("[redacted]");
  expect(lines[2].obj.value).toBe("[redacted]");
});
