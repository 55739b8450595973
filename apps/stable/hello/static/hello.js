// Calls Hello's JSON API; relative to the mount path, so it works wherever the portal mounts it.
document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("hello-fetch");
  const answer = document.getElementById("hello-answer");
  if (!button || !answer) return;
  button.addEventListener("click", async () => {
    answer.textContent = "Asking…";
    try {
      const response = await fetch(button.dataset.apiUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = await response.json();
      answer.textContent = `${body.message} (tier ${body.tier}, product ${body.product})`;
    } catch (error) {
      answer.textContent = `The API did not answer: ${error.message}`;
    }
  });
});
