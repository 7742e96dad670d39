/**
 * `sidecar`: runs beside MinIO for the pod's whole life (SPEC 5).
 * Start-up: read Tenant and Secret (retrying; never exiting on transient
 * errors), write the file, start the servers, keep watching. SIGTERM/SIGINT
 * stop watches and servers and exit 0 within 2 s.
 */
import type { Logger } from "pino";
import { loadKubeOrFail } from "./kube-setup.ts";
import { ConfigController } from "../sidecar/controller.ts";
import { createMetrics } from "../sidecar/metrics.ts";

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

  const initial = await Promise.race([
    controller.synced.then(() => "synced" as const),
    new Promise<"timeout">((r) => setTimeout(() => r("timeout"), INITIAL_SYNC_WAIT_MS).unref?.()),
  ]);
  if (initial === "timeout") log.warn("Tenant and Secret not read yet; serving anyway while the watches retry");

  const stops: Array<() => Promise<void>> = [() => controller.stop()];
  log.info({ status: controller.status() }, "sidecar running");

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "shutting down");
      const deadline = setTimeout(() => {
        log.warn("shutdown budget exceeded; exiting anyway");
        resolve(0);
      }, SHUTDOWN_BUDGET_MS);
      Promise.allSettled(stops.map((s) => s())).then(() => {
        clearTimeout(deadline);
        log.info("stopped");
        resolve(0);
      });
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
  });
}
