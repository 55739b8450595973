// Live's page: one websocket, relative to the mount path, so it works wherever the portal mounts it.
document.addEventListener("DOMContentLoaded", () => {
  const section = document.querySelector(".live");
  const status = document.getElementById("live-status");
  const form = document.getElementById("live-form");
  const input = document.getElementById("live-text");
  const send = document.getElementById("live-send");
  const feed = document.getElementById("live-feed");
  if (!section) return;

  const url = new URL(section.dataset.socketPath, window.location.href);
  url.protocol = window.location.protocol === "https:" ? "wss:" : "ws:";
  const socket = new WebSocket(url);
  let me = null;

  function add(who, text, kind) {
    const item = document.createElement("li");
    item.className = kind;
    const name = document.createElement("span");
    name.className = "live__who";
    name.textContent = who;
    item.append(name, document.createTextNode(text));
    feed.prepend(item);
  }

  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "hello") {
      me = message.id;
      status.textContent = `Connected as ${message.name}.`;
      input.disabled = send.disabled = false;
      input.focus();
    } else if (message.type === "echo") {
      add("Echo", message.text, "live__echo");
    } else if (message.type === "message" && message.from.id !== me) {
      add(message.from.name, message.text, "live__message");
    } else if (message.type === "notice") {
      add("Notice", message.text, "live__notice");
    }
  });

  // 4001: the session ended; 4003: access withdrawn; 1001: server restart (see auth/sockets.py).
  socket.addEventListener("close", (event) => {
    input.disabled = send.disabled = true;
    status.classList.add("live__status--closed");
    const hint = event.code === 1001 ? " Reload the page to reconnect." : "";
    status.textContent = `Disconnected (${event.code}): ${event.reason || "the connection was lost."}${hint}`;
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || socket.readyState !== WebSocket.OPEN) return;
    socket.send(text);
    input.value = "";
  });
});
