/**
 * `sidecar`: runs beside MinIO for the pod's whole life (SPEC 5).
 * Start-up: read Tenant and Secret (retrying; never exiting on transient
 * errors), write the file, start the three servers, keep watching.
 * SIGTERM/SIGINT stop watches and servers and exit 0 within 2 s.
 */
import type { Logger } from "pino";
import { BucketServices, type Owner } from "../buckets/bucket-services.ts";
import { BucketReconciler } from "../buckets/reconcile.ts";
import { InputError } from "../errors.ts";
import { MinioClient } from "../probe/minio-client.ts";
import { checkReadiness } from "../probe/readiness.ts";
import { listen, parseAddress, type Listener } from "../runtime/index.ts";
import { probeApp } from "../server/probe-server.ts";
import { sidecarApiApp } from "../server/sidecar-api.ts";
import { webhookApp } from "../server/webhook-server.ts";
import { BucketLoop } from "../sidecar/bucket-loop.ts";
import { ConfigController } from "../sidecar/controller.ts";
import { createMetrics } from "../sidecar/metrics.ts";
import { minioServiceHost, scheme } from "../tenant/topology.ts";
import { loadKubeOrFail } from "./kube-setup.ts";

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
  pruneBucketServices: boolean;
}

/** How long start-up waits for the first read before serving anyway (the watches keep retrying). */
const INITIAL_SYNC_WAIT_MS = 10_000;
/** Shutdown must finish well inside the 2 s the SPEC allows. */
const SHUTDOWN_BUDGET_MS = 1_500;

export async function sidecar(o: SidecarOptions, log: Logger): Promise<number> {
  const addresses = {
    probe: address("--probe-address", o.probeAddress),
    webhook: address("--webhook-address", o.webhookAddress),
    sidecar: address("--sidecar-address", o.sidecarAddress),
  };
  const kube = loadKubeOrFail(o.kubeconfig);
  const metrics = createMetrics();
  const controller = new ConfigController({
    kube,
    namespace: o.namespace,
    tenantName: o.tenant,
    secretName: o.configName,
    configFile: o.configFile,
    clusterDomain: o.clusterDomain,
    log,
    metrics,
  }).start();
  const stops: Array<() => Promise<void>> = [() => controller.stop()];
  let stopping = false;
  const signals = new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });

  const first = await Promise.race([
    controller.synced.then(() => "synced" as const),
    signals,
    new Promise<"timeout">((r) => setTimeout(() => r("timeout"), INITIAL_SYNC_WAIT_MS)),
  ]);
  if (first === "timeout") log.warn("Tenant and Secret not read yet; serving anyway while the watches retry");

  // The scheme follows the Tenant's TLS setting as read at start-up (default: TLS, as the operator's).
  const tenant = controller.config?.tenant;
  const minio = new MinioClient({
    baseUrl: o.minioUrl ?? `${tenant ? scheme(tenant) : "https"}://localhost:9000`,
    serverName: minioServiceHost({ tenant: o.tenant, namespace: o.namespace, clusterDomain: o.clusterDomain }),
  });
  const owner = (): Owner | undefined => {
    const uid = controller.tenantObject?.metadata?.uid;
    const t = controller.config?.tenant;
    return typeof uid === "string" && t ? { name: o.tenant, uid, tenant: t } : undefined;
  };
  const services = new BucketServices(kube, o.namespace, o.clusterDomain, owner);
  const reconciler = new BucketReconciler(kube, o.namespace, services, owner, log, o.pruneBucketServices);
  const buckets = new BucketLoop({ controller, reconciler, minio, metrics, log }).start();
  stops.push(() => buckets.stop());

  const listeners: Listener[] = [];
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
          readiness: () => checkReadiness(minio),
          alive: () => !stopping,
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
      await bind("--sidecar-address", sidecarApiApp(o.configFile), addresses.sidecar, o.sidecarAddress),
    );
  } catch (err) {
    await Promise.allSettled([...listeners.map((l) => l.stop()), ...stops.map((s) => s())]);
    throw err;
  }
  log.info({ probe: o.probeAddress, webhook: o.webhookAddress, sidecar: o.sidecarAddress, minio: minio.url("/").origin }, "sidecar serving");

  const signal = first === "SIGTERM" || first === "SIGINT" ? first : await signals;
  stopping = true;
  log.info({ signal }, "shutting down");
  const done = Promise.allSettled([...listeners.map((l) => l.stop()), ...stops.map((s) => s())]).then(() => minio.close());
  const finished = await Promise.race([done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), SHUTDOWN_BUDGET_MS))]);
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
