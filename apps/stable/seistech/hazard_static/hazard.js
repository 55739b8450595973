// Asks the hazard service's websocket for the exceedance rate at the intensity typed in.
const form = document.querySelector("#rate-form");
if (form) {
  const output = document.querySelector("#rate-output");
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}${form.dataset.socket}`);
  socket.addEventListener("message", (event) => {
    const message = JSON.parse(event.data);
    if (message.type === "rate") output.textContent = `${message.intensity} g: ${message.rate} per year`;
    if (message.type === "error") output.textContent = message.message;
  });
  const opened = new Promise((resolve) => socket.addEventListener("open", resolve, { once: true }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await opened;
    socket.send(form.elements.intensity.value);
  });
}
