// A product's own server for the proxy tests: Node's `http`, nothing else.
// Listens on 127.0.0.1:<argv[2] or a free port> (or a unix socket path) and prints its address.
"use strict";
const http = require("http");

const FILE = Buffer.alloc(1000, 0).map((_, i) => 65 + (i % 26)); // "ABC...Z" repeated
const waiting = { sse: [] }; // SSE responses waiting for the test to release the next event
const stats = { abandoned: 0 }; // downloads whose connection closed before they were sent whole

function json(res, status, value, headers = {}) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": body.length, ...headers });
  res.end(body);
}

const routes = {
  "/echo": (req, res) => {
    let bytes = 0;
    req.on("data", (chunk) => (bytes += chunk.length));
    req.on("end", () => json(res, 200, { method: req.method, url: req.url, headers: req.headers, bytes }));
  },
  "/upload": (req, res) => {
    let bytes = 0;
    let sum = 0;
    req.on("data", (chunk) => {
      bytes += chunk.length;
      for (let i = 0; i < chunk.length; i += 4096) sum = (sum + chunk[i]) % 1000000007;
    });
    req.on("end", () => json(res, 200, { bytes, sum, chunked: req.headers["transfer-encoding"] === "chunked" }));
  },
  "/download": (req, res) => {
    const total = Number(new URL(req.url, "http://x").searchParams.get("bytes"));
    const block = Buffer.alloc(64 * 1024, 120);
    res.writeHead(200, { "Content-Type": "application/octet-stream", "Content-Length": total });
    res.on("close", () => {
      if (!res.writableFinished) stats.abandoned += 1;
    });
    let sent = 0;
    const more = () => {
      while (sent < total) {
        const piece = block.subarray(0, Math.min(block.length, total - sent));
        sent += piece.length;
        if (!res.write(piece)) return res.once("drain", more);
      }
      res.end();
    };
    more();
  },
  "/sse": (req, res) => {
    res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
    res.write("data: first\n\n");
    waiting.sse.push(res);
  },
  "/sse/release": (req, res) => {
    for (const stream of waiting.sse.splice(0)) stream.end("data: second\n\n");
    json(res, 200, { released: true });
  },
  "/slow": () => {}, // never answers
  "/file": (req, res) => {
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range || "");
    const headers = { "Content-Type": "text/plain", "Accept-Ranges": "bytes", ETag: '"abc"' };
    if (range) {
      const [start, end] = [Number(range[1]), Number(range[2])];
      const part = FILE.subarray(start, end + 1);
      res.writeHead(206, { ...headers, "Content-Range": `bytes ${start}-${end}/${FILE.length}`, "Content-Length": part.length });
      return res.end(req.method === "HEAD" ? undefined : part);
    }
    res.writeHead(200, { ...headers, "Content-Length": FILE.length });
    res.end(req.method === "HEAD" ? undefined : FILE);
  },
  "/cookies": (req, res) => {
    res.writeHead(200, {
      "Set-Cookie": ["plain=1", "rooted=2; Path=/", "deep=3; Path=/reports; HttpOnly"],
      "Content-Length": 0,
    });
    res.end();
  },
  "/redirect": (req, res) => {
    res.writeHead(302, { Location: "/landing?from=redirect", "Content-Length": 0 });
    res.end();
  },
  "/hop": (req, res) => {
    res.writeHead(200, { Connection: "close, X-Secret-Hop", "X-Secret-Hop": "1", "Keep-Alive": "timeout=5", "Content-Length": 2 });
    res.end("ok");
  },
  "/health": (req, res) => json(res, 200, { ok: true }),
  "/stats": (req, res) => json(res, 200, stats),
};

const server = http.createServer((req, res) => {
  const path = new URL(req.url, "http://x").pathname;
  const route = routes[path] || (path.startsWith("/echo/") && routes["/echo"]);
  (route || ((_, r) => json(r, 404, { path })))(req, res);
});
server.keepAliveTimeout = 30000;
const where = process.argv[2] || "0";
const listening = /^\d+$/.test(where) ? [Number(where), "127.0.0.1"] : [where];
server.listen(...listening, () => {
  const address = server.address();
  console.log(typeof address === "string" ? `unix:${address}` : `http://127.0.0.1:${address.port}`);
});
process.on("SIGTERM", () => process.exit(0));
