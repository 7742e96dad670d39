/** Running the CLI from source as a child process, the way a user or the kubelet does. */
import { spawn } from "node:child_process";

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

export interface RunOptions {
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
  /** Written to standard input, which is then closed (default: no standard input). */
  input?: string;
  /** A command to run the CLI under (e.g. a private mount namespace). */
  wrap?: string[];
}

/** The CLI command line: the compiled binary when SIDECAR_BIN is set (npm run test:kube), else the source under Bun. */
export const cliCommand = (args: string[]) => (process.env.SIDECAR_BIN ? [process.env.SIDECAR_BIN, ...args] : [process.execPath, MAIN, ...args]);

export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const cmd = [...(opts.wrap ?? []), ...cliCommand(args)];
  return runProcess(cmd[0]!, cmd.slice(1), { ...opts, env: { KUBERNETES_SERVICE_HOST: undefined, ...opts.env } });
}

export function runProcess(cmd: string, args: string[], opts: RunOptions & { cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 20_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
