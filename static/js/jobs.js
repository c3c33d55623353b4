// Polls each running job's JSON and updates its progress; reloads the page when a job ends.
// Loaded as a file: the Content-Security-Policy forbids inline script.
(function () {
  "use strict";
  function watch(box) {
    var url = box.getAttribute("data-job-url");
    var bar = box.querySelector("progress");
    var count = box.querySelector(".job-count");
    var state = box.querySelector(".job-state");
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (st) {
          if (!st) { return; }
          if (st.finished || st.state === "interrupted") { window.location.reload(); return; }
          if (bar) { bar.max = st.total || 1; bar.value = st.done; bar.textContent = st.percent + "%"; }
          if (count && st.total) { count.textContent = st.done + " / " + st.total; }
          if (state) { state.textContent = st.state_label; }
          window.setTimeout(tick, 1500);
        })
        .catch(function () { window.setTimeout(tick, 5000); });
    }
    window.setTimeout(tick, 1000);
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-job-active]").forEach(watch);
  });
})();
