// Live progress of a registry sync run: polls the run's small JSON endpoint every second until it ends.
"use strict";
(function () {
  var box = document.getElementById("progress");
  if (!box || box.dataset.done === "1") { return; }
  var STATUS = {running: "идёт", completed: "завершена", failed: "ошибка", interrupted: "прервана"};
  function set(id, value) { var el = document.getElementById(id); if (el) { el.textContent = value; } }
  function tick() {
    fetch(box.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (p) {
        set("status", STATUS[p.status] || p.status);
        set("phase", p.phase || "—");
        set("processed", p.processed);
        set("total", p.total === null ? "?" : p.total);
        set("percent", p.percent === null ? 0 : p.percent);
        set("rate", p.rate === null ? "—" : p.rate);
        set("eta", p.eta);
        document.getElementById("bar").value = p.percent || 0;
        if (p.done) { box.dataset.done = "1"; window.location.reload(); } else { setTimeout(tick, 1000); }
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  setTimeout(tick, 500);
})();
