/**
 * What a fleet of sidecars does to one API server (issue 21): 2,000 watchers
 * (1,000 pods: a Tenant and a Secret each) running the product's own
 * ObjectWatch, backoff and request code in one child process, plus a
 * cross-check with real sidecar processes (the compiled binary) against the
 * same server. Ground truth is the server's own record: the audit log
 * (Metadata level) of the real kube-apiserver of `npm run test:kube`, and the
 * request log of the in-repo fake for the 429 wall (Retry-After: 5 on every
 * request, which a real kube-apiserver does not send on demand). The child
 * also logs the time it sends each request.
 *
 * Scenarios and goals (issue 21):
 *   steady     fleet started within 1 s, STEADY_MIN minutes: <= 5 requests/s;
 *              no 10 s window above 2x the mean after the first 10 minutes
 *   restart    kube-apiserver stopped OUTAGE_S seconds, then started: peak <= 300
 *              requests in any 1 s; <= 3 requests per watcher to recover;
 *              every watcher back <= 90 s (a histogram goes to fleet-restart.svg)
 *   throttle   THROTTLE_MIN minutes of 429 with Retry-After: 5: <= 70 requests/s
 *              averaged over minutes 2-10 (2 to THROTTLE_MIN)
 *   reconcile  100 bucket Services in sync, 1,000 pods: <= 2 requests per pod
 *              per round, 0 writes; and the no-`list` fallback
 *
 *   npm run build && npm run bench:fleet
 *   bun bench/fleet.ts --scenarios=steady,restart --steady-min=5 --pods=200   (a short run)
 * Options: --scenarios (default all) --steady-min=30 --throttle-min=10 --outage-s=30
 *          --pods=1000 --sidecars=50 --buckets=100 --reconcile-pods=1000
 * Figures and the histogram go to bench/fleet-results.json and bench/fleet-restart.svg.
 * Not part of CI (about 50 minutes with the defaults).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { KubeControlPlane } from "../test/kube-apiserver/index.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const argv = Object.fromEntries(
  process.argv
    .slice(2)
    .filter((a) => a.startsWith("--"))
    .map((a) => {
      const [k, v] = a.slice(2).split("=");
      return [k!, v ?? "true"];
    }),
);
const num = (k: string, d: number) => (argv[k] === undefined ? d : Number(argv[k]));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const UA_SIM = "fleet-bench";

// Run after the whole module is evaluated (its helpers below are consts of this module).
setTimeout(() => void (argv.child ? child() : parent()).catch((err) => {
  console.error(err);
  process.exit(1);
}), 0);

// ---- the child: N pods' watchers in one process -----------------------------------------------

async function child() {
  const { Kube, loadKube } = await import("../src/kube/client.ts");
  const { ObjectWatch } = await import("../src/kube/object-watch.ts");
  const { tenantSource, secretSource } = await import("../src/kube/sources.ts");
  type KubeRequest = import("../src/kube/client.ts").KubeRequest;
  const kubeconfig = argv.kubeconfig!;
  const namespace = argv.namespace!;
  const pods = num("pods", 1000);
  const sendLog = argv["send-log"]!;
  let pending: string[] = [];
  const flush = () => {
    if (pending.length) appendFileSync(sendLog, pending.join(""));
    pending = [];
  };
  setInterval(flush, 1000);
  /** The product's Kube, with each send's time written down (client send times next to the audit log). */
  class LoggedKube extends Kube {
    override request<T>(r: KubeRequest): Promise<T> {
      pending.push(`${Date.now()} ${r.query?.watch ? "watch" : "list"} ${r.path.split("/").at(-1)} ${r.query?.fieldSelector ?? ""}\n`);
      return super.request<T>(r);
    }
    override stream(r: KubeRequest & { signal: AbortSignal; headerTimeoutMs?: number }) {
      pending.push(`${Date.now()} watch ${r.path.split("/").at(-1)} ${r.query?.fieldSelector ?? ""}\n`);
      return super.stream(r);
    }
  }
  const kube = new LoggedKube(loadKube(kubeconfig).config, UA_SIM);
  const log = pino({ level: "silent" });
  const watches: InstanceType<typeof ObjectWatch>[] = [];
  // Started within 1 s, as a fleet whose pods come up together.
  for (let i = 0; i < pods; i++) {
    const name = podName(i);
    setTimeout(() => {
      for (const src of [tenantSource(namespace, name), secretSource(namespace, `${name}-env`)]) {
        watches.push(new ObjectWatch(kube, src, () => {}, { log }).start());
      }
    }, (i / pods) * 1000);
  }
  setInterval(() => {
    const states: Record<string, number> = {};
    for (const w of watches) states[w.status.state] = (states[w.status.state] ?? 0) + 1;
    process.stdout.write(`STATE ${JSON.stringify({ t: Date.now(), n: watches.length, states })}\n`);
  }, 2000);
  process.on("SIGTERM", async () => {
    flush();
    process.exit(0);
  });
}

function podName(i: number) {
  return `f-${String(i).padStart(4, "0")}`;
}

// ---- the parent -------------------------------------------------------------------------------

interface Req {
  time: number; // received (ms)
  end?: number; // response complete (ms), absent while open
  verb: string;
  resource: string;
  name: string;
  ua: string;
  code: number;
}

async function parent() {
  const { KubeControlPlane } = await import("../test/kube-apiserver/index.ts");
  const { kubeconfigYaml } = await import("../test/support/kubeconfig-yaml.ts");
  const { tenant, secret, CREDENTIALS } = await import("../test/support/objects.ts");
  const { requireProduct, result } = await import("./lib.ts");
  const scenarios = new Set((argv.scenarios ?? "steady,restart,throttle,reconcile").split(","));
  const PODS = num("pods", 1000);
  const SIDECARS = num("sidecars", 50);
  const STEADY_MIN = num("steady-min", 30);
  const THROTTLE_MIN = num("throttle-min", 10);
  const OUTAGE_S = num("outage-s", 30);
  const BUCKETS = num("buckets", 100);
  const RECONCILE_PODS = num("reconcile-pods", 1000);
  const bin = SIDECARS > 0 && (scenarios.has("steady") || scenarios.has("restart") || scenarios.has("throttle")) ? requireProduct() : "";
  const dir = mkdtempSync(join(tmpdir(), "fleet-"));
  const figures: Record<string, unknown> = { started: new Date().toISOString(), pods: PODS, watchers: 2 * PODS, sidecars: SIDECARS };
  const results: Array<{ figure: string; value: number; unit: string; goal?: string; met?: boolean; note?: string }> = [];
  const children: ChildProcess[] = [];
  process.on("exit", () => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));
  const say = (s: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${s}`);
  const record = (r: (typeof results)[number]) => {
    results.push(r);
    say(`${r.figure}: ${r.value} ${r.unit}${r.goal ? ` (goal ${r.goal}: ${r.met ? "met" : "NOT met"})` : ""}${r.note ? `; ${r.note}` : ""}`);
  };

  /** The child process of simulated watchers; resolves once every watcher has started watching. */
  async function startWatchers(kubeconfig: string, namespace: string, sendLog: string) {
    const env = { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: "65535" };
    // Bun caps requests in flight near 256 by default, which would silently throttle the simulation;
    // open files: each watcher holds a connection (the soft limit raised to the hard one).
    const cmd = `ulimit -n "$(ulimit -Hn)" && exec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(ROOT, "bench/fleet.ts"))} --child --kubeconfig=${kubeconfig} --namespace=${namespace} --pods=${PODS} --send-log=${sendLog}`;
    const proc = spawn("bash", ["-c", cmd], { env, stdio: ["ignore", "pipe", "inherit"] });
    children.push(proc);
    let last: { n: number; states: Record<string, number> } = { n: 0, states: {} };
    proc.stdout!.on("data", (d: Buffer) => {
      for (const line of d.toString().split("\n")) if (line.startsWith("STATE ")) last = JSON.parse(line.slice(6));
    });
    const t0 = Date.now();
    while ((last.states.watching ?? 0) < 2 * PODS) {
      if (proc.exitCode !== null) throw new Error(`watcher process exited ${proc.exitCode}`);
      if (Date.now() - t0 > 180_000) throw new Error(`watchers not all watching after 180 s: ${JSON.stringify(last)}`);
      await sleep(500);
    }
    say(`${2 * PODS} simulated watchers watching after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return { proc, state: () => last };
  }

  async function startSidecars(kubeconfig: string, namespace: string, n: number) {
    const { freePort } = await import("../test/support/sidecar.ts");
    const procs: ChildProcess[] = [];
    for (let i = 0; i < n; i++) {
      const name = `sc-${String(i).padStart(2, "0")}`;
      mkdirSync(join(dir, name), { recursive: true });
      const args = ["sidecar", "--tenant", name, "--config-name", `${name}-env`, "--namespace", namespace, "--kubeconfig", kubeconfig, "--config-file", join(dir, name, "config.env"),
        "--probe-address", `127.0.0.1:${await freePort()}`, "--webhook-address", `127.0.0.1:${await freePort()}`, "--sidecar-address", `127.0.0.1:${await freePort()}`, "--log-level", "error"];
      const p = spawn(bin, args, { env: { ...process.env, KUBERNETES_SERVICE_HOST: undefined, POD_NAME: `${name}-pool-0-0` }, stdio: ["ignore", "ignore", "ignore"] });
      children.push(p);
      procs.push(p);
    }
    return procs;
  }

  const stopAll = async (procs: ChildProcess[]) => {
    for (const p of procs) if (p.exitCode === null) p.kill("SIGTERM");
    await sleep(2500);
    for (const p of procs) if (p.exitCode === null) p.kill("SIGKILL");
  };

  // ---- the real kube-apiserver: steady, restart, reconcile ----
  if (scenarios.has("steady") || scenarios.has("restart") || scenarios.has("reconcile")) {
    say("starting etcd and kube-apiserver (audit log at Metadata level)");
    // Compaction as a real cluster's default (5 min): resourceVersions expire at its pace, not the test suite's 2 s.
    const cp = await KubeControlPlane.start({ compactionInterval: "5m" });
    try {
      const NS = "fleet";
      await cp.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
      await cp.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "sidecar", namespace: NS } });
      await cp.create({
        apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: "sidecar", namespace: NS },
        rules: [
          { apiGroups: ["minio.min.io"], resources: ["tenants"], verbs: ["get", "list", "watch"] },
          { apiGroups: [""], resources: ["secrets"], verbs: ["get", "list", "watch"] },
          { apiGroups: ["events.k8s.io"], resources: ["events"], verbs: ["create", "patch"] },
        ],
      } as never);
      await cp.create({
        apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: "sidecar", namespace: NS },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "sidecar" },
        subjects: [{ kind: "ServiceAccount", name: "sidecar", namespace: NS }],
      } as never);
      const token = await cp.token(NS, "sidecar", 4 * 3600);
      const kubeconfig = join(dir, "kubeconfig");
      writeFileSync(kubeconfig, kubeconfigYaml({ name: "fleet", server: cp.url, caPem: cp.caPem, token, namespace: NS }), { mode: 0o600 });

      if (scenarios.has("steady") || scenarios.has("restart")) {
        say(`creating ${PODS} Tenants and Secrets (+${SIDECARS} for the real sidecars)`);
        const names = [...Array.from({ length: PODS }, (_, i) => podName(i)), ...Array.from({ length: SIDECARS }, (_, i) => `sc-${String(i).padStart(2, "0")}`)];
        await eachLimited(names, 16, async (name) => {
          await cp.create(tenant({ configuration: { name: `${name}-env` } }, name, NS) as never);
          await cp.create(secret(CREDENTIALS, `${name}-env`, NS) as never);
        });
        const sendLog = join(dir, "sends.log");
        writeFileSync(sendLog, "");
        const auditFrom = readAudit(cp.audit.file).length;
        const tStart = Date.now();
        const sim = await startWatchers(kubeconfig, NS, sendLog);
        const sidecars = await startSidecars(kubeconfig, NS, SIDECARS);

        if (scenarios.has("steady")) {
          const endAt = tStart + STEADY_MIN * 60_000;
          while (Date.now() < endAt) {
            await sleep(Math.min(30_000, endAt - Date.now()));
            say(`steady: ${((Date.now() - tStart) / 60_000).toFixed(1)} of ${STEADY_MIN} min; ${JSON.stringify(sim.state().states)}`);
          }
          const reqs = readAudit(cp.audit.file).slice(auditFrom).filter((r) => r.time >= tStart && r.time < endAt);
          const simReqs = reqs.filter((r) => r.ua.endsWith(UA_SIM));
          const scReqs = reqs.filter((r) => r.ua.endsWith(" sidecar"));
          const dur = (endAt - tStart) / 1000;
          // The start-up LIST and WATCH of every watcher (2 requests each, in the first seconds) are
          // the start, not the steady state: the rate is that of the run after the first 10 minutes
          // (the first third of a shorter run), where client-go's model gives 4.4/s; the whole run is shown too.
          const settleMs = Math.min(10 * 60_000, (endAt - tStart) / 3);
          const settled = simReqs.filter((r) => r.time >= tStart + settleMs);
          const rate = settled.length / ((endAt - tStart - settleMs) / 1000);
          record({
            figure: `steady state, ${2 * PODS} watchers started within 1 s: requests/s from minute ${round(settleMs / 60_000, 1)} to ${STEADY_MIN} (audit log)`,
            value: round(rate, 2), unit: "req/s", goal: "<= 5", met: rate <= 5, note: `whole run incl. the start-up LIST+WATCH: ${round(simReqs.length / dur, 2)}/s`,
          });
          const windows = bins(simReqs.map((r) => r.time), tStart + settleMs, endAt, 10_000);
          const meanW = windows.reduce((a, b) => a + b, 0) / Math.max(1, windows.length);
          const maxW = Math.max(...windows);
          if (meanW > 0) {
            record({
              figure: `steady state: busiest 10 s window after minute ${round(settleMs / 60_000, 1)}, as a multiple of the mean 10 s window (${round(meanW, 1)} requests)`,
              value: round(maxW / meanW, 2), unit: "x", goal: "<= 2", met: maxW <= 2 * meanW,
            });
          } else say("steady state: no request after the settling time (run too short for the 5-10 min windows)");
          const perWatcherSim = simReqs.length / (2 * PODS) / (dur / 60);
          const perWatcherSc = scReqs.length / (2 * SIDECARS) / (dur / 60);
          record({ figure: `steady state: requests per watcher per minute, simulated (${2 * PODS})`, value: round(perWatcherSim, 3), unit: "req/min" });
          if (SIDECARS) record({ figure: `steady state: requests per watcher per minute, real sidecar processes (${SIDECARS} pods, ${2 * SIDECARS} watches, Events included)`, value: round(perWatcherSc, 3), unit: "req/min" });
          const timeouts = simReqs.filter((r) => r.verb === "watch").map((r) => r.timeoutSeconds!).filter((x) => x !== undefined);
          const tsSet = new Set(timeouts);
          record({ figure: `steady state: distinct WATCH timeoutSeconds among ${timeouts.length}, all in [300, 600)`, value: tsSet.size, unit: "values", note: `min ${Math.min(...timeouts)} max ${Math.max(...timeouts)}` });
          const sends = readSends(sendLog).filter((t) => t >= tStart && t < endAt).length;
          record({ figure: "steady state: requests the simulated watchers sent (their own log) vs the audit log", value: sends, unit: "sent", note: `${simReqs.length} in the audit log` });
          figures.steadyWindows = windows;
        }

        if (scenarios.has("restart")) {
          // Let the fleet's stream windows run on a while first when the steady phase was skipped.
          if (!scenarios.has("steady")) await sleep(60_000);
          say(`restart: stopping kube-apiserver for ${OUTAGE_S} s`);
          const tStop = Date.now();
          await cp.stopApiserver();
          await sleep(Math.max(0, tStop + OUTAGE_S * 1000 - Date.now()));
          await cp.startApiserver();
          const tUp = Date.now();
          await sleep(1500); // the child writes its send log once a second
          const sendsBefore = readSends(sendLog).filter((t) => t >= tStop && t < tUp).length;
          say(`restart: kube-apiserver serving again after ${((tUp - tStop) / 1000).toFixed(1)} s (start-up ${(cp.lastStartMs / 1000).toFixed(1)} s)`);
          const recoveredAll = async () => {
            const r = recovery(readAudit(cp.audit.file).filter((x) => x.time >= tStop), tUp);
            return r;
          };
          let rec = await recoveredAll();
          const want = 2 * PODS + 2 * SIDECARS;
          while (Date.now() - tUp < 150_000 && rec.back.size < want) {
            await sleep(5_000);
            rec = await recoveredAll();
            say(`restart: ${rec.back.size} of ${want} watches back`);
          }
          await sleep(10_000); // the last watches' complete records
          const all = readAudit(cp.audit.file).filter((x) => x.time >= tStop);
          rec = recovery(all, tUp);
          const sim = [...rec.perWatcher.entries()].filter(([k]) => k.startsWith("sim "));
          const sc = [...rec.perWatcher.entries()].filter(([k]) => k.startsWith("sc "));
          const simAll = all.filter((r) => r.ua.endsWith(UA_SIM) && r.time < tUp + 120_000);
          const hist = bins(simAll.map((r) => r.time), tUp - 5_000, tUp + 120_000, 1000);
          const histAll = bins(all.filter((r) => r.ua.includes("minio-operator-sidecar/") && r.time < tUp + 120_000).map((r) => r.time), tUp - 5_000, tUp + 120_000, 1000);
          const peak = Math.max(...hist);
          record({ figure: `restart (${OUTAGE_S} s outage): peak requests in any 1 s, ${2 * PODS} simulated watchers (audit log)`, value: peak, unit: "req", goal: "<= 300", met: peak <= 300 });
          const simCounts = sim.map(([, v]) => v.requests);
          // The watchers that needed more than 3 requests, with what the server answered (audit log).
          for (const [key] of sim.filter(([, v]) => v.requests > 3).slice(0, 5)) {
            const [, resource, name] = key.split(" ");
            const seq = all.filter((r) => r.ua.endsWith(UA_SIM) && r.resource === resource && r.name === name && r.time >= tUp - 1000).map((r) => `${r.verb} ${r.code} @${round((r.time - tUp) / 1000, 2)}s`);
            say(`restart: ${key}: ${seq.join(", ")}`);
          }
          const maxReq = Math.max(...simCounts);
          const backSim = sim.filter(([, v]) => v.backMs !== undefined);
          record({ figure: "restart: requests per simulated watcher to recover, max", value: maxReq, unit: "req", goal: "<= 3", met: maxReq <= 3 && backSim.length === 2 * PODS, note: `mean ${round(mean(simCounts), 2)}` });
          const backMax = Math.max(...backSim.map(([, v]) => v.backMs!)) / 1000;
          record({ figure: `restart: every simulated watcher back watching, seconds after the server answers again (${backSim.length} of ${2 * PODS} back)`, value: round(backMax, 1), unit: "s", goal: "<= 90", met: backSim.length === 2 * PODS && backMax <= 90 });
          record({ figure: "restart: client attempts during the outage (connection refused; never reached the server), per simulated watcher", value: round(sendsBefore / (2 * PODS), 2), unit: "tries", note: `${sendsBefore} in ${((tUp - tStop) / 1000).toFixed(0)} s` });
          if (SIDECARS) {
            const scCounts = sc.map(([, v]) => v.requests);
            const scBack = sc.filter(([, v]) => v.backMs !== undefined);
            record({ figure: `restart, real sidecar processes (${2 * SIDECARS} watches): requests per watcher to recover, max (mean)`, value: Math.max(...scCounts), unit: "req", note: `mean ${round(mean(scCounts), 2)}; ${scBack.length} back, last after ${round(Math.max(...scBack.map(([, v]) => v.backMs!)) / 1000, 1)} s; simulated mean ${round(mean(simCounts), 2)}, last back ${round(backMax, 1)} s` });
          }
          figures.restartHistogram = { from: "server answering again - 5 s", perSecond: hist, allClients: histAll };
          writeFileSync(join(ROOT, "bench/fleet-restart.svg"), svg(hist, -5, `requests per second at the kube-apiserver after a ${OUTAGE_S} s outage (${2 * PODS} watchers; 0 = serving again)`));
          console.log(`restart histogram (requests per second from -5 s; audit log):\n${hist.map((n, i) => `${i - 5}:${n}`).join(" ")}`);
        }
        await stopAll([sim.proc, ...sidecars]);
      }

      if (scenarios.has("reconcile")) await reconcileScenario(cp, dir, BUCKETS, RECONCILE_PODS, record, say);
    } finally {
      await cp.close();
    }
  }

  // ---- the in-repo fake: a 429 wall with Retry-After: 5 ----
  if (scenarios.has("throttle")) {
    const { startFakeApiServer } = await import("../test/fake-apiserver/index.ts");
    const NS = "fleet";
    const objects = [] as never[];
    const names = [...Array.from({ length: PODS }, (_, i) => podName(i)), ...Array.from({ length: SIDECARS }, (_, i) => `sc-${String(i).padStart(2, "0")}`)];
    for (const name of names) objects.push(tenant({ configuration: { name: `${name}-env` } }, name, NS) as never, secret(CREDENTIALS, `${name}-env`, NS) as never);
    // Plain http: TLS handshakes of 2,000 clients in this process would measure this process, not them.
    const api = await startFakeApiServer({ tls: false, objects, bookmarkIntervalMs: 60_000 });
    try {
      const kubeconfig = join(dir, "kubeconfig-fake");
      writeFileSync(kubeconfig, api.kubeconfig({ namespace: NS }), { mode: 0o600 });
      const sendLog = join(dir, "sends-throttle.log");
      writeFileSync(sendLog, "");
      const sim = await startWatchers(kubeconfig, NS, sendLog);
      const sidecars = await startSidecars(kubeconfig, NS, SIDECARS);
      await sleep(20_000);
      say(`throttle: every request answered 429 with Retry-After: 5 for ${THROTTLE_MIN} min; all watches dropped`);
      const from = api.requests.length;
      const t0 = Date.now();
      api.failNext(1e9, 429, { retryAfterSeconds: 5 });
      api.dropWatches();
      const endAt = t0 + THROTTLE_MIN * 60_000;
      while (Date.now() < endAt) {
        await sleep(Math.min(60_000, endAt - Date.now()));
        say(`throttle: ${((Date.now() - t0) / 60_000).toFixed(1)} of ${THROTTLE_MIN} min, ${api.requests.length - from} requests`);
      }
      api.clearFaults();
      const reqs = api.requests.slice(from);
      const a = t0 + Math.min(2, THROTTLE_MIN / 5) * 60_000;
      const simIn = reqs.filter((r) => r.userAgent?.endsWith(UA_SIM) && r.time >= a && r.time < endAt);
      const scIn = reqs.filter((r) => r.userAgent?.endsWith(" sidecar") && r.time >= a && r.time < endAt && (r.resource === "tenants" || r.resource === "secrets"));
      const rate = simIn.length / ((endAt - a) / 1000);
      const win = `minutes ${round((a - t0) / 60_000, 1)}-${THROTTLE_MIN}`;
      record({ figure: `429 wall with Retry-After: 5, ${2 * PODS} simulated watchers: requests/s averaged over ${win} (fake's request log)`, value: round(rate, 1), unit: "req/s", goal: "<= 70", met: rate <= 70 });
      // No retry sooner than the Retry-After: the shortest gap between two requests of one watcher.
      const gaps = minGaps(reqs.filter((r) => r.userAgent?.endsWith(UA_SIM) && r.time >= t0 && r.time < endAt).map((r) => ({ key: `${r.resource} ${r.name}`, time: r.time })));
      record({ figure: "429 wall: shortest gap between two requests of one simulated watcher", value: round(gaps / 1000, 2), unit: "s", goal: ">= 5 (Retry-After)", met: gaps >= 4_900 });
      if (SIDECARS) {
        const perW = (n: number, w: number) => n / w / ((endAt - a) / 60_000);
        record({ figure: `429 wall: requests per watcher per minute, real sidecars (${2 * SIDECARS} watches) vs simulated`, value: round(perW(scIn.length, 2 * SIDECARS), 2), unit: "req/min", note: `simulated ${round(perW(simIn.length, 2 * PODS), 2)}` });
      }
      await stopAll([sim.proc, ...sidecars]);
    } finally {
      await api.close();
    }
  }

  figures.results = results;
  writeFileSync(join(ROOT, "bench/fleet-results.json"), JSON.stringify(figures, null, 1) + "\n");
  result(results.map((r) => ({ figure: r.note ? `${r.figure} (${r.note})` : r.figure, value: r.value, unit: r.unit, goal: r.goal, met: r.met })) as never);
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

// ---- bucket reconcile: 1,000 pods' rounds against 100 Services in sync ----

async function reconcileScenario(
  cp: KubeControlPlane,
  dir: string,
  buckets: number,
  pods: number,
  record: (r: { figure: string; value: number; unit: string; goal?: string; met?: boolean; note?: string }) => void,
  say: (s: string) => void,
) {
  const { Kube, loadKube } = await import("../src/kube/client.ts");
  const { BucketServices } = await import("../src/buckets/bucket-services.ts");
  const { BucketReconciler } = await import("../src/buckets/reconcile.ts");
  const { kubeconfigYaml } = await import("../test/support/kubeconfig-yaml.ts");
  const { tenant } = await import("../test/support/objects.ts");
  const NS = "fleet-buckets";
  await cp.create({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } });
  const t = (await cp.create(tenant({ configuration: { name: "bk-env" } }, "bk", NS) as never)) as { metadata: { uid: string } };
  const owner = { name: "bk", uid: t.metadata.uid, tenant: tenant({}, "bk", NS) as never };
  const names = Array.from({ length: buckets }, (_, i) => `bucket-${String(i).padStart(3, "0")}`);
  const seed = new BucketServices(undefined as never, NS, "cluster.local", () => owner);
  await eachLimited(names, 16, async (b) => void (await cp.create(seed.desired(b, owner) as never)));
  for (const [role, verbs] of [["shipped", ["get", "list", "create", "update", "delete"]], ["operator", ["create", "delete", "get"]]] as const) {
    await cp.create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: role, namespace: NS } });
    await cp.create({ apiVersion: "rbac.authorization.k8s.io/v1", kind: "Role", metadata: { name: role, namespace: NS }, rules: [{ apiGroups: [""], resources: ["services"], verbs: [...verbs] }] } as never);
    await cp.create({
      apiVersion: "rbac.authorization.k8s.io/v1", kind: "RoleBinding", metadata: { name: role, namespace: NS },
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role },
      subjects: [{ kind: "ServiceAccount", name: role, namespace: NS }],
    } as never);
  }
  await sleep(2000); // RBAC caches
  const log = pino({ level: "silent" });
  const kubeFor = async (role: string, ua: string) => {
    const file = join(dir, `kubeconfig-${role}`);
    writeFileSync(file, kubeconfigYaml({ name: role, server: cp.url, caPem: cp.caPem, token: await cp.token(NS, role), namespace: NS }), { mode: 0o600 });
    return new Kube(loadKube(file).config, ua);
  };
  // Shipped Role: every pod's round.
  const kube = await kubeFor("shipped", "fleet-reconcile");
  const from = readAudit(cp.audit.file).length;
  say(`reconcile: ${pods} pods, one round each, ${buckets} buckets in sync`);
  let failedRounds = 0;
  await eachLimited(Array.from({ length: pods }, (_, i) => i), 20, async () => {
    const services = new BucketServices(kube, NS, "cluster.local", () => owner);
    const r = await new BucketReconciler(kube, services, () => owner, log, false).run(names);
    if (r.failed.length || r.created.length) failedRounds++;
  });
  await sleep(2000);
  const reqs = readAudit(cp.audit.file).slice(from).filter((r) => r.ua.endsWith("fleet-reconcile"));
  const writes = reqs.filter((r) => ["create", "update", "patch", "delete"].includes(r.verb)).length;
  record({ figure: `bucket reconcile, ${buckets} buckets in sync, ${pods} pods: Service requests per pod per round (audit log)`, value: round(reqs.length / pods, 2), unit: "req", goal: "<= 2", met: reqs.length / pods <= 2 && failedRounds === 0 });
  record({ figure: "bucket reconcile in sync: writes", value: writes, unit: "writes", goal: "0", met: writes === 0 });
  // The MinIO Operator's Role (no list): two rounds of one pod.
  const op = await kubeFor("operator", "fleet-reconcile-nolist");
  const services = new BucketServices(op, NS, "cluster.local", () => owner);
  const reconciler = new BucketReconciler(op, services, () => owner, log, false);
  const f2 = readAudit(cp.audit.file).length;
  const r1 = await reconciler.run(names);
  await reconciler.run(names);
  await sleep(2000);
  const nolist = readAudit(cp.audit.file).slice(f2).filter((r) => r.ua.endsWith("fleet-reconcile-nolist"));
  const forbidden = nolist.filter((r) => r.code === 403).length;
  record({ figure: `bucket reconcile without list (MinIO Operator's Role), one pod, 2 rounds: requests (403s)`, value: nolist.length, unit: "req", note: `${forbidden} answered 403; degraded: ${r1.degraded ? "yes" : "no"}; writes ${nolist.filter((r) => r.verb !== "get" && r.verb !== "list").length}` });
}

// ---- audit log and figures ----

function readAudit(file: string): Array<Req & { timeoutSeconds?: number }> {
  if (!existsSync(file)) return [];
  const byId = new Map<string, Req & { timeoutSeconds?: number }>();
  const out: Array<Req & { timeoutSeconds?: number }> = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line) continue;
    let e: any;
    try {
      e = JSON.parse(line);
    } catch {
      continue; // a line being written
    }
    let r = byId.get(e.auditID);
    if (!r) {
      const q = new URL(e.requestURI, "https://x").searchParams;
      const name = e.objectRef?.name ?? /^metadata\.name=(.+)$/.exec(q.get("fieldSelector") ?? "")?.[1] ?? "";
      r = {
        time: Date.parse(e.requestReceivedTimestamp),
        verb: e.verb,
        resource: e.objectRef?.resource ?? "",
        name,
        ua: e.userAgent ?? "",
        code: 0,
        ...(q.get("timeoutSeconds") ? { timeoutSeconds: Number(q.get("timeoutSeconds")) } : {}),
      };
      byId.set(e.auditID, r);
      out.push(r);
    }
    if (e.responseStatus?.code) r.code = e.responseStatus.code;
    if (e.stage === "ResponseComplete" || e.stage === "Panic") r.end = Date.parse(e.stageTimestamp);
  }
  return out;
}

/**
 * Per watcher (its client and object), the requests it sent once the server
 * answered again until it was back: a WATCH answered 200 that stayed open (at
 * least 5 s, or still open). A WATCH that ended at once (its resourceVersion
 * expired: 200 with an ERROR 410 event) counts as a request, not as back.
 */
function recovery(all: Req[], tUp: number) {
  const perWatcher = new Map<string, { requests: number; backMs?: number }>();
  const back = new Set<string>();
  const now = Date.now();
  for (const r of all.sort((a, b) => a.time - b.time)) {
    const who = r.ua.endsWith(UA_SIM) ? "sim" : r.ua.endsWith(" sidecar") ? "sc" : undefined;
    if (!who || (r.resource !== "tenants" && r.resource !== "secrets")) continue;
    const key = `${who} ${r.resource} ${r.name}`;
    const w = perWatcher.get(key) ?? { requests: 0 };
    perWatcher.set(key, w);
    if (w.backMs !== undefined) continue;
    w.requests++;
    const open = r.end === undefined ? now - r.time : r.end - r.time;
    if (r.verb === "watch" && r.code === 200 && open >= 5_000) {
      w.backMs = r.time - tUp;
      back.add(key);
    }
  }
  return { perWatcher, back };
}

function readSends(file: string): number[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => Number(l.split(" ")[0]));
}

function bins(times: number[], from: number, to: number, width: number): number[] {
  const n = Math.max(0, Math.ceil((to - from) / width));
  const out = new Array<number>(n).fill(0);
  for (const t of times) {
    const i = Math.floor((t - from) / width);
    if (i >= 0 && i < n) out[i]!++;
  }
  return out;
}

function minGaps(reqs: Array<{ key: string; time: number }>): number {
  const last = new Map<string, number>();
  let min = Infinity;
  for (const r of reqs.sort((a, b) => a.time - b.time)) {
    const prev = last.get(r.key);
    if (prev !== undefined) min = Math.min(min, r.time - prev);
    last.set(r.key, r.time);
  }
  return min;
}

function mean(xs: number[]) {
  return xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
}
function round(x: number, d: number) {
  return Math.round(x * 10 ** d) / 10 ** d;
}

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** A bar chart of per-second counts, with the 300/s goal drawn as a line. */
function svg(perSecond: number[], firstSecond: number, title: string): string {
  const W = 900, H = 320, left = 50, bottom = 40, top = 30;
  const max = Math.max(320, ...perSecond);
  const bw = (W - left - 10) / perSecond.length;
  const y = (v: number) => H - bottom - (v / max) * (H - bottom - top);
  const bars = perSecond.map((v, i) => `<rect x="${(left + i * bw).toFixed(1)}" y="${y(v).toFixed(1)}" width="${Math.max(1, bw - 0.5).toFixed(1)}" height="${(H - bottom - y(v)).toFixed(1)}" fill="#4a7ab5"/>`).join("");
  const ticks = perSecond
    .map((_, i) => i + firstSecond)
    .filter((s) => s % 10 === 0)
    .map((s) => `<text x="${(left + (s - firstSecond) * bw).toFixed(1)}" y="${H - bottom + 15}" font-size="10" text-anchor="middle">${s}</text>`)
    .join("");
  const goal = `<line x1="${left}" x2="${W - 10}" y1="${y(300)}" y2="${y(300)}" stroke="#c33" stroke-dasharray="4"/><text x="${W - 12}" y="${y(300) - 4}" font-size="10" text-anchor="end" fill="#c33">goal: 300 per second</text>`;
  const yTicks = [0, 100, 200, 300].map((v) => `<text x="${left - 5}" y="${y(v) + 3}" font-size="10" text-anchor="end">${v}</text>`).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="${left}" y="18" font-size="12">${title}</text>${bars}${goal}${ticks}${yTicks}<text x="${(W + left) / 2}" y="${H - 8}" font-size="10" text-anchor="middle">seconds</text></svg>\n`;
}
