/**
 * CLI entry: parse, dispatch, exit codes (SPEC 2). Commands, pino and the
 * Kubernetes client are imported lazily so that `render` and `--version`
 * start nearly as fast as an empty binary.
 */
import { stderr, stdout } from "./cli/output.ts";
import { parseArgs, helpText } from "./cli/parse.ts";
import { describe, exitCodeOf } from "./errors.ts";
import { versionLine } from "./version.ts";

type Flags = Record<string, string | true>;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    stderr(`error: ${describe(err, true)}\n`);
    return exitCodeOf(err);
  }
  if (parsed.kind === "help") {
    stdout(helpText(parsed.command));
    return 0;
  }
  if (parsed.kind === "version") {
    stdout(`${versionLine()}\n`);
    return 0;
  }
  const { command, flags } = parsed;
  return command.name === "render" ? runRender(flags) : runClusterCommand(command.name, flags);
}

const str = (flags: Flags, name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
const clusterDomain = () => process.env.CLUSTER_DOMAIN || "cluster.local";

/** render: stdout carries only the file; warnings and the one error line go to stderr. */
async function runRender(flags: Flags): Promise<number> {
  try {
    const { render } = await import("./commands/render.ts");
    const content = await render(
      { tenantFile: str(flags, "tenant-file")!, secretFile: str(flags, "secret-file")!, namespace: str(flags, "namespace"), clusterDomain: clusterDomain() },
      (warning) => stderr(`warning: ${warning}\n`),
    );
    stdout(content);
    return 0;
  } catch (err) {
    stderr(`error: ${describe(err)}\n`);
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
  // The binary starts with a reluctant JIT for one-shot start-up (scripts/build-flags.ts); the long-running sidecar gets the normal one.
  if (name === "sidecar") (globalThis as { Bun?: typeof Bun }).Bun?.unsafe.setJITPolicy(1);
  const logger = deferredLogger({ level: str(flags, "log-level"), command: name });
  const log = logger.log;
  const common = {
    tenant: str(flags, "tenant")!,
    namespace: resolveNamespace(str(flags, "namespace")),
    kubeconfig: str(flags, "kubeconfig"),
    configFile: str(flags, "config-file")!,
    clusterDomain: clusterDomain(),
  };
  let code: number;
  try {
    if ("validate" in command) {
      await command.validate(common, log);
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
          pruneBucketServices: flags["prune-bucket-services"] === true,
        },
        log,
      );
    }
  } catch (err) {
    log.error({ exitCode: exitCodeOf(err) }, describe(err));
    stderr(`error: ${describe(err)}\n`);
    code = exitCodeOf(err);
  }
  await logger.flush(); // every line is written before the process exits
  return code;
}

process.exit(await main(process.argv.slice(2)));
