/**
 * src/kube/kubeconfig.ts: every way a kubeconfig can authenticate and reach
 * the API server ends in a real request (node-fetch, as the kube client
 * makes them) to the fake API server over https with its CA, which checks
 * the bearer token. The proxies are real loopback proxies that record their
 * tunnels: a request that silently went direct fails the test.
 */
import { afterAll, beforeAll, describe, expect, setSystemTime, test } from "bun:test";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import fetch from "node-fetch";
import { loadKubeConfig, SERVICEACCOUNT_ROOT, type LiteKubeConfig } from "../src/kube/kubeconfig.ts";
import { loadTlsFixtures, startFakeApiServer, unrelatedCaPem, type FakeApiServer } from "./fake-apiserver/index.ts";
import { startConnectProxy, startSocks5Proxy } from "./support/proxies.ts";

const TOKEN = "static-token-9f1c";
const EXEC_TOKEN = "exec-token-77ad";
const SA_TOKEN = "sa-token-31b0";
const PROXY_PASSWORD = "proxy-pass-8c1e";
const SECRETS = "/api/v1/namespaces/default/secrets";

let api: FakeApiServer;
let dir: string;
beforeAll(async () => {
  api = await startFakeApiServer({ tokens: { [TOKEN]: "admin", [EXEC_TOKEN]: "admin", [SA_TOKEN]: "admin" } });
  dir = await mkdtemp(join(tmpdir(), "kubeconfig-test-"));
});
afterAll(async () => {
  await api.close();
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
/** A kubeconfig file (JSON is YAML) with one cluster, user and context. */
async function kubeconfigFile(cluster: Record<string, unknown>, user: Record<string, unknown>, context: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, `kubeconfig-${++n}`);
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster: { server: api.url, "certificate-authority-data": Buffer.from(api.caPem).toString("base64"), ...cluster } }],
    users: [{ name: "u", user }],
    contexts: [{ name: "ctx", context: { cluster: "c", user: "u", ...context } }],
    "current-context": "ctx",
  };
  await writeFile(file, JSON.stringify(doc, null, 2));
  return file;
}

/** One GET the way the kube client makes it; resolves with the status and the token the server saw. */
async function get(kc: LiteKubeConfig, path = SECRETS): Promise<{ status: number; token?: string }> {
  const before = api.requests.length;
  const opts = await kc.applyToFetchOptions({});
  const res = await fetch(`${kc.getCurrentCluster()!.server}${path}`, opts as never);
  await res.text();
  return { status: res.status, token: api.requests.slice(before).at(-1)?.token };
}

describe("token and certificate kubeconfigs (no client-node KubeConfig)", () => {
  test("the fake API server's own YAML kubeconfig: token, CA, namespace", async () => {
    const file = join(dir, "plain.yaml");
    await api.writeKubeconfig(file, { token: TOKEN, namespace: "minio-tenant" });
    const kc = loadKubeConfig(file);
    expect(kc.authPlugin()).toBeUndefined();
    expect(kc.getCurrentNamespace()).toBe("minio-tenant");
    expect(await get(kc)).toEqual({ status: 200, token: TOKEN });
  });

  test("clusters, users and contexts parse exactly as client-node parses them", async () => {
    const file = await kubeconfigFile({ "tls-server-name": "kubernetes", "proxy-url": "http://127.0.0.1:1" }, { token: TOKEN, as: "someone", "client-certificate": "rel/cert.pem" }, { namespace: "ns" });
    const full = new KubeConfig();
    full.loadFromFile(file);
    const lite = loadKubeConfig(file);
    expect(lite.getCurrentCluster()).toEqual(full.getCurrentCluster()!);
    expect(lite.getCurrentUser()).toEqual(full.getCurrentUser()!);
    expect(lite.getCurrentContextObject()).toEqual(full.getContextObject(full.getCurrentContext())!);
    expect(lite.getCurrentUser()!.certFile).toBe(join(dir, "rel/cert.pem"));
  });

  test("a CA the server's certificate does not chain to is refused", async () => {
    const kc = loadKubeConfig(await kubeconfigFile({ "certificate-authority-data": Buffer.from(unrelatedCaPem()).toString("base64") }, { token: TOKEN }));
    await expect(get(kc)).rejects.toThrow(/certificate/i);
  });

  test("tls-server-name is the name the certificate is checked against", async () => {
    const good = loadKubeConfig(await kubeconfigFile({ "tls-server-name": "kubernetes.default.svc" }, { token: TOKEN }));
    expect((await get(good)).status).toBe(200);
    const bad = loadKubeConfig(await kubeconfigFile({ "tls-server-name": "not-in-the-certificate.example" }, { token: TOKEN }));
    await expect(get(bad)).rejects.toThrow();
  });

  test("certificate-authority as a file path relative to the kubeconfig", async () => {
    await writeFile(join(dir, "ca.crt"), api.caPem);
    const kc = loadKubeConfig(await kubeconfigFile({ "certificate-authority-data": undefined, "certificate-authority": "ca.crt" }, { token: TOKEN }));
    expect(await get(kc)).toEqual({ status: 200, token: TOKEN });
  });

  test("a wrong token is the API server's 401, not a client error", async () => {
    const kc = loadKubeConfig(await kubeconfigFile({}, { token: "nope" }));
    expect((await get(kc)).status).toBe(401);
  });

  test("malformed kubeconfigs fail with client-node's message naming the field", async () => {
    const noServer = join(dir, "no-server.yaml");
    await writeFile(noServer, "clusters:\n- name: c\n  cluster: {}\n");
    expect(() => loadKubeConfig(noServer)).toThrow("clusters[0].cluster.server is missing");
    const list = join(dir, "list.yaml");
    await writeFile(list, "- a\n- b\n");
    expect(() => loadKubeConfig(list)).toThrow("not a kubeconfig");
  });
});

describe("plain http", () => {
  let httpApi: FakeApiServer;
  beforeAll(async () => {
    httpApi = await startFakeApiServer({ tls: false, tokens: { [TOKEN]: "admin" } });
  });
  afterAll(() => httpApi.close());

  test("only with insecure-skip-tls-verify, as client-node", async () => {
    const file = join(dir, "http.yaml");
    await httpApi.writeKubeconfig(file, { token: TOKEN }); // writes insecure-skip-tls-verify: true
    const kc = loadKubeConfig(file);
    const res = await fetch(`${httpApi.url}${SECRETS}`, (await kc.applyToFetchOptions({})) as never);
    expect(res.status).toBe(200);
    await writeFile(file, httpApi.kubeconfig({ token: TOKEN }).replace("insecure-skip-tls-verify: true", "insecure-skip-tls-verify: false"));
    await expect(loadKubeConfig(file).applyToFetchOptions({})).rejects.toThrow("HTTP protocol is not allowed when skipTLSVerify is not set or false");
  });
});

describe("in-cluster service account", () => {
  test("token, ca.crt and namespace from the service-account directory; a rotated token is read within 60 s", async () => {
    const prefix = join(dir, "pod");
    const sa = await api.writeServiceAccount(`${prefix}${SERVICEACCOUNT_ROOT}`, { token: SA_TOKEN, namespace: "tenant-ns" });
    const kc = loadKubeConfig(undefined, { env: api.inClusterEnv(), serviceAccountPrefix: prefix });
    expect(kc.authPlugin()).toBeUndefined();
    expect(kc.getCurrentCluster()!.server).toBe(`https://127.0.0.1:${api.port}`);
    expect(kc.getCurrentNamespace()).toBe("tenant-ns");
    expect(await get(kc)).toEqual({ status: 200, token: SA_TOKEN });

    // The kubelet rotates the projected token: the old one keeps working for a while, the new one is used within a minute.
    const rotated = "sa-token-rotated-5e2a";
    api.setToken(rotated, "admin");
    await writeFile(sa.tokenPath, rotated);
    expect((await get(kc)).token).toBe(SA_TOKEN);
    try {
      setSystemTime(new Date(Date.now() + 61_000));
      expect(await get(kc)).toEqual({ status: 200, token: rotated });
    } finally {
      setSystemTime();
    }
  });

  test("the same request through client-node's loadFromCluster, for comparison", async () => {
    const prefix = join(dir, "pod2");
    await api.writeServiceAccount(`${prefix}${SERVICEACCOUNT_ROOT}`, { token: SA_TOKEN, namespace: "tenant-ns" });
    const saved = { ...process.env };
    Object.assign(process.env, api.inClusterEnv());
    try {
      const full = new KubeConfig();
      full.loadFromCluster(prefix);
      const lite = loadKubeConfig(undefined, { env: api.inClusterEnv(), serviceAccountPrefix: prefix });
      expect(lite.getCurrentCluster()).toEqual(full.getCurrentCluster()!);
      expect(lite.getCurrentUser()).toEqual(full.getCurrentUser()!);
    } finally {
      process.env = saved;
    }
  });
});

describe("defaults without --kubeconfig", () => {
  test("$KUBECONFIG: several files merged, a later current-context wins, duplicates are errors", async () => {
    const a = await kubeconfigFile({}, { token: "unused" });
    const b = join(dir, "b.json");
    await writeFile(b, JSON.stringify({ clusters: [{ name: "c2", cluster: { server: api.url, "certificate-authority-data": Buffer.from(api.caPem).toString("base64") } }], users: [{ name: "u2", user: { token: TOKEN } }], contexts: [{ name: "ctx2", context: { cluster: "c2", user: "u2" } }], "current-context": "ctx2" }));
    const kc = loadKubeConfig(undefined, { env: { KUBECONFIG: `${a}:${b}` } });
    expect(kc.getCurrentContext()).toBe("ctx2");
    expect(await get(kc)).toEqual({ status: 200, token: TOKEN });
    expect(() => loadKubeConfig(undefined, { env: { KUBECONFIG: `${a}:${a}` } })).toThrow("Duplicate cluster: c");
  });

  test("~/.kube/config, then the service account, then http://localhost:8080", async () => {
    const home = join(dir, "home");
    await api.writeKubeconfig(join(home, ".kube", "config"), { token: TOKEN });
    expect(loadKubeConfig(undefined, { env: { HOME: home } }).getCurrentCluster()!.server).toBe(api.url);
    const prefix = join(dir, "pod3");
    await api.writeServiceAccount(`${prefix}${SERVICEACCOUNT_ROOT}`, { token: SA_TOKEN, namespace: "x" });
    expect(loadKubeConfig(undefined, { env: { HOME: join(dir, "nowhere") }, serviceAccountPrefix: prefix }).getCurrentCluster()!.name).toBe("inCluster");
    expect(loadKubeConfig(undefined, { env: {}, serviceAccountPrefix: join(dir, "nothing") }).getCurrentCluster()!.server).toBe("http://localhost:8080");
  });
});

describe("exec and auth providers (client-node's authenticator, imported on first use)", () => {
  test("users[].user.exec runs the command and sends the ExecCredential's token", async () => {
    const script = join(dir, "credential.ts");
    await writeFile(
      script,
      `console.log(JSON.stringify({ apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token: process.env.EXEC_TOKEN, expirationTimestamp: new Date(Date.now() + 3600e3).toISOString() } }));\n`,
    );
    await chmod(script, 0o755);
    const kc = loadKubeConfig(
      await kubeconfigFile({}, { exec: { apiVersion: "client.authentication.k8s.io/v1", command: process.execPath, args: [script], env: [{ name: "EXEC_TOKEN", value: EXEC_TOKEN }], interactiveMode: "Never" } }),
    );
    expect(kc.authPlugin()).toBe("exec");
    expect(await get(kc)).toEqual({ status: 200, token: EXEC_TOKEN });
  });

  // What a plugin prints can be a credential: the error names the command, the exit code and the kind of failure, never its output.
  const LEAKED = "tok-3c1d-LEAKED-8e2f";
  const failing = (code: string) => ({ exec: { apiVersion: "client.authentication.k8s.io/v1", command: process.execPath, args: ["-e", code] } });
  const failure = async (kc: ReturnType<typeof loadKubeConfig>) => {
    const err = await kc.applyToFetchOptions({}).then(() => undefined, (e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect(`${err!.message}\n${err!.stack ?? ""}`).not.toContain(LEAKED);
    return err!.message;
  };

  test("a failing exec command: its exit code and command, never its stderr", async () => {
    const kc = loadKubeConfig(await kubeconfigFile({}, failing(`console.error('no credentials for you: ${LEAKED}'); process.exit(3)`)));
    expect(await failure(kc)).toBe(`user u: credential plugin ${JSON.stringify(process.execPath)} exited with code 3; its error output is not shown`);
  });

  test("an exec command that prints a token instead of an ExecCredential: named as such, the output not quoted", async () => {
    const kc = loadKubeConfig(await kubeconfigFile({}, failing(`console.log('${LEAKED}')`)));
    expect(await failure(kc)).toBe(`user u: credential plugin ${JSON.stringify(process.execPath)} printed something that is not an ExecCredential (JSON); its output is not shown`);
  });

  test("an exec command that cannot be started: the error code", async () => {
    const kc = loadKubeConfig(await kubeconfigFile({}, { exec: { apiVersion: "client.authentication.k8s.io/v1", command: join(dir, "no-such-plugin") } }));
    expect(await failure(kc)).toContain("could not be run (ENOENT)");
  });

  test("a kubeconfig that is not valid YAML: the line, never the text (a kubeconfig holds tokens)", async () => {
    const file = join(dir, "broken-kubeconfig");
    await writeFile(file, `apiVersion: v1\nusers:\n- name: u\n  user:\n    token: *${LEAKED}\n`);
    const err = (() => {
      try {
        loadKubeConfig(file);
      } catch (e) {
        return e as Error;
      }
    })();
    expect(err?.message).toMatch(/^not valid YAML/);
    expect(err?.message).not.toContain(LEAKED);
  });

  test("auth-provider oidc with an unexpired id-token sends the id-token", async () => {
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const idToken = `${b64({ alg: "RS256" })}.${b64({ exp: Math.floor(Date.now() / 1000) + 3600, sub: "alice" })}.c2ln`;
    api.setToken(idToken, "admin");
    const kc = loadKubeConfig(
      await kubeconfigFile({}, { "auth-provider": { name: "oidc", config: { "id-token": idToken, "client-id": "kubectl", "idp-issuer-url": "https://127.0.0.1:1" } } }),
    );
    expect(kc.authPlugin()).toBe("oidc");
    expect(await get(kc)).toEqual({ status: 200, token: idToken });
  });
});

describe("proxy-url", () => {
  test("an HTTP CONNECT proxy carries the request (and without it the request fails)", async () => {
    const proxy = await startConnectProxy();
    const kc = loadKubeConfig(await kubeconfigFile({ "proxy-url": proxy.url }, { token: TOKEN }));
    expect(await get(kc)).toEqual({ status: 200, token: TOKEN });
    expect(proxy.tunnels).toEqual([`127.0.0.1:${api.port}`]);
    await proxy.close();
    await expect(get(kc)).rejects.toThrow();
  });

  test("an HTTPS proxy (proxy-url https://, TLS to the proxy too) carries the request", async () => {
    // The proxy's certificate is signed by the cluster CA of the kubeconfig, the one CA the client is given.
    const { keyPem, certPem } = loadTlsFixtures();
    const proxy = await startConnectProxy({ tls: { key: keyPem, cert: certPem } });
    expect(proxy.url).toStartWith("https://");
    const kc = loadKubeConfig(await kubeconfigFile({ "proxy-url": proxy.url }, { token: TOKEN }));
    expect(await get(kc)).toEqual({ status: 200, token: TOKEN });
    expect(proxy.tunnels).toEqual([`127.0.0.1:${api.port}`]);
    await proxy.close();
    await expect(get(kc)).rejects.toThrow();
  });

  test("a SOCKS5 proxy carries the request (and without it the request fails)", async () => {
    const proxy = await startSocks5Proxy();
    const kc = loadKubeConfig(await kubeconfigFile({ "proxy-url": proxy.url }, { token: TOKEN }));
    expect(await get(kc)).toEqual({ status: 200, token: TOKEN });
    expect(proxy.tunnels).toEqual([`127.0.0.1:${api.port}`]);
    await proxy.close();
    await expect(get(kc)).rejects.toThrow();
  });

  test("exec auth through a proxy: both at once", async () => {
    const proxy = await startConnectProxy();
    const script = join(dir, "credential2.ts");
    await writeFile(script, `console.log(JSON.stringify({ kind: "ExecCredential", status: { token: ${JSON.stringify(EXEC_TOKEN)} } }));\n`);
    const kc = loadKubeConfig(await kubeconfigFile({ "proxy-url": proxy.url }, { exec: { apiVersion: "client.authentication.k8s.io/v1", command: process.execPath, args: [script] } }));
    expect(await get(kc)).toEqual({ status: 200, token: EXEC_TOKEN });
    expect(proxy.tunnels.length).toBeGreaterThan(0);
    await proxy.close();
  });

  test("proxy credentials never reach an error message", async () => {
    for (const scheme of ["http", "socks5"]) {
      const kc = loadKubeConfig(await kubeconfigFile({ "proxy-url": `${scheme}://proxyuser:${PROXY_PASSWORD}@127.0.0.1:1` }, { token: TOKEN }));
      const err = await get(kc).then(() => undefined, (e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect(`${err!.message} ${JSON.stringify(err)} ${err!.stack}`).not.toContain(PROXY_PASSWORD);
    }
  });

  test("an unsupported proxy scheme is one clear error naming the cluster", async () => {
    const kc = loadKubeConfig(await kubeconfigFile({ "proxy-url": "ftp://127.0.0.1:1" }, { token: TOKEN }));
    await expect(kc.applyToFetchOptions({})).rejects.toThrow("cluster c: proxy-url: unsupported proxy type");
  });
});

describe("under Deno (npm node-fetch over node:https: the agent path)", () => {
  const DENO = new URL("../node_modules/.bin/deno", import.meta.url).pathname;
  const SCRIPT = new URL("./support/kube-request.ts", import.meta.url).pathname;
  const runDeno = async (file: string) => {
    const denoDir = await mkdtemp(join(tmpdir(), "deno-dir-"));
    try {
      const child = Bun.spawn([DENO, "run", "--cached-only", "-A", SCRIPT, file, SECRETS], {
        env: { ...process.env, DENO_DIR: denoDir, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
      if ((await child.exited) !== 0) throw new Error(`deno exited ${child.exitCode}: ${err.slice(-500)}`);
      return out.trim();
    } finally {
      await rm(denoDir, { recursive: true, force: true });
    }
  };

  test("token + CA, an HTTP CONNECT proxy and a SOCKS5 proxy", async () => {
    expect(await runDeno(await kubeconfigFile({}, { token: TOKEN }))).toBe("200 none");
    const proxy = await startConnectProxy();
    const socks = await startSocks5Proxy();
    try {
      expect(await runDeno(await kubeconfigFile({ "proxy-url": proxy.url }, { token: TOKEN }))).toBe("200 none");
      expect(proxy.tunnels).toEqual([`127.0.0.1:${api.port}`]);
      expect(await runDeno(await kubeconfigFile({ "proxy-url": socks.url }, { token: TOKEN }))).toBe("200 none");
      expect(socks.tunnels).toEqual([`127.0.0.1:${api.port}`]);
    } finally {
      await proxy.close();
      await socks.close();
    }
  }, 120_000);
});
