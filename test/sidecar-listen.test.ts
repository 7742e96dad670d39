/**
 * A port that is already taken is a start-up error, never a silently shared
 * port: the holder here even allows sharing (SO_REUSEPORT, as another Bun or
 * Elysia server would by default), so only our own reusePort: false refuses.
 * And the default addresses of the probe and sidecar API servers accept IPv4
 * and IPv6 (a kubelet probes an IPv6-only pod on its IPv6 address).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeApiServer } from "./fake-apiserver/index.ts";
import { runCli } from "./support/cli.ts";
import { NS, secret, tenant } from "./support/objects.ts";
import { freePort, startSidecar, type SidecarProcess } from "./support/sidecar.ts";

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

describe("probe and sidecar API listen on IPv4 and IPv6 by default", () => {
  test("the defaults are :4444 and :4224 (every address), the webhook's stays 127.0.0.1:4222", async () => {
    const r = await runCli(["sidecar", "--help"]);
    expect(r.stdout).toMatch(/--probe-address HOST:PORT[^\n]*\[default: :4444\]/);
    expect(r.stdout).toMatch(/--sidecar-address HOST:PORT[^\n]*\[default: :4224\]/);
    expect(r.stdout).toMatch(/--webhook-address HOST:PORT[^\n]*\[default: 127\.0\.0\.1:4222\]/);
  });

  describe("one sidecar with the defaults' form (:PORT) for both", () => {
    let api: Awaited<ReturnType<typeof startFakeApiServer>>;
    let dir: string;
    let sc: SidecarProcess;
    beforeAll(async () => {
      api = await startFakeApiServer({ objects: [tenant(), secret()] });
      dir = await mkdtemp(join(tmpdir(), "listen-"));
      const kubeconfig = join(dir, "kubeconfig");
      await api.writeKubeconfig(kubeconfig, { namespace: NS });
      sc = await startSidecar({ kubeconfig, namespace: NS, configName: "myminio-env-configuration", configFile: join(dir, "config.env"), anyAddress: true });
    });
    afterAll(async () => {
      await sc?.stop();
      await api?.close();
      await rm(dir, { recursive: true, force: true });
    });

    for (const host of ["127.0.0.1", "[::1]"]) {
      test(`/healthz and the sidecar API answer on ${host}`, async () => {
        expect((await fetch(`http://${host}:${sc.ports.probe}/healthz`)).status).toBe(200);
        expect((await fetch(`http://${host}:${sc.ports.sidecar}/`)).status).toBeLessThan(500);
      });
    }
    test("the webhook stays on 127.0.0.1 only", async () => {
      await expect(fetch(`http://[::1]:${sc.ports.webhook}/`)).rejects.toThrow();
    });
  });

  test("an explicit address is honoured exactly: 127.0.0.1 is not reachable on [::1], [::1] not on 127.0.0.1", async () => {
    const api = await startFakeApiServer({ objects: [tenant(), secret()] });
    const dir = await mkdtemp(join(tmpdir(), "listen-"));
    const p6 = await freePort();
    const kubeconfig = join(dir, "kubeconfig");
    await api.writeKubeconfig(kubeconfig, { namespace: NS });
    const sc = await startSidecar({
      kubeconfig, namespace: NS, configName: "myminio-env-configuration", configFile: join(dir, "config.env"),
      // The probe on 127.0.0.1:PORT (startSidecar's own); the sidecar API moved to [::1] (the last flag wins).
      args: ["--sidecar-address", `[::1]:${p6}`],
    });
    const p4 = sc.ports.probe;
    try {
      expect((await fetch(`http://127.0.0.1:${p4}/healthz`)).status).toBe(200);
      await expect(fetch(`http://[::1]:${p4}/healthz`)).rejects.toThrow();
      expect((await fetch(`http://[::1]:${p6}/`)).status).toBeLessThan(500);
      await expect(fetch(`http://127.0.0.1:${p6}/`)).rejects.toThrow();
    } finally {
      await sc.stop();
      await api.close();
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
