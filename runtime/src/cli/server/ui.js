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
  // The jobs and stages the page was rendered with are not made again: their
  // events (replayed first) only update them. Those after are made live.
  var seen = Number(box.getAttribute("data-lines")) || 0;

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

  // The jobs section, kept live: a job's article and its stages' rows are
  // made as their events come (the page holds those that had started).
  var jobs = document.getElementById("jobs");

  function badge(status) {
    var b = document.createElement("span");
    b.className = "status";
    b.setAttribute("data-status", status);
    b.textContent = status;
    return b;
  }

  function jobArticle(job) {
    if (!jobs) return null;
    var found = null;
    jobs.querySelectorAll("article.job").forEach(function (a) {
      if (a.getAttribute("data-job") === job) found = a;
    });
    if (found) return found;
    var none = document.getElementById("no-jobs");
    if (none) none.remove();
    var a = document.createElement("article");
    a.className = "job";
    a.setAttribute("data-job", job);
    var h = document.createElement("h3");
    h.appendChild(document.createTextNode(job + " "));
    var state = document.createElement("span");
    state.className = "job-state";
    state.setAttribute("data-job", job);
    state.appendChild(badge("RUNNING"));
    h.appendChild(state);
    a.appendChild(h);
    var table = document.createElement("table");
    table.className = "stages";
    table.innerHTML = "<thead><tr><th scope=\"col\">Stage</th><th scope=\"col\">At</th>" +
      "<th scope=\"col\">Status</th><th scope=\"col\">Took</th></tr></thead><tbody></tbody>";
    a.appendChild(table);
    jobs.appendChild(a);
    return a;
  }

  function jobOf(at) {
    var cut = at.search(/[\/\[]/);
    return cut < 0 ? at : at.slice(0, cut);
  }

  function took(seconds) {
    if (typeof seconds !== "number") return "";
    if (seconds < 0.001) return Math.round(seconds * 1e6) + "µs";
    if (seconds < 1) return (seconds * 1e3).toFixed(1) + "ms";
    return seconds.toFixed(2) + "s";
  }

  function stageRow(d, started) {
    var article = jobArticle(jobOf(d.at || ""));
    if (!article) return;
    var body = article.querySelector("tbody");
    var row = null;
    body.querySelectorAll("tr").forEach(function (r) {
      if (r.getAttribute("data-at") === d.at && r.getAttribute("data-stage") === d.stage &&
          r.getAttribute("data-open") === "true") row = r;
    });
    if (started || !row) {
      if (started && row) return; // seen already (the page had it)
      row = document.createElement("tr");
      row.setAttribute("data-at", d.at);
      row.setAttribute("data-stage", d.stage);
      row.setAttribute("data-open", "true");
      var name = document.createElement("td");
      name.textContent = d.stage;
      var at = document.createElement("td");
      var code = document.createElement("code");
      code.textContent = d.at;
      at.appendChild(code);
      var st = document.createElement("td");
      st.appendChild(badge("RUNNING"));
      row.appendChild(name); row.appendChild(at); row.appendChild(st);
      row.appendChild(document.createElement("td"));
      body.appendChild(row);
    }
    if (!started) {
      var cells = row.querySelectorAll("td");
      cells[2].replaceChildren(badge(d.status || "-"));
      cells[3].textContent = took(d.seconds);
      row.setAttribute("data-open", "false");
    }
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
    var rendered = Number(e.lastEventId) <= seen;
    switch (e.type) {
      case "job_started": if (!rendered) jobArticle(d.job); setJob(d.job, "RUNNING"); break;
      case "stage_started": if (!rendered) stageRow(d, true); break;
      case "stage_ended": if (!rendered) stageRow(d, false); break;
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
