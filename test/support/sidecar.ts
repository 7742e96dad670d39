/**
 * The sidecar as a real child process (from source, or the compiled binary
 * with SIDECAR_BIN), on free loopback ports, with its JSON log lines
 * collected for assertions.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { MAIN } from "./cli.ts";

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface SidecarOptions {
  /** Absent (with namespace): no --kubeconfig/--namespace flags, e.g. for in-cluster mode. */
  kubeconfig?: string;
  namespace?: string;
  tenant?: string;
  configName?: string;
  configFile: string;
  args?: string[];
  env?: Record<string, string | undefined>;
  /** A command to run the sidecar under, e.g. setpriv to drop to uid 1000. */
  wrap?: string[];
  /**
   * Probe and sidecar API as `:PORT`, the form of their defaults (every IPv4
   * and IPv6 address), on free ports; else 127.0.0.1:PORT. probe()/api()
   * still call 127.0.0.1.
   */
  anyAddress?: boolean;
}

export interface SidecarProcess {
  proc: ChildProcess;
  ports: { probe: number; webhook: number; sidecar: number };
  /** Every stdout line parsed as JSON (pino); non-JSON lines are kept as { raw }. */
  logs: Record<string, unknown>[];
  stdout: () => string;
  stderr: () => string;
  probe(path: string, init?: RequestInit): Promise<Response>;
  webhook(path: string, init?: RequestInit): Promise<Response>;
  api(path: string, init?: RequestInit): Promise<Response>;
  waitForLog(pred: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  /** Send a signal and wait for exit; returns exit code and how long it took. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; ms: number }>;
}

/**
 * Sidecars still running when this process ends are killed with it: a
 * signalled bench or chaos run must not leave sidecars behind holding ports
 * and skewing the next measurement.
 */
const running = new Set<ChildProcess>();
let reaperInstalled = false;
function reapOnExit(proc: ChildProcess) {
  running.add(proc);
  proc.once("exit", () => running.delete(proc));
  if (reaperInstalled) return;
  reaperInstalled = true;
  const killAll = () => running.forEach((p) => p.exitCode === null && p.kill("SIGKILL"));
  process.once("exit", killAll);
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      killAll();
      process.exit(sig === "SIGTERM" ? 143 : 130);
    });
  }
}

/** Three distinct free loopback ports. */
async function freePorts(): Promise<SidecarProcess["ports"]> {
  const taken = new Set<number>();
  const next = async (): Promise<number> => {
    for (;;) {
      const p = await freePort();
      if (!taken.has(p)) return taken.add(p), p;
    }
  };
  return { probe: await next(), webhook: await next(), sidecar: await next() };
}

const PORT_TAKEN = /address already in use/;

/**
 * Starts the sidecar on free ports. A port found free can be taken before
 * the sidecar binds it (the kernel hands the same range to every outgoing
 * connection on this machine, and other tests' servers run meanwhile); the
 * sidecar then exits with its "address already in use" usage error, and
 * that start, only that one, is retried on fresh ports.
 */
export async function startSidecar(o: SidecarOptions): Promise<SidecarProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSidecarOn(o, await freePorts());
    } catch (err) {
      if (attempt >= 5 || !(err instanceof PortTaken)) throw err;
    }
  }
}

class PortTaken extends Error {}

async function startSidecarOn(o: SidecarOptions, ports: SidecarProcess["ports"]): Promise<SidecarProcess> {
  const bin = process.env.SIDECAR_BIN;
  const args = [
    "sidecar",
    "--tenant", o.tenant ?? "myminio",
    "--config-name", o.configName ?? "storage-configuration",
    ...(o.namespace === undefined ? [] : ["--namespace", o.namespace]),
    ...(o.kubeconfig === undefined ? [] : ["--kubeconfig", o.kubeconfig]),
    "--config-file", o.configFile,
    "--probe-address", `${o.anyAddress ? "" : "127.0.0.1"}:${ports.probe}`,
    "--webhook-address", `127.0.0.1:${ports.webhook}`,
    "--sidecar-address", `${o.anyAddress ? "" : "127.0.0.1"}:${ports.sidecar}`,
    ...(o.args ?? []),
  ];
  const cmd = [...(o.wrap ?? []), ...(bin ? [bin, ...args] : [process.execPath, MAIN, ...args])];
  const proc = spawn(cmd[0]!, cmd.slice(1), {
    env: { ...process.env, KUBERNETES_SERVICE_HOST: undefined, ...o.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  reapOnExit(proc);
  let out = "";
  let err = "";
  let partial = "";
  const logs: Record<string, unknown>[] = [];
  const waiters: Array<() => void> = [];
  proc.stdout!.on("data", (d: Buffer) => {
    out += d;
    partial += d;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const l of lines) {
      if (!l) continue;
      try {
        logs.push(JSON.parse(l));
      } catch {
        logs.push({ raw: l });
      }
    }
    waiters.splice(0).forEach((w) => w());
  });
  proc.stderr!.on("data", (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));

  const call = (port: number) => (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${port}${path}`, init);
  const sc: SidecarProcess = {
    proc,
    ports,
    logs,
    stdout: () => out,
    stderr: () => err,
    probe: call(ports.probe),
    webhook: call(ports.webhook),
    api: call(ports.sidecar),
    async waitForLog(pred, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = logs.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms; stdout:\n${out}\nstderr:\n${err}`);
        await new Promise<void>((r) => {
          waiters.push(r);
          setTimeout(r, 100);
        });
      }
    },
    exited,
    async stop(signal = "SIGTERM") {
      const t0 = performance.now();
      if (proc.exitCode === null) proc.kill(signal);
      const code = await Promise.race([exited, new Promise<null>((r) => setTimeout(() => r(null), 5_000))]);
      const ms = performance.now() - t0;
      if (proc.exitCode === null) proc.kill("SIGKILL");
      return { code, ms };
    },
  };
  // Serving once /healthz answers.
  const deadline = Date.now() + 20_000;
  for (;;) {
    const ok = await sc.probe("/healthz").then((r) => r.ok, () => false);
    if (ok) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      const message = `sidecar did not start (exit ${proc.exitCode}); stdout:\n${out}\nstderr:\n${err}`;
      if (proc.exitCode === null) proc.kill("SIGKILL");
      throw PORT_TAKEN.test(err) ? new PortTaken(message) : new Error(message);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return sc;
}

/** Poll until `check` returns a truthy value or time runs out. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000, what = "condition"): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A command prefix that runs the rest in a private mount namespace with
 * `saDir` bind-mounted at /run/secrets/kubernetes.io/serviceaccount (on a
 * fresh tmpfs /run; /var/run links there), the fixed path client-node's
 * in-cluster config reads, without touching the machine's /run. Needs root
 * (CAP_SYS_ADMIN); see canUnshare.
 */
export const inPod = (saDir: string) => [
  "unshare", "-m", "--propagation", "private", "sh", "-c",
  'sa="$1"; shift; mount -t tmpfs tmpfs /run && d=/run/secrets/kubernetes.io/serviceaccount && mkdir -p "$d" && mount --bind "$sa" "$d" && exec "$@"',
  "sh", saDir,
];

/** Whether inPod works here. */
export const canUnshare = (() => {
  try {
    return spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", "mount -t tmpfs tmpfs /run"], { stdio: "ignore" }).status === 0;
  } catch {
    return false;
  }
})();
