/**
 * `sidecar`: runs beside MinIO for the pod's whole life (SPEC 5).
 *
 * `startSidecar` is the composition root: it takes its dependencies (the
 * API client, the logger, timings) and wires the config loop, the bucket
 * reconcile loop and the three servers. The command and the tests both call
 * it, so the wiring that decides the MinIO URL, the owner of bucket Services
 * and what /healthz checks is tested as it runs.
 *
 * Start-up: read Tenant and Secret (retrying; never exiting on transient
 * errors), write the file, start the three servers, keep watching.
 * SIGTERM/SIGINT stop watches and servers and exit 0 within 2 s.
 *
 * Self-healing: the operator gives this container a readiness probe only, so
 * a /healthz 503 restarts nothing. A watch loop still inside a step past that
 * step's bound (ObjectWatch.progressing: a LIST's 10 s, a WATCH's window +
 * grace + header timeout, a backoff's delay; plus 30 s slack) and still
 * WEDGE_EXIT_AFTER_MS later makes the process exit 1, the reason on stderr
 * and in the termination log, and the kubelet restarts the container: about
 * 70 s after a LIST hung. An API outage is no wedge (every failed try ends
 * its step).
 */
import type { Logger } from "pino";
import { BucketServices, type Owner } from "../buckets/bucket-services.ts";
import { BucketReconciler } from "../buckets/reconcile.ts";
import { InputError } from "../errors.ts";
import { loadKube, type Kube } from "../kube/client.ts";
import { EventRecorder } from "../kube/events.ts";
import type { WatchTimings } from "../kube/object-watch.ts";
import { MinioClient, sharedReadiness } from "../minio/client.ts";
import { checkBindable, isLoopbackHost, listen, parseAddress, type Listener } from "../runtime/index.ts";
import { probeApp } from "../server/probe-server.ts";
import { sidecarApiApp } from "../server/sidecar-api.ts";
import { webhookApp } from "../server/webhook-server.ts";
import { BucketLoop, type BucketLoopTimings } from "../loops/bucket-loop.ts";
import { ConfigController } from "../loops/config-loop.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import { minioServiceHost, scheme } from "../tenant/topology.ts";

export interface SidecarOptions {
  tenant: string;
  configName: string;
  namespace: string;
  kubeconfig?: string;
  configFile: string;
  clusterDomain: string;
  probeAddress: string;
  webhookAddress: string;
  sidecarAddress: string;
  minioUrl?: string;
  minioCaFile?: string;
  /** --allow-remote-webhook: without it the webhook must be bound to a loopback address (checked after binding). */
  allowRemoteWebhook?: boolean;
  pruneBucketServices: boolean;
}

export interface SidecarDeps {
  kube: Kube;
  log: Logger;
  watchTimings?: Partial<WatchTimings>;
  bucketTimings?: Partial<BucketLoopTimings>;
  /** Where MinIO listens when --minio-url is not given (`localhost:9000`; tests point it elsewhere). */
  minioHostPort?: string;
  /** How long start-up waits for the first read before serving anyway (the watches keep retrying). */
  initialSyncWaitMs?: number;
  /** How long /healthz must have been failing before the process gives up (default WEDGE_EXIT_AFTER_MS). */
  wedgeExitAfterMs?: number;
}

export interface RunningSidecar {
  controller: ConfigController;
  buckets: BucketLoop;
  reconciler: BucketReconciler;
  metrics: Metrics;
  minio: MinioClient;
  listeners: { probe: Listener; webhook: Listener; sidecar: Listener };
  /** Whether every watch loop has made progress recently (what /healthz answers). */
  healthy(): boolean;
  /**
   * Resolves with the reason once a loop has been wedged (healthy() false)
   * for wedgeExitAfterMs without a break: the sidecar() command then exits
   * non-zero so the kubelet restarts the container. Never resolves otherwise.
   */
  wedged: Promise<string>;
  stop(): Promise<void>;
}

const INITIAL_SYNC_WAIT_MS = 10_000;
/**
 * /healthz failing for this long (after the loop's own wedge bound) ends the
 * process. 30 s: where someone did add a liveness probe, the kubelet's
 * defaults (every 10 s, 3 failures) restart the container first, as it would
 * any other; without one, this does.
 */
const WEDGE_EXIT_AFTER_MS = 30_000;
/** How often the wedge watchdog looks: small against the bound, cheap (a few Date.now()). */
const WEDGE_CHECK_MS = 1_000;
/** Shutdown must finish well inside the 2 s the SPEC allows. */
const SHUTDOWN_BUDGET_MS = 1_500;

export async function startSidecar(o: SidecarOptions, d: SidecarDeps, stopEarly?: Promise<unknown>): Promise<RunningSidecar | undefined> {
  const { kube, log } = d;
  const addresses = {
    probe: address("--probe-address", o.probeAddress),
    webhook: address("--webhook-address", o.webhookAddress),
    sidecar: address("--sidecar-address", o.sidecarAddress),
  };
  const metrics = createMetrics();
  const events = new EventRecorder({ kube, log });
  const controller = new ConfigController({
    kube,
    namespace: o.namespace,
    tenantName: o.tenant,
    secretName: o.configName,
    configFile: o.configFile,
    clusterDomain: o.clusterDomain,
    log,
    metrics,
    watchTimings: d.watchTimings,
    events,
  }).start();

  const first = await Promise.race([
    controller.synced.then(() => "synced" as const),
    (stopEarly ?? new Promise<never>(() => {})).then(() => "stop" as const),
    new Promise<"timeout">((r) => setTimeout(() => r("timeout"), d.initialSyncWaitMs ?? INITIAL_SYNC_WAIT_MS)),
  ]);
  if (first === "stop") {
    await controller.stop();
    return undefined;
  }
  if (first === "timeout") log.warn("Tenant and Secret not read yet; serving anyway while the watches retry");

  // Without --minio-url the scheme follows the Tenant's current TLS setting (the last valid
  // config; TLS, as the operator's default, until one is known), not the one seen at start-up.
  const hostPort = d.minioHostPort ?? "localhost:9000";
  const minio = new MinioClient({
    baseUrl: o.minioUrl ? () => o.minioUrl! : () => `${controller.config ? scheme(controller.config.tenant) : "https"}://${hostPort}`,
    serverName: minioServiceHost({ tenant: o.tenant, namespace: o.namespace, clusterDomain: o.clusterDomain }),
    caFile: o.minioCaFile,
  });
  const owner = (): Owner | undefined => {
    const uid = controller.tenantObject?.metadata?.uid;
    const t = controller.config?.tenant;
    return typeof uid === "string" && t ? { name: o.tenant, uid, tenant: t } : undefined;
  };
  const services = new BucketServices(kube, o.namespace, o.clusterDomain, owner);
  const reconciler = new BucketReconciler(kube, services, owner, log, o.pruneBucketServices);
  const buckets = new BucketLoop({ controller, reconciler, minio, metrics, log, timings: d.bucketTimings }).start();

  let stopping = false;
  const healthy = () => !stopping && controller.watches.every((w) => w.progressing);
  let watchdog: ReturnType<typeof setInterval> | undefined;
  const wedged = new Promise<string>((resolve) => {
    const exitAfter = d.wedgeExitAfterMs ?? WEDGE_EXIT_AFTER_MS;
    let failingSince: number | undefined;
    watchdog = setInterval(() => {
      if (stopping || healthy()) return void (failingSince = undefined);
      failingSince ??= Date.now();
      if (Date.now() - failingSince < exitAfter) return;
      clearInterval(watchdog);
      const stalled = controller.watches
        .filter((w) => !w.progressing)
        .map((w) => `${w.status.kind} ${o.namespace}/${w.status.name} watch made no progress for ${Math.round((Date.now() - w.progressAt) / 1000)} s (state ${w.status.state})`);
      resolve(`sidecar wedged: ${stalled.join("; ") || "a loop stopped making progress"}; exiting so the kubelet restarts the container`);
    }, WEDGE_CHECK_MS);
  });
  const listeners: Listener[] = [];
  const stopAll = () => Promise.allSettled([...listeners.map((l) => l.stop()), controller.stop(), buckets.stop()]);
  // A port taken between the start-up check and here is still named by its flag.
  const bind = async (flag: string, app: Parameters<typeof listen>[0], addr: (typeof addresses)["probe"], value: string) =>
    listen(app, addr).catch((err: unknown) => {
      throw new InputError(`${flag} ${value}`, "", err instanceof Error ? err.message : String(err));
    });
  try {
    listeners.push(
      await bind(
        "--probe-address",
        probeApp({
          readiness: sharedReadiness(minio),
          alive: healthy,
          status: () => ({ ...controller.status(), minioUrl: minio.url("/").origin, bucketReconcile: buckets.lastRun ?? null }),
          metrics,
          log,
        }),
        addresses.probe,
        o.probeAddress,
      ),
      await bind(
        "--webhook-address",
        webhookApp({ namespace: o.namespace, tenant: o.tenant, services, onChange: (b, p) => reconciler.remember(b, p), metrics, log }),
        addresses.webhook,
        o.webhookAddress,
      ),
      await bind("--sidecar-address", sidecarApiApp(() => {
          const s = controller.status();
          return { inputs: s.inputs, lastWriteTime: s.lastWriteTime ?? null };
        }), addresses.sidecar, o.sidecarAddress),
    );
  } catch (err) {
    clearInterval(watchdog);
    await stopAll();
    minio.close();
    throw err;
  }
  const [probe, webhook, sidecarApi] = listeners as [Listener, Listener, Listener];
  // The flag check saw the text; this sees what was bound (the webhook has no authentication).
  if (!o.allowRemoteWebhook && !isLoopbackHost(webhook.hostname)) {
    clearInterval(watchdog);
    await stopAll();
    minio.close();
    throw new InputError(`--webhook-address ${o.webhookAddress}`, "", `bound ${webhook.hostname}, which is not a loopback address`);
  }
  for (const [flag, l] of [["--probe-address", probe], ["--sidecar-address", sidecarApi]] as const) {
    if (l.ipv4Only) log.warn({ flag, port: l.port }, "this kernel has no IPv6: listening on IPv4 only (0.0.0.0)");
  }
  log.info({ probe: o.probeAddress, webhook: o.webhookAddress, sidecar: o.sidecarAddress, minio: minio.url("/").origin }, "sidecar serving");
  return {
    controller,
    buckets,
    reconciler,
    metrics,
    minio,
    listeners: { probe, webhook, sidecar: sidecarApi },
    healthy,
    wedged,
    async stop() {
      stopping = true;
      clearInterval(watchdog);
      await stopAll();
      minio.close();
      await events.flush();
    },
  };
}

export async function sidecar(o: SidecarOptions, log: Logger): Promise<number> {
  await checkBindable([
    { flag: "--probe-address", value: o.probeAddress },
    { flag: "--webhook-address", value: o.webhookAddress },
    { flag: "--sidecar-address", value: o.sidecarAddress },
  ]);
  const kube = loadKube(o.kubeconfig, "sidecar");
  const signals = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  const running = await startSidecar(o, { kube, log }, signals);
  if (!running) {
    log.info({ signal: await signals }, "shutting down");
    return 0;
  }
  const outcome = await Promise.race([signals.then((signal) => ({ signal })), running.wedged.then((wedge) => ({ wedge }))]);
  if ("wedge" in outcome) {
    // main() prints it on stderr, logs it and writes the termination log; exit 1.
    await Promise.race([running.stop(), new Promise((r) => setTimeout(r, SHUTDOWN_BUDGET_MS))]);
    throw new Error(outcome.wedge);
  }
  log.info({ signal: outcome.signal }, "shutting down");
  const finished = await Promise.race([
    running.stop().then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), SHUTDOWN_BUDGET_MS)),
  ]);
  log.info(finished ? "stopped" : "shutdown budget exceeded; exiting anyway");
  return 0;
}

function address(flag: string, value: string) {
  try {
    return parseAddress(value);
  } catch (err) {
    throw new InputError(flag, "", (err as Error).message);
  }
}
