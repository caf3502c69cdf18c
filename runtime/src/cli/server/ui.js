// wfr server's UI script: makes a run's page live from the run's events
// (Server-Sent Events): the graph's jobs and their status words, the jobs'
// states, the log. When a run that was running ends, the page is loaded again
// to show its stages, outputs and errors as recorded. Every action on the
// pages is a plain form; nothing else needs this script.
(function () {
  "use strict";
  var box = document.getElementById("run");
  if (!box || !window.EventSource) return;
  var id = box.getAttribute("data-run");
  var wasRunning = box.getAttribute("data-running") === "true";
  var log = document.getElementById("log");
  var top = null; // the run's own id (runs it triggered log here too)

  function setJob(job, status) {
    if (!status) return;
    document.querySelectorAll("svg.graph g.job").forEach(function (g) {
      if (g.getAttribute("data-job") !== job) return;
      g.setAttribute("data-status", status);
      var text = g.querySelector(".job-status");
      if (text) text.textContent = status;
    });
    document.querySelectorAll(".job-state").forEach(function (s) {
      if (s.getAttribute("data-job") !== job) return;
      var badge = s.querySelector(".status");
      if (badge) { badge.setAttribute("data-status", status); badge.textContent = status; }
    });
  }

  function setRun(status) {
    var badge = document.querySelector("#run-status .status");
    if (badge) { badge.setAttribute("data-status", status); badge.textContent = status; }
  }

  function logLine(d) {
    if (!log) return;
    var time = (d.timestamp || "").slice(11, 23);
    var where = d.at || d.job || "";
    var rest = [];
    ["stage", "status", "error", "why"].forEach(function (k) {
      if (d[k] !== undefined && d[k] !== null) rest.push(k + "=" + d[k]);
    });
    var text = time + " " + (d.level || "") + " " + (where ? "[" + where + "] " : "") +
      (d.message || "") + (rest.length ? " " + rest.join(" ") : "");
    var stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.appendChild(document.createTextNode(text + "\n"));
    if (stick) log.scrollTop = log.scrollHeight;
  }

  function onEvent(e) {
    var d;
    try { d = JSON.parse(e.data); } catch (_) { return; }
    logLine(d);
    if (e.type === "run_started" && top === null) top = d.run;
    if (top !== null && d.run && d.run !== top) return;
    switch (e.type) {
      case "job_started": setJob(d.job, "RUNNING"); break;
      case "job_ended": setJob(d.job, d.status); break;
      case "job_not_run": setJob(d.job, d.status || "SKIP"); break;
      case "job_reused": setJob(d.job, d.status || "SUCCESS"); break;
      case "run_ended": setRun(d.status); break;
    }
  }

  var source = new EventSource("/api/v1/runs/" + encodeURIComponent(id) + "/events");
  ["run_started", "run_ended", "job_started", "job_ended", "job_not_run", "job_reused",
   "strategy_started", "strategy_ended", "strategy_reused", "strategy_taken",
   "stage_started", "stage_ended", "stage_retry", "stage_dry_run", "line", "log"
  ].forEach(function (kind) { source.addEventListener(kind, onEvent); });
  source.addEventListener("end", function (e) {
    source.close();
    var d;
    try { d = JSON.parse(e.data); } catch (_) { return; }
    setRun(d.status);
    (d.jobs || []).forEach(function (j) { setJob(j.id, j.status); });
    box.setAttribute("data-ended", d.status);
    if (wasRunning) window.setTimeout(function () { window.location.reload(); }, 300);
  });
  source.addEventListener("error", function (e) {
    if (e.data) { try { logLine({ message: JSON.parse(e.data).error, level: "ERROR" }); } catch (_) {} }
  });
})();
