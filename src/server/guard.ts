/**
 * Limits shared by all three servers: none of our endpoints takes a body and
 * none needs a long URL, so both are refused before any routing or parsing
 * (a 100 KiB query string or a 1 MiB body costs us nothing).
 */
import { Elysia } from "elysia";

export const MAX_URL_LENGTH = 4096;

export const guard = new Elysia({ name: "guard" }).onRequest(({ request, set }) => {
  if (request.url.length > MAX_URL_LENGTH) {
    set.status = 414;
    return "URI too long\n";
  }
  const length = request.headers.get("content-length");
  if ((length !== null && length !== "0") || request.headers.has("transfer-encoding")) {
    set.status = 413;
    return "request bodies are not accepted\n";
  }
});
