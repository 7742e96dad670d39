/**
 * A real Kubernetes node for tests, in a network namespace of its own:
 * etcd, kube-apiserver, containerd (runc) and a kubelet, built by
 * `scripts/kube-servers.sh --node`, with no scheduler, controller manager or
 * kube-proxy. Pods name the node (`nodeName`) and use the host network,
 * which here is the namespace's: an interface whose only peer is in the same
 * namespace (and drops what is sent to it) carries the node address and the `kubernetes` Service
 * address, and the API server listens on that Service address itself, so the
 * KUBERNETES_SERVICE_HOST/_PORT the kubelet gives a pod lead straight to it.
 * No packet leaves the namespace; the test reaches the API server and the
 * pods through Unix sockets (test/node/bridge.ts) and loopback listeners.
 *
 * What this machine needs, measured (issue "A real node"): containerd's
 * `restrict_oom_score_adj` (no CAP_SYS_RESOURCE: the kubelet's -998 for
 * sandboxes fails in runc otherwise), the kubelet's `failCgroupV1: false` and
 * `cgroupDriver: cgroupfs` (cgroup v1, no systemd), and a local pause image.
 *
 * Everything the node makes stays in one run directory, one cgroup name in
 * every hierarchy and one network namespace, all recorded with every process
 * id in the run directory's `pids` file, and `stop()` undoes all of it:
 * processes (the cgroups' members included: shims and containers), mounts
 * under the run directory, cgroups, containerd's shim sockets, the namespace.
 * `leftovers()` says what of a run is still on the machine.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { appendFileSync, closeSync, existsSync, mkdirSync, mkdtempSync, readdirSync, openSync, readFileSync, readlinkSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { splice } from "../support/splice.ts";
import { dirname, join } from "node:path";
import { adminRequest, makePki, signCert, type Pki } from "../kube-apiserver/pki.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

export const NODE_NAME = "node-test";
/** The node's address (InternalIP) on the namespace's interface node0. */
export const NODE_IP = "10.200.0.2";
/** The `kubernetes` Service's address: the first of --service-cluster-ip-range, also on node0. */
export const SERVICE_IP = "10.96.0.1";
const SERVICE_RANGE = "10.96.0.0/24";

/** The tunables a kubelet sets at start when protectKernelDefaults is false (and refuses to start without, when true). */
export const KUBELET_SYSCTLS = ["vm/overcommit_memory", "vm/panic_on_oom", "kernel/panic", "kernel/panic_on_oops", "kernel/keys/root_maxkeys", "kernel/keys/root_maxbytes"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sh(cmd: string, args: string[], opts: { allowFail?: boolean; env?: NodeJS.ProcessEnv } = {}): { status: number; out: string; err: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: opts.env ?? process.env });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0 && !opts.allowFail) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

const tail = (file: string, n = 40) => (existsSync(file) ? readFileSync(file, "utf8").split("\n").slice(-n).join("\n") : "(no log)");

export interface NodeBinaries {
  kubeDir: string;
  containerdDir: string;
  version: string;
  etcd: string;
  apiserver: string;
  kubelet: string;
  containerd: string;
  ctr: string;
}

/** Where scripts/kube-servers.sh --node put the binaries; one clear line when any is missing. */
export function nodeBinaries(): NodeBinaries {
  const dir = (flag: string) => sh("bash", [join(ROOT, "scripts/kube-servers.sh"), flag]).out.trim();
  const kubeDir = dir("--dir");
  const containerdDir = dir("--containerd-dir");
  const b: NodeBinaries = {
    kubeDir,
    containerdDir,
    version: kubeDir.split("/").at(-1)!,
    etcd: join(kubeDir, "etcd"),
    apiserver: join(kubeDir, "kube-apiserver"),
    kubelet: join(kubeDir, "kubelet"),
    containerd: join(containerdDir, "containerd"),
    ctr: join(containerdDir, "ctr"),
  };
  for (const f of [b.etcd, b.apiserver, b.kubelet, b.containerd, b.ctr, join(containerdDir, "containerd-shim-runc-v2")]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run scripts/kube-servers.sh --node (npm run test:node does)`);
  }
  return b;
}

export interface NodeImages {
  /** OCI archives to import, and the name the pause image has (containerd's sandbox image). */
  archives: string[];
  pauseImage: string;
}

/** One answer of the API server. */
export interface ApiAnswer {
  status: number;
  body: any;
  text: string;
}

/** A loopback TCP listener that forwards each connection to a Unix socket. */
async function loopbackTo(socketPath: string): Promise<{ port: number; close: () => Promise<void> }> {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(socketPath);
    open.add(client).add(upstream);
    splice(client, upstream, () => {
      open.delete(client);
      open.delete(upstream);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  // close() alone waits for every connection to end, and fetch keeps them alive for a while.
  const close = async () => {
    for (const sock of open) sock.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return { port: (server.address() as { port: number }).port, close };
}

const RUN_DIR_PREFIX = "/tmp/minio-sidecar-node-";

/** run.json in a run directory: what stop() needs besides the pid file, for a later run to clean up. */
interface RunRecord {
  id: string;
  shimSocketsBefore: string[];
  createdRunContainerd: boolean;
}

export class TestNode {
  /** Names the network namespace and the cgroups: unique per test process (its pid). */
  readonly id: string;
  readonly dir: string;
  readonly bins: NodeBinaries;
  private pki!: Pki;
  private readonly procs = new Map<string, ChildProcess>();
  private readonly listeners: Array<() => Promise<void>> = [];
  private shimSocketsBefore = new Set<string>();
  private createdRunContainerd = false;
  /** Loopback ports in front of the API server and the pods' ports (the node's address). */
  apiPort = 0;
  private readonly podPorts = new Map<number, number>();
  /** Sysctl values before the kubelet started, and after it was Ready. */
  sysctlsBefore: Record<string, string> = {};
  sysctlsAfter: Record<string, string> = {};
  readonly timings: Record<string, number> = {};
  /** Milliseconds each teardown step took. */
  readonly stopTimings: Record<string, number> = {};
  log: (line: string) => void = (line) => console.log(`test:node: ${line}`);

  private constructor(bins: NodeBinaries, stale?: RunRecord & { dir: string }) {
    this.bins = bins;
    this.id = stale?.id ?? `mos-node-${process.pid}`;
    this.dir = stale?.dir ?? mkdtempSync(RUN_DIR_PREFIX);
    if (stale) {
      this.shimSocketsBefore = new Set(stale.shimSocketsBefore);
      this.createdRunContainerd = stale.createdRunContainerd;
    }
  }

  /**
   * Tears down what runs of a test process that no longer exists left behind
   * (one killed before its teardown: SIGKILL, a CI timeout), found by their
   * run records. Returns the run directories it cleaned.
   */
  static async cleanUpStaleRuns(): Promise<string[]> {
    const cleaned: string[] = [];
    for (const d of readdirSync(dirname(RUN_DIR_PREFIX)).map((e) => join(dirname(RUN_DIR_PREFIX), e)).filter((e) => e.startsWith(RUN_DIR_PREFIX))) {
      let rec: RunRecord;
      try {
        rec = JSON.parse(readFileSync(join(d, "run.json"), "utf8")) as RunRecord;
      } catch {
        continue; // not (yet) a run of ours
      }
      const owner = Number(rec.id.replace("mos-node-", ""));
      if (existsSync(`/proc/${owner}`) && !isZombie(owner)) continue; // still running
      const node = new TestNode(undefined as unknown as NodeBinaries, { ...rec, dir: d });
      await node.stop();
      cleaned.push(d);
    }
    return cleaned;
  }

  get pidFile(): string {
    return join(this.dir, "pids");
  }

  /** Starts the whole node and waits until it is Ready; on any failure, undoes what it did and throws. */
  static async start(images: NodeImages, podPorts: number[] = []): Promise<TestNode> {
    if (process.getuid?.() !== 0) throw new Error("test:node needs root (network namespaces, mounts, cgroups)");
    for (const tool of ["ip", "nsenter", "setpriv", "runc", "umount", "tar"]) {
      if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`test:node needs ${tool} on PATH`);
    }
    const node = new TestNode(nodeBinaries());
    try {
      await node.boot(images, podPorts);
    } catch (err) {
      await node.stop().catch((e) => node.log(`teardown after a failed start: ${e}`));
      throw err;
    }
    return node;
  }

  private async boot(images: NodeImages, podPorts: number[]) {
    const t0 = performance.now();
    const lap = (what: string, since: number) => {
      this.timings[what] = Math.round(performance.now() - since);
    };
    appendFileSync(this.pidFile, `# ${this.id}: netns ${this.id}, cgroup /${this.id}, dir ${this.dir}\n`);
    this.shimSocketsBefore = new Set(existsSync("/run/containerd/s") ? readdirSync("/run/containerd/s") : []);
    this.createdRunContainerd = !existsSync("/run/containerd");
    // What a later run needs to clean up after this one, should this process die before stop().
    const rec: RunRecord = { id: this.id, shimSocketsBefore: [...this.shimSocketsBefore], createdRunContainerd: this.createdRunContainerd };
    writeFileSync(join(this.dir, "run.json"), JSON.stringify(rec));
    this.makeNetns();
    this.makeCgroups();
    const pkiDir = join(this.dir, "pki");
    mkdirSync(pkiDir);
    this.pki = makePki(pkiDir, [`IP:${SERVICE_IP}`, `IP:${NODE_IP}`]);
    signCert(pkiDir, "kubelet", `/O=system:nodes/CN=system:node:${NODE_NAME}`);
    signCert(pkiDir, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client");

    // The bridge first: the loopback ports of the API server and the pods' ports.
    const sockets = [`${join(this.dir, "api.sock")}=${SERVICE_IP}:443`, ...podPorts.map((p) => `${join(this.dir, `pod-${p}.sock`)}=${NODE_IP}:${p}`)];
    await this.startInNode("bridge", [process.execPath, join(ROOT, "test/node/bridge.ts"), ...sockets], { readyFile: join(this.dir, "api.sock") });
    const api = await loopbackTo(join(this.dir, "api.sock"));
    this.listeners.push(api.close);
    this.apiPort = api.port;
    for (const p of podPorts) {
      const l = await loopbackTo(join(this.dir, `pod-${p}.sock`));
      this.listeners.push(l.close);
      this.podPorts.set(p, l.port);
    }

    let t = performance.now();
    await this.startEtcd();
    await this.startApiserver();
    lap("control plane", t);

    t = performance.now();
    await this.startContainerd(images);
    lap("containerd and image import", t);

    t = performance.now();
    this.sysctlsBefore = readSysctls();
    await this.startKubelet();
    await this.waitNodeReady();
    this.sysctlsAfter = readSysctls();
    lap("kubelet to node Ready", t);
    lap("node start", t0);
    const changed = KUBELET_SYSCTLS.filter((k) => this.sysctlsBefore[k] !== this.sysctlsAfter[k]).map((k) => `${k.replaceAll("/", ".")} ${this.sysctlsBefore[k]} -> ${this.sysctlsAfter[k]}`);
    this.log(
      `the kubelet runs with protectKernelDefaults: false, so it sets the kernel tunables it needs itself, machine-wide, as on any node ` +
        `(${KUBELET_SYSCTLS.map((k) => k.replaceAll("/", ".")).join(", ")}): ${changed.length ? `changed ${changed.join(", ")}` : "all already had its values"}`,
    );
  }

  // ---- the namespace and the cgroups -----------------------------------------------------------

  private makeNetns() {
    const ns = this.id;
    sh("ip", ["netns", "add", ns]);
    sh("ip", ["-n", ns, "link", "set", "lo", "up"]);
    // A veth pair with both ends in the namespace: the kernel here has no dummy
    // interfaces, and a peer without an address (forwarding is off in a new
    // namespace) drops whatever is routed to it, as a dummy would.
    sh("ip", ["-n", ns, "link", "add", "node0", "type", "veth", "peer", "name", "node0-peer"]);
    sh("ip", ["-n", ns, "link", "set", "node0-peer", "up"]);
    sh("ip", ["-n", ns, "addr", "add", `${NODE_IP}/24`, "dev", "node0"]);
    sh("ip", ["-n", ns, "addr", "add", `${SERVICE_IP}/32`, "dev", "node0"]);
    sh("ip", ["-n", ns, "link", "set", "node0", "up"]);
    // The kubelet and the API server look for a default route to pick addresses;
    // through node0, whatever would use it ends at the peer and is dropped.
    sh("ip", ["-n", ns, "route", "add", "default", "dev", "node0"]);
  }

  /** Every cgroup v1 hierarchy (and the unified one) this machine mounts. */
  private static hierarchies(): string[] {
    return readdirSync("/sys/fs/cgroup")
      .map((d) => join("/sys/fs/cgroup", d))
      .filter((d) => existsSync(join(d, "cgroup.procs")));
  }

  private makeCgroups() {
    for (const h of TestNode.hierarchies()) {
      for (const sub of [this.id, join(this.id, "node")]) {
        const d = join(h, sub);
        mkdirSync(d, { recursive: true });
        // A new cpuset cgroup has no CPUs and no memory nodes: nothing could join it.
        if (h.endsWith("/cpuset")) {
          for (const f of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(join(d, f), readFileSync(join(d, "..", f), "utf8"));
        }
      }
    }
  }

  private cgroupDirs(): string[] {
    const found: string[] = [];
    const walk = (d: string) => {
      if (!existsSync(d)) return;
      for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
      found.push(d); // children first: the order rmdir needs
    };
    for (const h of TestNode.hierarchies()) walk(join(h, this.id));
    return found;
  }

  // ---- processes --------------------------------------------------------------------------------

  /**
   * Starts `cmd` inside the node: in the run's own cgroup (`/<id>/node` in
   * every hierarchy), in the network namespace (only: the mount namespace
   * stays the machine's), killed by the kernel if this
   * test process dies (pdeathsig). Its pid goes into the pid file.
   */
  private async startInNode(name: string, cmd: string[], o: { env?: NodeJS.ProcessEnv; readyFile?: string } = {}): Promise<ChildProcess> {
    const log = join(this.dir, `${name}.log`);
    // nsenter --net, not `ip netns exec`: that also makes a private mount namespace per
    // process, and the kubelet's volume mounts must be seen by containerd and runc (and by teardown).
    const join_ = `for f in /sys/fs/cgroup/*/${this.id}/node/cgroup.procs; do echo $$ > "$f"; done; exec nsenter --net=/run/netns/${this.id} -- setpriv --pdeathsig KILL -- "$@"`;
    const out = openSync(log, "a");
    const p = spawn("sh", ["-c", join_, "sh", ...cmd], { stdio: ["ignore", out, out], env: o.env ?? process.env });
    closeSync(out);
    if (!p.pid) throw new Error(`could not start ${name}`);
    appendFileSync(this.pidFile, `${name} ${p.pid}\n`);
    this.procs.set(name, p);
    if (o.readyFile) {
      const deadline = Date.now() + 20_000;
      while (!existsSync(o.readyFile)) {
        if (p.exitCode !== null || Date.now() > deadline) throw new Error(`${name} did not start (exit ${p.exitCode}):\n${tail(log)}`);
        await sleep(50);
      }
    }
    return p;
  }

  private alive(name: string): boolean {
    const p = this.procs.get(name);
    return !!p && p.exitCode === null && p.signalCode === null;
  }

  private async waitFor(what: string, proc: string, check: () => Promise<boolean>, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (!this.alive(proc)) throw new Error(`${proc} exited (${this.procs.get(proc)?.exitCode}) before ${what}:\n${tail(join(this.dir, `${proc}.log`))}`);
      if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs / 1000}s:\n${tail(join(this.dir, `${proc}.log`))}`);
      await sleep(200);
    }
  }

  private async startEtcd() {
    const data = join(this.dir, "etcd");
    await this.startInNode("etcd", [
      this.bins.etcd,
      `--data-dir=${data}`,
      "--name=node-test",
      "--listen-client-urls=http://127.0.0.1:2379",
      "--advertise-client-urls=http://127.0.0.1:2379",
      "--listen-peer-urls=http://127.0.0.1:2380",
      "--initial-advertise-peer-urls=http://127.0.0.1:2380",
      "--initial-cluster=node-test=http://127.0.0.1:2380",
      "--unsafe-no-fsync",
      "--log-level=warn",
    ]);
    // etcd is checked through the API server's /readyz (its etcd check).
  }

  private async startApiserver() {
    const p = this.pki;
    const pkiDir = join(this.dir, "pki");
    await this.startInNode("kube-apiserver", [
      this.bins.apiserver,
      "--etcd-servers=http://127.0.0.1:2379",
      // Inside the namespace only; 443 on the Service address is what pods are told.
      "--bind-address=0.0.0.0",
      "--secure-port=443",
      `--advertise-address=${NODE_IP}`,
      `--service-cluster-ip-range=${SERVICE_RANGE}`,
      `--cert-dir=${join(this.dir, "apiserver-certs")}`,
      `--tls-cert-file=${p.servingCrt}`,
      `--tls-private-key-file=${p.servingKey}`,
      `--client-ca-file=${p.caCrt}`,
      // The kubelet is a node (system:node:<name>): the Node authorizer and NodeRestriction, as in a cluster.
      "--authorization-mode=Node,RBAC",
      "--enable-admission-plugins=NodeRestriction",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-key-file=${p.saPub}`,
      `--service-account-signing-key-file=${p.saKey}`,
      // Logs and probes of the API server towards the kubelet: its InternalIP, with a client certificate.
      "--kubelet-preferred-address-types=InternalIP",
      `--kubelet-client-certificate=${join(pkiDir, "apiserver-kubelet-client.crt")}`,
      `--kubelet-client-key=${join(pkiDir, "apiserver-kubelet-client.key")}`,
      "--profiling=false",
    ]);
    await this.waitFor("kube-apiserver /readyz", "kube-apiserver", async () => (await this.api("GET", "/readyz")).status === 200, 120_000);
    // The kubelet gives pods KUBERNETES_SERVICE_HOST from this Service; the API server makes it shortly after start.
    await this.waitFor("the kubernetes Service", "kube-apiserver", async () => (await this.api("GET", "/api/v1/namespaces/default/services/kubernetes")).status === 200, 60_000);
  }

  private async startContainerd(images: NodeImages) {
    const d = join(this.dir, "containerd");
    const cni = join(this.dir, "cni");
    mkdirSync(join(cni, "net.d"), { recursive: true });
    mkdirSync(join(cni, "bin"), { recursive: true });
    // Loopback only: enough for the runtime to report its network ready (so the
    // node turns Ready); the pods use the host network and never call a plugin.
    writeFileSync(join(cni, "net.d", "10-loopback.conflist"), JSON.stringify({ cniVersion: "1.0.0", name: "loopback", plugins: [{ type: "loopback" }] }));
    const config = `version = 3
root = "${d}/root"
state = "${d}/state"
# Plugins that would reach outside the run directory or need what a test node lacks.
disabled_plugins = ["io.containerd.nri.v1.nri", "io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs"]

[grpc]
  address = "${d}/containerd.sock"

[plugins."io.containerd.cri.v1.runtime"]
  # No CAP_SYS_RESOURCE here: the kubelet asks -998 for sandboxes, which runc cannot set
  # ("can't get final child's PID from pipe: EOF"); clamp to containerd's own score instead.
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = "${sh("sh", ["-c", "command -v runc"]).out.trim()}"
        Root = "${d}/runc"
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["${cni}/bin"]
    conf_dir = "${cni}/net.d"

[plugins."io.containerd.cri.v1.images"]
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "${images.pauseImage}"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
`;
    writeFileSync(join(this.dir, "containerd.toml"), config);
    // The runc shim is found on PATH.
    const env = { ...process.env, PATH: `${this.bins.containerdDir}:${process.env.PATH}` };
    await this.startInNode("containerd", [this.bins.containerd, "--config", join(this.dir, "containerd.toml"), "--log-level", "warn"], {
      env,
      readyFile: join(d, "containerd.sock"),
    });
    await this.waitFor("containerd answers", "containerd", async () => this.ctr(["version"], true).status === 0, 30_000);
    for (const a of images.archives) {
      const t = performance.now();
      const r = this.ctr(["-n", "k8s.io", "images", "import", a], true);
      if (r.status !== 0) throw new Error(`ctr images import ${a} failed: ${(r.err || r.out).trim()}`);
      this.log(`imported ${a} in ${Math.round(performance.now() - t)} ms: ${r.out.trim().split("\n").at(-1)}`);
    }
  }

  /** ctr against this node's containerd. */
  ctr(args: string[], allowFail = false) {
    return sh(this.bins.ctr, ["--address", join(this.dir, "containerd", "containerd.sock"), ...args], { allowFail });
  }

  /** The names of the images containerd holds in the CRI namespace. */
  imageNames(): string[] {
    return this.ctr(["-n", "k8s.io", "images", "list", "-q"]).out.split("\n").filter(Boolean);
  }

  private async startKubelet() {
    const k = join(this.dir, "kubelet");
    const pkiDir = join(this.dir, "pki");
    mkdirSync(k, { recursive: true });
    writeFileSync(join(this.dir, "resolv.conf"), "# no DNS on the test node\n");
    writeFileSync(
      join(this.dir, "kubelet.kubeconfig"),
      [
        "apiVersion: v1",
        "kind: Config",
        `clusters: [{name: node, cluster: {server: "https://${SERVICE_IP}:443", certificate-authority: "${this.pki.caCrt}"}}]`,
        `users: [{name: kubelet, user: {client-certificate: "${join(pkiDir, "kubelet.crt")}", client-key: "${join(pkiDir, "kubelet.key")}"}}]`,
        "contexts: [{name: node, context: {cluster: node, user: kubelet}}]",
        "current-context: node",
        "",
      ].join("\n"),
    );
    const config = {
      apiVersion: "kubelet.config.k8s.io/v1beta1",
      kind: "KubeletConfiguration",
      // This machine has cgroup v1 and no systemd.
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      // Pod cgroups (kubepods/...) inside the run's own cgroup.
      cgroupRoot: `/${this.id}`,
      // It sets vm.overcommit_memory etc. itself (said in the test's output).
      protectKernelDefaults: false,
      containerRuntimeEndpoint: `unix://${join(this.dir, "containerd", "containerd.sock")}`,
      address: NODE_IP,
      port: 10250,
      readOnlyPort: 0,
      healthzBindAddress: "127.0.0.1",
      healthzPort: 10248,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: false }, x509: { clientCAFile: this.pki.caCrt } },
      authorization: { mode: "AlwaysAllow" },
      podLogsDir: join(this.dir, "pod-logs"),
      resolvConf: join(this.dir, "resolv.conf"),
      failSwapOn: false,
      // A shared test machine's disk and memory are not the node's to protect: evict nothing.
      evictionHard: { "memory.available": "1Mi", "nodefs.available": "1%", "imagefs.available": "1%" },
      imageGCHighThresholdPercent: 100,
      imageGCLowThresholdPercent: 99,
      // Probes every second (the sidecar's readiness probe period) are the kubelet's own business; status every 2 s keeps the test short.
      nodeStatusUpdateFrequency: "2s",
      nodeStatusReportFrequency: "2s",
      syncFrequency: "5s",
      serializeImagePulls: false,
      shutdownGracePeriod: "0s",
      registerNode: true,
      // Nothing on this machine but this test's pods: no need to reserve.
      enforceNodeAllocatable: ["pods"],
    };
    writeFileSync(join(this.dir, "kubelet.yaml"), JSON.stringify(config, null, 2));
    await this.startInNode("kubelet", [
      this.bins.kubelet,
      `--config=${join(this.dir, "kubelet.yaml")}`,
      `--kubeconfig=${join(this.dir, "kubelet.kubeconfig")}`,
      `--root-dir=${k}`,
      `--cert-dir=${join(k, "pki")}`,
      `--node-ip=${NODE_IP}`,
      `--hostname-override=${NODE_NAME}`,
      "--v=1",
    ]);
  }

  private async waitNodeReady() {
    await this.waitFor(
      "node Ready",
      "kubelet",
      async () => {
        const n = await this.api("GET", `/api/v1/nodes/${NODE_NAME}`);
        return n.status === 200 && n.body.status?.conditions?.some((c: { type: string; status: string }) => c.type === "Ready" && c.status === "True");
      },
      180_000,
    );
  }

  // ---- the admin client --------------------------------------------------------------------------

  /** One request as system:masters, through the bridge to the API server on the Service address. */
  api(method: string, path: string, body?: unknown, contentType = "application/json"): Promise<ApiAnswer> {
    return adminRequest(this.pki, this.apiPort, method, path, body, contentType);
  }

  /** Like api(), but throws on a non-2xx answer. */
  async ok(method: string, path: string, body?: unknown, contentType?: string): Promise<any> {
    const r = await this.api(method, path, body, contentType);
    if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.body?.message ?? r.text}`);
    return r.body;
  }

  /**
   * Watches `path` (a collection, with a fieldSelector) until `until` returns
   * true for an event or `timeoutMs` passes; returns every event seen.
   */
  async watch(path: string, until: (e: { type: string; object: any }) => boolean, timeoutMs: number): Promise<Array<{ type: string; object: any }>> {
    const events: Array<{ type: string; object: any }> = [];
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), timeoutMs);
    try {
      const sep = path.includes("?") ? "&" : "?";
      const res = await fetch(`https://127.0.0.1:${this.apiPort}${path}${sep}watch=1`, {
        signal: ac.signal,
        tls: { ca: this.pki.caPem, cert: this.pki.adminCertPem, key: this.pki.adminKeyPem },
      } as RequestInit);
      if (!res.ok || !res.body) throw new Error(`watch ${path}: ${res.status} ${await res.text()}`);
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buf = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (!line.trim()) continue;
          const e = JSON.parse(line) as { type: string; object: any };
          events.push(e);
          if (until(e)) return events;
        }
      }
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    } finally {
      clearTimeout(timer);
      ac.abort();
    }
    return events;
  }

  /** The loopback port that reaches `port` on the node's address (given to start()). */
  podPort(port: number): number {
    const p = this.podPorts.get(port);
    if (!p) throw new Error(`port ${port} was not bridged: pass it to TestNode.start`);
    return p;
  }

  /** The API server's CA (what pods get as ca.crt). */
  get caPem(): string {
    return this.pki.caPem;
  }

  kubeletLog(n = 60): string {
    return tail(join(this.dir, "kubelet.log"), n);
  }

  // ---- teardown ----------------------------------------------------------------------------------

  /** Undoes everything the node did on this machine; safe to call twice and after a failed start. */
  async stop(): Promise<void> {
    let t = performance.now();
    const lap = (what: string) => {
      this.stopTimings[what] = Math.round(performance.now() - t);
      t = performance.now();
    };
    for (const close of this.listeners.splice(0)) await close();
    lap("loopback listeners");
    // The kubelet first (it would restart containers), then the rest, politely.
    for (const name of ["kubelet", "kube-apiserver", "containerd", "etcd", "bridge"]) {
      await this.stopProcess(name);
      lap(name);
      // Pods left running (a test that failed half-way) would hold their watches open and
      // make the API server wait for them: with the kubelet gone, end them at once.
      if (name === "kubelet") for (const pid of this.cgroupPids("kubepods")) signalPid(pid, "SIGKILL");
    }
    // Whatever is still in the run's cgroups: shims, pause and container processes.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const pids = this.cgroupPids();
      if (pids.length === 0) break;
      if (Date.now() > deadline) throw new Error(`teardown: processes ${pids.join(", ")} do not die`);
      for (const pid of pids) signalPid(pid, "SIGKILL");
      await sleep(100);
    }
    // Killed shims' children were handed to the machine's init, which reaps them in its own time.
    for (const until = Date.now() + 15_000; this.processesOfRun().length > 0 && Date.now() < until; ) await sleep(100);
    lap("processes in the cgroups");
    // Mounts under the run directory (the kubelet's bind mount of its root, tmpfs
    // volumes, container root filesystems, sandbox /dev/shm), the deepest first.
    for (let round = 0; ; round++) {
      const mounts = mountsUnder(this.dir);
      if (mounts.length === 0) break;
      if (round > 20) throw new Error(`teardown: cannot unmount ${mounts.join(", ")}`);
      for (const m of mounts.reverse()) {
        if (sh("umount", [m], { allowFail: true }).status !== 0 && round > 2) sh("umount", ["-l", m], { allowFail: true });
      }
    }
    lap("unmount");
    for (const d of this.cgroupDirs()) {
      for (let i = 0; existsSync(d); i++) {
        try {
          rmdirSync(d);
        } catch (err) {
          if (i > 50) throw new Error(`teardown: cannot remove cgroup ${d}: ${(err as Error).message}`);
          await sleep(100);
        }
      }
    }
    lap("cgroups");
    if (sh("ip", ["netns", "list"]).out.split("\n").some((l) => l.split(" ")[0] === this.id)) sh("ip", ["netns", "del", this.id]);
    lap("netns");
    for (const s of this.newShimSockets()) rmSync(join("/run/containerd/s", s), { force: true });
    if (this.createdRunContainerd) {
      for (const d of ["/run/containerd/s", "/run/containerd"]) {
        try {
          rmdirSync(d);
        } catch {
          // not empty: someone else's
        }
      }
    }
    // The kubelet links container logs from /var/log/containers (a fixed path) into its pod log directory.
    if (existsSync("/var/log/containers")) {
      for (const f of readdirSync("/var/log/containers")) {
        const p = join("/var/log/containers", f);
        try {
          if (readlinkSync(p).startsWith(this.dir)) rmSync(p, { force: true });
        } catch {
          // not a link
        }
      }
    }
    const left = this.leftovers();
    if (left.length === 0) rmSync(this.dir, { recursive: true, force: true });
  }

  /**
   * SIGTERM, then SIGKILL after 10 s. Waits by looking at /proc, not for the
   * ChildProcess "exit" event: measured here, Bun delivered the kubelet's
   * "exit" about 90 s after the process had gone.
   */
  private async stopProcess(name: string) {
    const pid = this.recordedPids().find(([n]) => n === name)?.[1];
    // Only while the pid is still in the run's cgroup: after a crash it may be someone else's now.
    if (!pid || !this.inRunCgroup(pid)) return;
    const gone = () => !existsSync(`/proc/${pid}`) || isZombie(pid);
    const signal = (sig: NodeJS.Signals) => signalPid(pid, sig);
    if (gone()) return;
    signal("SIGTERM");
    for (let waited = 0; !gone(); waited += 50) {
      if (waited === 10_000) signal("SIGKILL");
      if (waited > 20_000) throw new Error(`teardown: ${name} (${pid}) does not die`);
      await sleep(50);
    }
  }

  /** Members of the run's cgroups (or of those whose path contains `under`). */
  private cgroupPids(under = ""): number[] {
    const pids = new Set<number>();
    for (const d of this.cgroupDirs().filter((d) => d.includes(under))) {
      for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (l) pids.add(Number(l));
    }
    return [...pids];
  }

  /** [name, pid] of every process the pid file records. */
  private recordedPids(): Array<[string, number]> {
    if (!existsSync(this.pidFile)) return [];
    return readFileSync(this.pidFile, "utf8")
      .split("\n")
      .filter((l) => /^\S+ \d+$/.test(l))
      .map((l) => [l.split(" ")[0]!, Number(l.split(" ")[1])]);
  }

  /** Whether /proc/PID/cgroup names the run's cgroup (zombies keep the name). */
  private inRunCgroup(pid: number): boolean {
    try {
      const cg = readFileSync(`/proc/${pid}/cgroup`, "utf8");
      return cg.includes(`/${this.id}/`) || cg.split("\n").some((l) => l.endsWith(`/${this.id}`));
    } catch {
      return false; // gone
    }
  }

  /** Every process in the run's cgroups, zombies included. */
  private processesOfRun(): number[] {
    return readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .map(Number)
      .filter((pid) => this.inRunCgroup(pid));
  }

  private newShimSockets(): string[] {
    if (!existsSync("/run/containerd/s")) return [];
    return readdirSync("/run/containerd/s").filter((s) => !this.shimSocketsBefore.has(s));
  }

  /** What of this run is still on the machine: processes, mounts, cgroups, the namespace, shim sockets. Empty after stop(). */
  leftovers(): string[] {
    const left: string[] = [];
    for (const [name, pid] of this.recordedPids()) if (this.inRunCgroup(pid) && !isZombie(pid)) left.push(`process ${name} (${pid})`);
    // Any process still in one of the run's cgroups (an exited one not yet reaped counts too).
    for (const pid of this.processesOfRun()) left.push(`process ${pid} in cgroup /${this.id}${isZombie(pid) ? " (exited, not yet reaped)" : ""}`);
    for (const m of mountsUnder(this.dir)) left.push(`mount ${m}`);
    for (const h of TestNode.hierarchies()) if (existsSync(join(h, this.id))) left.push(`cgroup ${join(h, this.id)}`);
    if (sh("ip", ["netns", "list"]).out.split("\n").some((l) => l.split(" ")[0] === this.id)) left.push(`network namespace ${this.id}`);
    for (const s of this.newShimSockets()) left.push(`shim socket /run/containerd/s/${s}`);
    // The node's own ports lived in its namespace; the loopback ones in front of them are this process's.
    const listening = sh("ss", ["-Hltn"], { allowFail: true }).out;
    for (const port of [this.apiPort, ...this.podPorts.values()]) {
      if (port && listening.split("\n").some((l) => l.split(/\s+/)[3]?.endsWith(`:${port}`))) left.push(`listening port 127.0.0.1:${port}`);
    }
    return left;
  }
}

function signalPid(pid: number, sig: NodeJS.Signals) {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

function isZombie(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}

/** Mount points at or under `dir`, in /proc/self/mountinfo order (parents before children). */
function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(" ")[4]!.replace(/\\040/g, " "))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

function readSysctls(): Record<string, string> {
  return Object.fromEntries(KUBELET_SYSCTLS.map((k) => [k, readFileSync(`/proc/sys/${k}`, "utf8").trim()]));
}
