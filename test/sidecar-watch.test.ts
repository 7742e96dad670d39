/**
 * test/scenarios/sidecar-watch.ts against the in-repo fake API server.
 * API-server trouble (5xx, resets, dropped watches, 410s, outages) is in
 * sidecar-faults.test.ts; the same scenarios against a real kube-apiserver
 * are in test/kube/sidecar-watch.kube.ts.
 */
import { afterEach } from "bun:test";
import { cleanup, setup } from "./support/sidecar-cluster.ts";
import { sidecarWatchScenarios } from "./scenarios/sidecar-watch.ts";

afterEach(cleanup);
sidecarWatchScenarios(setup);
