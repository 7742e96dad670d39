/**
 * A port that is already taken is a start-up error, never a silently shared
 * port: the holder here even allows sharing (SO_REUSEPORT, as another Bun or
 * Elysia server would by default), so only our own reusePort: false refuses.
 */
import { expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer } from "./fake-apiserver/index.ts";
import { runCli } from "./support/cli.ts";
import { NS, secret, tenant } from "./support/objects.ts";

test("sidecar exits 1 naming the flag and address when its probe port is in use", async () => {
  const api = await startFakeApiServer({ objects: [tenant(), secret()] });
  const dir = await mkdtemp(join(tmpdir(), "listen-"));
  const taken = Bun.serve({ hostname: "127.0.0.1", port: 0, reusePort: true, fetch: () => new Response("someone else") });
  const port = taken.port!;
  try {
    const kubeconfig = join(dir, "kubeconfig");
    await api.writeKubeconfig(kubeconfig, { namespace: NS });
    const r = await runCli([
      "sidecar", "--tenant", "myminio", "--config-name", "myminio-env-configuration", "--namespace", NS,
      "--kubeconfig", kubeconfig, "--config-file", join(dir, "config.env"),
      "--probe-address", `127.0.0.1:${port}`, "--webhook-address", "127.0.0.1:0", "--sidecar-address", "127.0.0.1:0",
    ], { timeoutMs: 8_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`error: --probe-address 127.0.0.1:${port}: address already in use (another process, or another of the three address flags, holds this port)\n`);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  } finally {
    taken.stop(true);
    await api.close();
    await rm(dir, { recursive: true, force: true });
  }
}, 30_000);
