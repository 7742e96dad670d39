/**
 * test/scenarios/webhook-buckets.ts against the in-repo fake API server, plus
 * the rows only a fake can stage: the Kubernetes API answering 500/503 or
 * being down while the webhook is called (SPEC 6: 502 with the reason).
 */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { fakeBackend } from "./support/backend.ts";
import type { SidecarProcess } from "./support/sidecar.ts";
import { startWorld, type World } from "./fake-minio/world.ts";
import { Buffer } from "node:buffer";
import net from "node:net";
import { NS, TENANT } from "./fake-minio/world.ts";
import { HOOK, hook, serviceWrites, startupReconcileDone, webhookScenarios } from "./scenarios/webhook-buckets.ts";

// Real processes and servers: more than bun test's default 5 s per test (bunfig's timeout key is not applied by Bun 1.4.5).
setDefaultTimeout(30_000);

webhookScenarios(fakeBackend);

describe("webhook when the Kubernetes API fails", () => {
  let w: World;
  let sc: SidecarProcess;
  beforeAll(async () => {
    w = await startWorld();
    sc = await w.sidecar();
    await startupReconcileDone(sc);
  });
  afterAll(() => w.close());

  test("Kubernetes API answers 500: 502 with the reason; the next request works", async () => {
    w.api.failNext(1, 500, { match: (r) => r.resource === "services" });
    const r = await hook(sc, "?bucket=api-fails");
    expect(r.status).toBe(502);
    expect(r.body).toContain("Kubernetes API");
    expect(r.body).toContain("500");
    expect(await w.service("api-fails")).toBeUndefined();
    expect((await hook(sc, "?bucket=api-fails")).status).toBe(200);
    expect(await w.service("api-fails")).toBeDefined();
  });

  test("Kubernetes API refuses a delete with 503: 502, the Service stays", async () => {
    expect((await hook(sc, "?bucket=api-fails-delete")).status).toBe(200);
    w.api.failNext(1, 503, { match: (r) => r.resource === "services" && r.verb === "delete" });
    const r = await hook(sc, "?bucket=api-fails-delete&delete=true");
    expect(r.status).toBe(502);
    expect(r.body).toContain("503");
    expect(await w.service("api-fails-delete")).toBeDefined();
  });

  test("Kubernetes API server down: 502 with the reason; the sidecar keeps serving and recovers", async () => {
    await w.api.stop();
    try {
      const r = await hook(sc, "?bucket=api-down");
      expect(r.status).toBe(502);
      expect(r.body).toContain("Kubernetes API");
      expect(r.body).toMatch(/ECONNREFUSED|Unable to connect|connect/i);
      expect((await hook(sc, "?bucket=api-down&delete=true")).status).toBe(502);
      expect((await sc.probe("/healthz")).status).toBe(200);
      expect((await sc.probe("/ready")).status).toBe(200);
      expect((await hook(sc, "?bucket=Not.Valid")).status).toBe(400); // decided without the API
    } finally {
      await w.api.start();
    }
    expect((await hook(sc, "?bucket=api-down")).status).toBe(200);
    expect(await w.service("api-down")).toBeDefined();
    expect(sc.proc.exitCode).toBeNull();
  });
});

/**
 * One request over a raw socket, so the target reaches the server exactly as
 * written (fetch would normalise it) and the answer's framing can be checked:
 * every answer must carry Content-Length, since MinIO reads an error body only
 * that far. (Request parsing needs no real API server: these run on the fake.)
 */
async function rawHook(sc: SidecarProcess, target: string, method = "POST") {
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(sc.ports.webhook, "127.0.0.1", () =>
      socket.write(`${method} ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
    );
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("end", () => resolve(data));
    socket.on("error", reject);
  });
  const split = answer.indexOf("\r\n\r\n");
  const [statusLine = "", ...headerLines] = answer.slice(0, split).split("\r\n");
  const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
  const body = answer.slice(split + 4);
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

function expectFramed(r: Awaited<ReturnType<typeof rawHook>>) {
  expect(r.headers["transfer-encoding"]).toBeUndefined();
  expect(r.headers["content-length"]).toBe(String(Buffer.byteLength(r.body, "latin1")));
  expect(r.body.length).toBeGreaterThan(0);
}

describe("webhook request parsing", () => {
  let w: World;
  let sc: SidecarProcess;
  beforeAll(async () => {
    w = await startWorld();
    sc = await w.sidecar();
    await startupReconcileDone(sc);
  });
  afterAll(() => w.close());

  describe("400 when `bucket` or `delete` is repeated or `delete` is not true/false; nothing done", () => {
    const cases: Record<string, string> = {
      "delete=true&delete=false on an absent bucket (last-wins would create)": "?bucket=dup-absent&delete=true&delete=false",
      "delete=false&delete=true on an existing bucket (last-wins would delete)": "?bucket=dup-present&delete=false&delete=true",
      "delete twice with one value": "?bucket=dup-absent&delete=false&delete=false",
      "bucket twice": "?bucket=dup-absent&bucket=dup-other",
      "bucket twice with one value": "?bucket=dup-absent&bucket=dup-absent",
      "delete=1": "?bucket=dup-present&delete=1",
      "delete=TRUE": "?bucket=dup-present&delete=TRUE",
      "delete=True": "?bucket=dup-present&delete=True",
      "delete=t": "?bucket=dup-present&delete=t",
      "delete=0": "?bucket=dup-absent&delete=0",
      "delete empty": "?bucket=dup-absent&delete=",
      "delete without a value": "?bucket=dup-absent&delete",
      "delete=yes": "?bucket=dup-present&delete=yes",
    };
    beforeAll(async () => {
      expect((await hook(sc, "?bucket=dup-present")).status).toBe(200);
    });
    for (const [what, q] of Object.entries(cases)) {
      test(what, async () => {
        const before = structuredClone(await w.service("dup-present"));
        const from = w.api.requests.length;
        const r = await rawHook(sc, `${HOOK}${q}`);
        expect(r.status).toBe(400);
        expectFramed(r);
        expect(w.api.requests.slice(from).filter((x) => x.resource === "services")).toEqual([]);
        expect(await w.service("dup-absent")).toBeUndefined();
        expect(await w.service("dup-other")).toBeUndefined();
        expect(await w.service("dup-present")).toEqual(before!);
      });
    }
    test("exactly true and false still work", async () => {
      expect((await rawHook(sc, `${HOOK}?bucket=dup-exact&delete=false`)).status).toBe(200);
      expect(await w.service("dup-exact")).toBeDefined();
      expect((await rawHook(sc, `${HOOK}?delete=true&bucket=dup-exact`)).status).toBe(200);
      expect(await w.service("dup-exact")).toBeUndefined();
    });
  });

  describe("the path must match exactly: anything else is 404 for any method, nothing done", () => {
    const targets = [
      `${HOOK}/`,
      `${HOOK}//`,
      `${HOOK}/?bucket=path-exact`,
      `/webhook/v1/bucketsrv/${NS}//${TENANT}`,
      `/webhook/v1/bucketsrv//${NS}/${TENANT}`,
      `//webhook/v1/bucketsrv/${NS}/${TENANT}`,
      `/webhook/v1/bucketsrv/${NS}/%E0%A4%A`,
    ];
    for (const target of targets) {
      test(target, async () => {
        const from = w.api.requests.length;
        for (const method of ["POST", "GET"]) {
          const r = await rawHook(sc, target.includes("?") ? target : `${target}?bucket=path-exact`, method);
          expect({ method, status: r.status }).toEqual({ method, status: 404 });
          expectFramed(r);
        }
        expect(serviceWrites(w, from)).toEqual([]);
        expect(await w.service("path-exact")).toBeUndefined();
      });
    }
    test("a percent-encoded segment is decoded: it names the same tenant", async () => {
      const r = await rawHook(sc, `/webhook/v1/bucketsrv/${NS.replace("-", "%2D")}/${TENANT}?bucket=path-encoded`);
      expect(r.status).toBe(200);
      expectFramed(r);
      expect(await w.service("path-encoded")).toBeDefined();
    });
  });

  test("every other answer carries Content-Length too: 200, 403, 405, 409, invalid name", async () => {
    for (const [target, method, status] of [
      [`${HOOK}?bucket=framed`, "POST", 200],
      [`/webhook/v1/bucketsrv/other/${TENANT}?bucket=framed`, "POST", 403],
      [`${HOOK}?bucket=framed`, "GET", 405],
      [`${HOOK}?bucket=minio`, "POST", 409],
      [`${HOOK}?bucket=Not.Valid`, "POST", 400],
    ] as const) {
      const r = await rawHook(sc, target, method);
      expect({ target, method, status: r.status }).toEqual({ target, method, status });
      expectFramed(r);
      if (status === 400) expect(r.body).toContain("invalid bucket name");
    }
  });
});
