/**
 * Every command and flag, declared once (SPEC 2). The parser, the help text
 * and the README table all follow from this table.
 */
export interface FlagSpec {
  name: string;
  /** Value placeholder; absent for boolean switches. */
  arg?: string;
  help: string;
  required?: boolean;
  /** The value used when the flag is absent (filled in by the parser). */
  default?: string;
  /** A default that depends on the environment: described, resolved by the command. */
  defaultHelp?: string;
  /** The only values accepted. */
  choices?: readonly string[];
}

export interface CommandSpec {
  name: "validate" | "sidecar" | "render";
  alias?: string;
  summary: string;
  flags: FlagSpec[];
}

const clusterFlags: FlagSpec[] = [
  {
    name: "namespace",
    arg: "NS",
    help: "namespace of the Tenant",
    defaultHelp: "the pod's namespace (service account), else minio-operator",
  },
  {
    name: "kubeconfig",
    arg: "PATH",
    help: "kubeconfig file",
    defaultHelp: "in-cluster when KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG, else ~/.kube/config",
  },
  { name: "config-file", arg: "PATH", help: "MinIO config file to write", default: "/tmp/minio/config.env" },
];
const logLevel: FlagSpec = {
  name: "log-level",
  arg: "LEVEL",
  help: "pino log level",
  default: "info",
  choices: ["fatal", "error", "warn", "info", "debug", "trace", "silent"],
};

export const COMMANDS: CommandSpec[] = [
  {
    name: "validate",
    alias: "v",
    summary: "init container: validate the Tenant and its Secret, write the config file, exit",
    flags: [{ name: "tenant", arg: "NAME", help: "Tenant name", required: true }, ...clusterFlags, logLevel],
  },
  {
    name: "sidecar",
    alias: "s",
    summary: "watch the Tenant and Secret, keep the config file current, serve probes, webhook and API",
    flags: [
      { name: "tenant", arg: "NAME", help: "Tenant name", required: true },
      { name: "config-name", arg: "SECRET", help: "configuration Secret name (followed when the Tenant changes it)", required: true },
      ...clusterFlags,
      logLevel,
      { name: "probe-address", arg: "HOST:PORT", help: "readiness probe, status and metrics server", default: "0.0.0.0:4444" },
      { name: "webhook-address", arg: "HOST:PORT", help: "bucket-DNS webhook server (keep on loopback)", default: "127.0.0.1:4222" },
      { name: "sidecar-address", arg: "HOST:PORT", help: "sidecar API server", default: "0.0.0.0:4224" },
      { name: "minio-url", arg: "URL", help: "local MinIO", defaultHelp: "https://localhost:9000 with TLS, else http://localhost:9000" },
      { name: "prune-bucket-services", help: "delete bucket Services whose bucket no longer exists (default: only report them)" },
    ],
  },
  {
    name: "render",
    summary: "print the config file validate would write, from manifest files; no cluster needed",
    flags: [
      { name: "tenant-file", arg: "PATH", help: "Tenant manifest (YAML or JSON)", required: true },
      { name: "secret-file", arg: "PATH", help: "Secret manifest (YAML or JSON)", required: true },
      { name: "namespace", arg: "NS", help: "namespace when the Tenant has none", defaultHelp: "minio-operator" },
    ],
  },
];

export const BINARY = "minio-operator-sidecar";
