// The proxy benchmark's product server: Node's http module, 100 bytes to every request.
const http = require("http");
const body = Buffer.from("upstream ".padEnd(99, ".") + "\n");
const server = http.createServer((request, response) => {
  response.writeHead(200, {"Content-Type": "text/plain", "Content-Length": body.length});
  response.end(body);
});
server.keepAliveTimeout = 65000;
server.listen(Number(process.argv[2]), "127.0.0.1", () => console.log("upstream ready"));
