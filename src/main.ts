/**
 * CLI entry: parse, dispatch, exit codes (SPEC 2). Commands, pino and the
 * Kubernetes client are imported lazily so that `render` and `--version`
 * start nearly as fast as an empty binary.
 */
import { parseArgs, helpText } from "./cli/parse.ts";
import { parseDuration } from "./cli/values.ts";
import { describe, exitCodeOf } from "./errors.ts";
import { writeStd } from "./runtime/index.ts";
import { versionLine } from "./version.ts";

type Flags = Record<string, string | true>;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    await stderr(`error: ${describe(err, true)}\n`);
    // A container whose arguments are wrong says so in `kubectl describe pod` too.
    writeTerminationLog(terminationLogFromArgv(argv), `error: ${describe(err)}\n`);
    return exitCodeOf(err);
  }
  if (parsed.kind === "help") {
    await stdout(helpText(parsed.command));
    return 0;
  }
  if (parsed.kind === "version") {
    await stdout(`${versionLine()}\n`);
    return 0;
  }
  const { command, flags } = parsed;
  return command.name === "render" ? runRender(flags) : runClusterCommand(command.name, flags);
}

const str = (flags: Flags, name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
const clusterDomain = () => process.env.CLUSTER_DOMAIN || "cluster.local";

/** render: stdout carries only the file; warnings and the one error line go to stderr. */
async function runRender(flags: Flags): Promise<number> {
  const warnings: string[] = [];
  try {
    const { render } = await import("./commands/render.ts");
    const content = await render(
      { tenantFile: str(flags, "tenant-file")!, secretFile: str(flags, "secret-file")!, namespace: str(flags, "namespace"), clusterDomain: clusterDomain() },
      (warning) => warnings.push(`warning: ${warning}\n`),
    );
    await stderr(warnings.join(""));
    await stdout(content);
    return 0;
  } catch (err) {
    await stderr(`${warnings.join("")}error: ${describe(err)}\n`);
    return exitCodeOf(err);
  }
}

/**
 * validate and sidecar: pino JSON lines on stdout (the container log), plus
 * one plain line on stderr on failure. The command's modules are loaded
 * first and the logger last, right before the command runs: pino then loads
 * while the first API request is on the wire (./log/deferred.ts).
 */
async function runClusterCommand(name: "validate" | "sidecar", flags: Flags): Promise<number> {
  // One after the other: loading these chunks concurrently (Promise.all) crashed the compiled
  // Bun 1.4.5 binary at start (segfault) while client.ts still imported client-node's index.
  const { resolveNamespace } = await import("./kube/client.ts");
  const { deferredLogger } = await import("./log/deferred.ts");
  const command = name === "validate" ? await import("./commands/validate.ts") : await import("./commands/sidecar.ts");
  const logger = deferredLogger({ level: str(flags, "log-level"), command: name });
  const log = logger.log;
  const common = {
    tenant: str(flags, "tenant")!,
    namespace: resolveNamespace(str(flags, "namespace"), str(flags, "kubeconfig")),
    kubeconfig: str(flags, "kubeconfig"),
    configFile: str(flags, "config-file")!,
    clusterDomain: clusterDomain(),
  };
  let code: number;
  try {
    if ("validate" in command) {
      await command.validate({ ...common, retryForMs: parseDuration(str(flags, "retry-for")!)! }, log);
      code = 0;
    } else {
      code = await command.sidecar(
        {
          ...common,
          configName: str(flags, "config-name")!,
          probeAddress: str(flags, "probe-address")!,
          webhookAddress: str(flags, "webhook-address")!,
          sidecarAddress: str(flags, "sidecar-address")!,
          minioUrl: str(flags, "minio-url"),
          minioCaFile: str(flags, "minio-ca-file"),
          allowRemoteWebhook: flags["allow-remote-webhook"] === true,
          pruneBucketServices: flags["prune-bucket-services"] === true,
        },
        log,
      );
    }
  } catch (err) {
    log.error({ exitCode: exitCodeOf(err) }, describe(err));
    await stderr(`error: ${describe(err)}\n`);
    writeTerminationLog(str(flags, "termination-log")!, `error: ${describe(err)}\n`);
    code = exitCodeOf(err);
  }
  await logger.flush(); // every line is written before the process exits
  return code;
}

const DEFAULT_TERMINATION_LOG = "/dev/termination-log";

/** --termination-log from a command line the parser refused (its default when absent or unreadable). */
function terminationLogFromArgv(argv: string[]): string {
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w.startsWith("--termination-log=")) return w.slice("--termination-log=".length) || DEFAULT_TERMINATION_LOG;
    if (w === "--termination-log" && argv[i + 1]) return argv[i + 1]!;
  }
  return DEFAULT_TERMINATION_LOG;
}

/**
 * The kubelet shows this file's content as the container's termination
 * message. It creates the file for every container, so only an existing file
 * is written: run by hand as root, a failing command must not leave a
 * /dev/termination-log behind. Failing to write it changes nothing.
 */
function writeTerminationLog(path: string, line: string): void {
  // node:fs only here, on the way out of a failed command: loading it costs `render` ~1 ms at start.
  const { openSync, closeSync, constants, writeSync } = process.getBuiltinModule("node:fs");
  try {
    const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
    try {
      writeSync(fd, line);
    } finally {
      closeSync(fd);
    }
  } catch {
    // not in a container, or not writable: stderr has the line
  }
}

/**
 * stdout and stderr through the runtime adapter, not `process.stdout`: that
 * costs about 4 ms to set up under Bun, paid by every `render` and
 * `--version`. Each write is complete when it resolves, before the exit.
 */
const stdout = (text: string) => writeStd(1, text);
const stderr = (text: string) => (text ? writeStd(2, text) : Promise.resolve());

process.exit(await main(process.argv.slice(2)));
