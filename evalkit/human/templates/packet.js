// Blind packet: one item at a time, keyboard verdicts, progress kept in localStorage, verdicts downloaded as
// JSON or CSV. Reads only the page itself: no network, no data outside the data-* attributes and the items.
(function () {
  "use strict";
  var root = document.getElementById("packet");
  var meta = {
    packet_id: root.getAttribute("data-packet-id"),
    run: root.getAttribute("data-run"),
    packet_sha256: root.getAttribute("data-packet-sha256"),
    rater: root.getAttribute("data-rater"),
    task: root.getAttribute("data-task")
  };
  var items = Array.prototype.slice.call(document.querySelectorAll("article.item"));
  var ids = items.map(function (el) { return el.getAttribute("data-item"); });
  var storeKey = "evalkit-human:" + meta.packet_id + ":" + meta.rater;
  var state = { verdicts: {}, current: 0 };
  var storageOk = true;

  function load() {
    try {
      var raw = window.localStorage.getItem(storeKey);
      if (raw) {
        var saved = JSON.parse(raw);
        if (saved && typeof saved === "object" && saved.verdicts && typeof saved.verdicts === "object") {
          state.verdicts = saved.verdicts;
          state.current = Math.min(Math.max(0, saved.current | 0), items.length - 1);
        }
      }
    } catch (e) {
      storageOk = false;
    }
  }

  function save() {
    try {
      window.localStorage.setItem(storeKey, JSON.stringify(state));
    } catch (e) {
      storageOk = false;
    }
    document.getElementById("storage-warning").hidden = storageOk;
  }

  function answered() {
    return ids.filter(function (id) { return state.verdicts[id] && state.verdicts[id].choice; }).length;
  }

  function render() {
    items.forEach(function (el, i) { el.hidden = i !== state.current; });
    var id = ids[state.current];
    var v = state.verdicts[id] || {};
    var item = items[state.current];
    item.querySelectorAll("button.choice").forEach(function (b) {
      b.setAttribute("aria-pressed", b.getAttribute("data-choice") === v.choice ? "true" : "false");
    });
    var box = item.querySelector("textarea.comment");
    if (box.value !== (v.comment || "")) { box.value = v.comment || ""; }
    var done = answered();
    document.getElementById("progress-text").textContent =
      done + " of " + items.length + " answered \u00b7 item " + (state.current + 1) + " of " + items.length;
    document.getElementById("progress-bar").value = done;
    document.getElementById("done").hidden = done !== items.length;
  }

  function go(i) {
    state.current = Math.min(Math.max(0, i), items.length - 1);
    save();
    render();
  }

  function nextOpen() {
    for (var k = 1; k <= items.length; k++) {
      var i = (state.current + k) % items.length;
      if (!(state.verdicts[ids[i]] && state.verdicts[ids[i]].choice)) { return i; }
    }
    return Math.min(state.current + 1, items.length - 1);
  }

  function choose(choice) {
    var id = ids[state.current];
    var v = state.verdicts[id] || {};
    v.choice = choice;
    v.answered_at = new Date().toISOString();
    state.verdicts[id] = v;
    save();
    go(nextOpen());
  }

  function setComment(text) {
    var id = ids[state.current];
    var v = state.verdicts[id] || {};
    v.comment = text;
    state.verdicts[id] = v;
    save();
  }

  function verdictList() {
    return ids.filter(function (id) { return state.verdicts[id] && state.verdicts[id].choice; })
      .map(function (id) {
        var v = state.verdicts[id];
        return { item: id, choice: v.choice, comment: v.comment || "", answered_at: v.answered_at || null };
      });
  }

  function download(name, type, text) {
    var blob = new Blob([text], { type: type });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function fileName(ext) {
    return "verdicts-" + meta.packet_id + "-" + meta.rater + "." + ext;
  }

  function downloadJson() {
    var doc = {
      format: "evalkit-human-verdicts", version: 1, packet_id: meta.packet_id, run: meta.run,
      packet_sha256: meta.packet_sha256, rater: meta.rater, task: meta.task,
      exported_at: new Date().toISOString(), verdicts: verdictList()
    };
    download(fileName("json"), "application/json", JSON.stringify(doc, null, 2) + "\n");
  }

  function cell(text) {
    var s = String(text == null ? "" : text);
    // A spreadsheet would run a cell starting with = + - @ as a formula: keep it text.
    if (/^[=+\-@\t\r]/.test(s)) { s = "'" + s; }
    return /[",\r\n]/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s;
  }

  function downloadCsv() {
    var rows = [["packet_id", "run", "packet_sha256", "rater", "item", "verdict", "comment"]];
    verdictList().forEach(function (v) {
      rows.push([meta.packet_id, meta.run, meta.packet_sha256, meta.rater, v.item, v.choice, v.comment]);
    });
    download(fileName("csv"), "text/csv", rows.map(function (r) { return r.map(cell).join(","); }).join("\r\n") + "\r\n");
  }

  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) { return; }
    var inText = ev.target && ev.target.tagName === "TEXTAREA";
    if (inText) {
      if (ev.key === "Escape") { ev.target.blur(); }
      return;
    }
    var k = ev.key;
    if (k === "1" || k === "ArrowLeft") { choose("1"); }
    else if (k === "2" || k === "ArrowRight") { choose("2"); }
    else if (k === "0" || k === "ArrowDown" || k === "t") { choose("tie"); }
    else if (k === "n" || k === "PageDown") { go(state.current + 1); }
    else if (k === "p" || k === "ArrowUp" || k === "PageUp") { go(state.current - 1); }
    else if (k === "c") { items[state.current].querySelector("textarea.comment").focus(); }
    else { return; }
    ev.preventDefault();
  });

  items.forEach(function (el) {
    el.querySelectorAll("button.choice").forEach(function (b) {
      b.addEventListener("click", function () { choose(b.getAttribute("data-choice")); });
    });
    el.querySelector("textarea.comment").addEventListener("input", function (ev) { setComment(ev.target.value); });
  });
  document.getElementById("prev").addEventListener("click", function () { go(state.current - 1); });
  document.getElementById("next").addEventListener("click", function () { go(state.current + 1); });
  document.getElementById("next-open").addEventListener("click", function () { go(nextOpen()); });
  document.getElementById("download-json").addEventListener("click", downloadJson);
  document.getElementById("download-csv").addEventListener("click", downloadCsv);

  load();
  save();
  render();
  document.getElementById("noscript-note").hidden = true;
  root.setAttribute("data-ready", "1");
})();
