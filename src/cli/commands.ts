/**
 * Every command and flag, declared once (SPEC 2). The parser and the help
 * text follow from this table; test/docs.test.ts checks that
 * docs/reference.md documents every flag in it.
 */
import { checkAddress, checkDuration, checkHttpUrl, checkNamespace, isLoopbackAddress, type ValueCheck } from "./values.ts";

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
  /** Refuses a malformed value with a reason (usage error naming the flag, before anything starts). */
  check?: ValueCheck;
  /** Leave the value out of error messages (a URL may carry credentials). */
  hideValue?: boolean;
}

export interface CommandSpec {
  name: "validate" | "sidecar" | "render";
  alias?: string;
  summary: string;
  flags: FlagSpec[];
  /** Checks across flags, after defaults are filled in: the reason the combination is refused. */
  checkFlags?: (flags: Readonly<Record<string, string | true>>) => string | undefined;
}

const clusterFlags: FlagSpec[] = [
  {
    name: "namespace",
    arg: "NS",
    help: "namespace of the Tenant",
    defaultHelp: "in a pod: its service account's namespace; else the kubeconfig context's namespace; else minio-operator",
    check: checkNamespace,
  },
  {
    name: "kubeconfig",
    arg: "PATH",
    help: "kubeconfig file",
    defaultHelp: "in-cluster when KUBERNETES_SERVICE_HOST is set, else $KUBECONFIG, else ~/.kube/config",
  },
  { name: "config-file", arg: "PATH", help: "MinIO config file to write", default: "/tmp/minio/config.env" },
  {
    name: "termination-log",
    arg: "PATH",
    help: "on a fatal error, also write the error line here when the file exists (the kubelet's termination message)",
    default: "/dev/termination-log",
  },
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
    flags: [
      { name: "tenant", arg: "NAME", help: "Tenant name", required: true },
      ...clusterFlags,
      logLevel,
      {
        name: "retry-for",
        arg: "DURATION",
        help: "how long to retry an unreachable or failing API server before exit 3",
        default: "60s",
        check: checkDuration,
      },
    ],
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
      { name: "probe-address", arg: "HOST:PORT", help: "readiness probe, status and metrics server (:PORT: every IPv4 and IPv6 address)", default: ":4444", check: checkAddress },
      { name: "webhook-address", arg: "HOST:PORT", help: "bucket-DNS webhook server (loopback only, see --allow-remote-webhook)", default: "127.0.0.1:4222", check: checkAddress },
      { name: "sidecar-address", arg: "HOST:PORT", help: "sidecar API server (:PORT: every IPv4 and IPv6 address)", default: ":4224", check: checkAddress },
      { name: "minio-url", arg: "URL", help: "local MinIO (http or https)", defaultHelp: "https://localhost:9000 with TLS, else http://localhost:9000", check: checkHttpUrl, hideValue: true },
      { name: "minio-ca-file", arg: "PATH", help: "CA (PEM) that signs a remote https --minio-url's certificate (ListBuckets is signed with the root credentials, so it is verified)", defaultHelp: "the system's trust store" },
      { name: "allow-remote-webhook", help: "let --webhook-address listen beyond loopback (the webhook creates and deletes Services)" },
      { name: "prune-bucket-services", help: "delete bucket Services whose bucket no longer exists (default: only report them)" },
    ],
    // The webhook has no authentication (MinIO sends none): anyone who can
    // reach it can create and delete Services, so only MinIO beside it may.
    checkFlags: (flags) =>
      flags["allow-remote-webhook"] !== true && !isLoopbackAddress(flags["webhook-address"] as string)
        ? `--webhook-address ${flags["webhook-address"]} is not a loopback address; the webhook creates and deletes Services without authentication, so it listens on 127.0.0.1 or ::1 unless --allow-remote-webhook is given`
        : undefined,
  },
  {
    name: "render",
    summary: "print the config file validate would write, from manifest files; no cluster needed",
    flags: [
      { name: "tenant-file", arg: "PATH", help: "Tenant manifest (YAML or JSON); - reads standard input", required: true },
      { name: "secret-file", arg: "PATH", help: "Secret manifest (YAML or JSON); - reads standard input", required: true },
      { name: "namespace", arg: "NS", help: "namespace when the Tenant has none", defaultHelp: "minio-operator", check: checkNamespace },
    ],
  },
];

export const BINARY = "minio-operator-sidecar";
