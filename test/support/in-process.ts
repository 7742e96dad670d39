/**
 * The sidecar's own composition root (startSidecar) in the test process, on
 * kernel-chosen loopback ports: for tests that need timings the CLI does not
 * expose (a 2 s stream window, a 100 ms reconcile retry).
 */
import { startSidecar, type RunningSidecar, type SidecarDeps, type SidecarOptions } from "../../src/commands/sidecar.ts";

export type InProcessOptions = Pick<SidecarOptions, "tenant" | "configName" | "namespace" | "configFile"> & Partial<Pick<SidecarOptions, "minioUrl" | "pruneBucketServices">>;

export async function startInProcess(o: InProcessOptions, deps: SidecarDeps): Promise<RunningSidecar> {
  const sc = await startSidecar(
    {
      clusterDomain: "cluster.local",
      probeAddress: "127.0.0.1:0",
      webhookAddress: "127.0.0.1:0",
      sidecarAddress: "127.0.0.1:0",
      pruneBucketServices: false,
      ...o,
    },
    deps,
  );
  return sc!;
}
