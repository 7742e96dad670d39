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
}

export function runCli(args: string[], opts: RunOptions = {}): Promise<RunResult> {
  return runProcess(process.execPath, [MAIN, ...args], { ...opts, env: { KUBERNETES_SERVICE_HOST: undefined, ...opts.env } });
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
