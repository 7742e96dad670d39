/**
 * LocalHttp over node:http(s), for Deno (./deno.ts): one keep-alive agent
 * per scheme (and one for verified https), certificate not verified unless
 * asked, SNI set, a hard total timeout.
 */
import http from "node:http";
import https from "node:https";
import { BodyTooLargeError, noAnswerWithin, type LocalHttp, type LocalRequest, type LocalResponse } from "./index.ts";

export function nodeLocalHttp(serverName: string): LocalHttp {
  const agents = new Map<string, http.Agent>();
  const agent = (secure: boolean, verify: LocalRequest["verify"]): http.Agent => {
    const key = !secure ? "http" : verify ? `verified:${verify.ca ?? ""}` : "https";
    let a = agents.get(key);
    if (!a) {
      a = !secure
        ? new http.Agent({ keepAlive: true, maxSockets: 4 })
        : verify
          ? new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: true, ...(verify.ca ? { ca: verify.ca } : {}) })
          : new https.Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false, servername: serverName });
      agents.set(key, a);
    }
    return a;
  };
  return {
    request(target: URL, r: LocalRequest): Promise<LocalResponse> {
      const secure = target.protocol === "https:";
      return new Promise((resolve, reject) => {
        const req = (secure ? https : http).request(
          target,
          {
            method: r.method ?? "GET",
            headers: r.headers,
            agent: agent(secure, r.verify),
            ...(secure && !r.verify ? { servername: serverName, rejectUnauthorized: false } : {}),
          },
          (res) => {
            const chunks: Buffer[] = [];
            let size = 0;
            res.on("data", (c: Buffer) => {
              size += c.length;
              if (size <= r.maxBody) chunks.push(c);
              else req.destroy(new BodyTooLargeError(r.maxBody));
            });
            res.on("end", () => {
              clearTimeout(timer);
              if (size > r.maxBody) return reject(new BodyTooLargeError(r.maxBody));
              resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
            });
            res.on("error", fail);
          },
        );
        const timer = setTimeout(() => req.destroy(noAnswerWithin(r.timeoutMs)), r.timeoutMs);
        function fail(err: Error) {
          clearTimeout(timer);
          reject(err);
        }
        req.on("error", fail);
        req.end();
      });
    },
    close() {
      for (const a of agents.values()) a.destroy();
    },
  };
}
