/** Loading the Kubernetes client for a command, with a one-line error when no config can be found. */
import { ClusterUnreachableError, describe, InputError } from "../errors.ts";
import { loadKube, NoKubeconfigError, type Kube } from "../kube/client.ts";

export function loadKubeOrFail(kubeconfig?: string): Kube {
  try {
    return loadKube(kubeconfig);
  } catch (err) {
    // Nothing to connect to is "cluster unreachable" (exit 3), naming where we looked.
    if (err instanceof NoKubeconfigError) throw new ClusterUnreachableError(err.message);
    throw new InputError(kubeconfig ? `kubeconfig ${kubeconfig}` : "Kubernetes client config", "", describe(err));
  }
}
