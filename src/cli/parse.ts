/**
 * Command-line parsing against the table in commands.ts. Unknown commands
 * and flags are usage errors (exit 2) with a "did you mean" for near misses.
 */
import { UsageError } from "../errors.ts";
import { BINARY, COMMANDS, type CommandSpec } from "./commands.ts";

export type Parsed =
  | { kind: "help"; command?: CommandSpec }
  | { kind: "version" }
  | { kind: "run"; command: CommandSpec; flags: Record<string, string | true> };

const usageLine = (cmd?: CommandSpec) =>
  cmd
    ? `usage: ${BINARY} ${cmd.name} ${cmd.flags
        .filter((f) => f.required)
        .map((f) => `--${f.name} ${f.arg}`)
        .join(" ")} [flags]`
    : `usage: ${BINARY} <validate|sidecar|render> [flags]   (${BINARY} --help)`;

const usage = (message: string, cmd?: CommandSpec) => new UsageError(`${message}\n${usageLine(cmd)}`);

export function findCommand(word: string): CommandSpec | undefined {
  return COMMANDS.find((c) => c.name === word || c.alias === word);
}

export function parseArgs(argv: readonly string[]): Parsed {
  const [first, ...rest] = argv;
  if (first === undefined) throw usage("missing command");
  if (first === "--help" || first === "-h" || first === "help") {
    return { kind: "help", command: rest[0] ? findCommand(rest[0]) : undefined };
  }
  if (first === "--version" || first === "version") return { kind: "version" };

  const command = findCommand(first);
  if (!command) {
    const guess = closest(first, COMMANDS.map((c) => c.name));
    throw usage(`unknown command "${first}"${guess ? `; did you mean "${guess}"?` : ""}`);
  }

  const flags: Record<string, string | true> = {};
  for (let i = 0; i < rest.length; i++) {
    const word = rest[i]!;
    if (word === "--help" || word === "-h") return { kind: "help", command };
    if (!word.startsWith("--")) throw usage(`unexpected argument "${word}"`, command);
    const eq = word.indexOf("=");
    const name = word.slice(2, eq < 0 ? undefined : eq);
    const spec = command.flags.find((f) => f.name === name);
    if (!spec) {
      const guess = closest(name, command.flags.map((f) => f.name));
      throw usage(`unknown flag "--${name}" for ${command.name}${guess ? `; did you mean "--${guess}"?` : ""}`, command);
    }
    if (!spec.arg) {
      if (eq >= 0) throw usage(`flag --${name} takes no value`, command);
      flags[name] = true;
      continue;
    }
    const value = eq >= 0 ? word.slice(eq + 1) : rest[++i];
    if (value === undefined || value === "") throw usage(`flag --${name} needs a value (${spec.arg})`, command);
    if (spec.choices && !spec.choices.includes(value)) {
      const guess = closest(value, spec.choices);
      throw usage(`invalid --${name} "${value}": one of ${spec.choices.join(", ")}${guess ? `; did you mean "${guess}"?` : ""}`, command);
    }
    const refused = spec.check?.(value);
    if (refused) throw usage(`invalid --${name}${spec.hideValue ? "" : ` "${value}"`}: ${refused}`, command);
    flags[name] = value;
  }
  for (const f of command.flags) {
    if (f.required && flags[f.name] === undefined) throw usage(`missing required flag --${f.name}`, command);
    if (f.default !== undefined) flags[f.name] ??= f.default;
  }
  const refused = command.checkFlags?.(flags);
  if (refused) throw usage(refused, command);
  return { kind: "run", command, flags };
}

export function helpText(command?: CommandSpec): string {
  const flagLines = (cmd: CommandSpec) =>
    cmd.flags.map((f) => {
      const left = `  --${f.name}${f.arg ? ` ${f.arg}` : ""}`;
      const right = `${f.help}${f.required ? " (required)" : ""}${f.default ?? f.defaultHelp ? ` [default: ${f.default ?? f.defaultHelp}]` : ""}`;
      return `${left.padEnd(32)}${right}`;
    });
  if (command) {
    return [
      `${command.summary}`,
      "",
      usageLine(command),
      ...(command.alias ? [`alias: ${command.alias}`] : []),
      "",
      "flags:",
      ...flagLines(command),
      "",
    ].join("\n");
  }
  return [
    `${BINARY}: the MinIO Operator's per-pod init container and sidecar`,
    "",
    usageLine(),
    "",
    "commands:",
    ...COMMANDS.map((c) => `  ${(c.name + (c.alias ? ` (${c.alias})` : "")).padEnd(14)}${c.summary}`),
    "",
    `  --version     version, commit and build time`,
    `  --help        this help; ${BINARY} <command> --help for a command's flags`,
    "",
    "environment: CLUSTER_DOMAIN (default cluster.local)",
    "exit codes: 0 ok, 1 invalid input, 2 usage error, 3 cluster unreachable (validate)",
    "",
  ].join("\n");
}

/** "did you mean": the closest candidate within a small edit distance. */
export function closest(input: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Math.max(2, Math.floor(input.length / 3)) + 1;
  for (const c of candidates) {
    const d = distance(input, c);
    if (d < bestDist) [best, bestDist] = [c, d];
  }
  return best;
}

/** Levenshtein distance with adjacent transpositions counted as one edit. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i]!;
      const prev = d[i - 1]!;
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j]!, d[i - 2]![j - 2]! + 1);
      }
    }
  }
  return d[a.length]![b.length]!;
}
