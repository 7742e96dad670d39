/**
 * CLI entry: parse, dispatch, exit codes (SPEC 2). Commands are imported
 * lazily so that `render` and `--version` never load the Kubernetes client
 * or the HTTP stack.
 */
import { parseArgs, helpText } from "./cli/parse.ts";
import { describe, exitCodeOf, UsageError } from "./errors.ts";
import { createLogger, type Logger } from "./log/logger.ts";
import { versionLine } from "./version.ts";

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs(argv);
  } catch (err) {
    process.stderr.write(`${describeUsage(err)}\n`);
    return exitCodeOf(err);
  }
  if (parsed.kind === "help") {
    process.stdout.write(helpText(parsed.command));
    return 0;
  }
  if (parsed.kind === "version") {
    process.stdout.write(`${versionLine()}\n`);
    return 0;
  }

  const { command, flags } = parsed;
  const str = (name: string) => (typeof flags[name] === "string" ? (flags[name] as string) : undefined);
  const clusterDomain = process.env.CLUSTER_DOMAIN || undefined;
  // render keeps stdout for the file itself; the others log to stdout (the container log).
  const log = createLogger({ level: str("log-level"), stream: command.name === "render" ? "stderr" : "stdout", command: command.name });
  try {
    switch (command.name) {
      case "render": {
        const { render } = await import("./commands/render.ts");
        const content = await render(
          { tenantFile: str("tenant-file")!, secretFile: str("secret-file")!, namespace: str("namespace"), clusterDomain },
          log,
        );
        process.stdout.write(content);
        return 0;
      }
      case "validate":
      case "sidecar":
        throw new UsageError(`${command.name} is not implemented yet`);
    }
  } catch (err) {
    return fail(err, log, command.name === "render");
  }
}

/** One clear line on stderr; for the cluster commands also a pino error line in the container log. */
function fail(err: unknown, log: Logger, quiet: boolean): number {
  const message = describe(err);
  if (!quiet) log.error({ exitCode: exitCodeOf(err) }, message);
  process.stderr.write(`error: ${message}\n`);
  return exitCodeOf(err);
}

const describeUsage = (err: unknown) => (err instanceof Error ? `error: ${err.message}` : String(err));

const code = await main(process.argv.slice(2));
process.exit(code);
