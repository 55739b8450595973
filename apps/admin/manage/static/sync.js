// The sync page asks how the running sync is doing once a second, and stops when none runs.
(function () {
  "use strict";
  var box = document.getElementById("sync-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var patience = 5;  // a sync just started may take a moment to record its run

  function show(answer) {
    var run = answer.runs.find(function (r) { return r.live; });
    box.textContent = "";
    var line = document.createElement("p");
    if (!run) {
      var last = answer.runs[0];
      line.textContent = last ? "No sync is running. The last run (" + last.id + ", " + last.mode +
        ") " + last.status + (last.error ? ": " + last.error : ".") : "No sync is running.";
      box.appendChild(line);
      return false;
    }
    line.textContent = "Run " + run.id + " (" + run.mode + ") is running" +
      (run.total ? ": " + (run.done || 0) + " of " + run.total + " users." : ", reading roles…");
    box.appendChild(line);
    if (run.percent !== null) {
      var bar = document.createElement("progress");
      bar.max = 100;
      bar.value = run.percent;
      bar.textContent = run.percent + "%";
      box.appendChild(bar);
    }
    return true;
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (answer) {
        if (show(answer) || patience-- > 0) { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 5000); });
  }
  poll();
})();
