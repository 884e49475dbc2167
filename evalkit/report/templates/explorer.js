(function () {
  "use strict";
  // The explorer never writes data into the page as markup: filters toggle a class on rows, and rows loaded
  // from the items files are built with createElement and textContent only.
  var section = document.getElementById("samples");
  var box = document.getElementById("explorer-items");
  var search = document.getElementById("explorer-search");
  var onlyDisagree = document.getElementById("explorer-disagree");
  var onlyFailed = document.getElementById("explorer-failed");
  var shown = document.getElementById("explorer-shown");
  var of = document.getElementById("explorer-of");
  var controls = document.getElementById("explorer-controls");
  if (!section || !box || !search || !onlyDisagree || !onlyFailed || !shown || !controls) { return; }
  var models = decodeModels(section.getAttribute("data-models"));
  var files = parseInt(section.getAttribute("data-items-files") || "0", 10);
  var dir = section.getAttribute("data-items-dir") || "report-items";
  var embedded = Array.prototype.slice.call(box.children);
  var rows = embedded;
  var haystack = null;  // lower-cased text of each shown row, built on the first search only
  var timer = null;

  function decodeModels(b64) {
    // The model names, as base64 of UTF-8 JSON (untrusted text stays opaque in the markup).
    if (!b64) { return []; }
    var bin = atob(b64);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return JSON.parse(new TextDecoder("utf-8").decode(bytes));
  }

  function apply() {
    var term = search.value.trim().toLowerCase();
    if (term && haystack === null) {
      haystack = rows.map(function (r) { return r.textContent.toLowerCase(); });
    }
    var count = 0;
    for (var i = 0; i < rows.length; i++) {
      var r = rows[i];
      var show = (!onlyDisagree.checked || r.getAttribute("data-disagree") === "1") &&
                 (!onlyFailed.checked || r.getAttribute("data-failed") === "1") &&
                 (!term || haystack[i].indexOf(term) !== -1);
      r.classList.toggle("hidden", !show);
      if (show) { count++; }
    }
    shown.textContent = String(count);
    if (of) { of.textContent = String(rows.length); }
  }

  function showRows(list) {
    while (box.firstChild) { box.removeChild(box.firstChild); }
    for (var i = 0; i < list.length; i++) { box.appendChild(list[i]); }
    rows = list;
    haystack = null;
    apply();
  }

  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 150);
  });
  onlyDisagree.addEventListener("change", apply);
  onlyFailed.addEventListener("change", apply);
  controls.classList.remove("hidden");

  // --- items files beside the report -------------------------------------------------------------------
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }

  function block(title, text) {
    var d = el("div");
    d.appendChild(el("h4", null, title));
    d.appendChild(el("pre", null, text));
    return d;
  }

  function answerBox(a, many) {
    var kind = a.error !== null ? "error" : (a.correct === true ? "correct" : (a.correct === false ? "incorrect" : ""));
    var d = el("div", "answer" + (kind ? " " + kind : ""));
    var who = el("div", "who", a.model);
    if (many) { who.appendChild(document.createTextNode(" ")); who.appendChild(el("span", "small", "attempt " + a.attempt)); }
    d.appendChild(who);
    if (a.error !== null) {
      var err = el("div", "err");
      err.appendChild(el("b", null, "Failed:"));
      d.appendChild(err);
      d.appendChild(el("pre", null, a.error));
    } else {
      d.appendChild(el("pre", null, a.output === null ? "" : a.output));
    }
    var facts = el("div", "facts-line");
    if (a.label !== null) {
      var lab = el("span", null, "label ");
      lab.appendChild(el("code", null, a.label));
      facts.appendChild(lab);
    }
    if (a.correct !== null) {
      facts.appendChild(el("span", a.correct ? "ok-mark" : "no-mark", a.correct ? "✓ correct" : "✗ incorrect"));
    }
    if (a.score) { facts.appendChild(el("span", null, "score " + a.score)); }
    facts.appendChild(el("span", null, a.latency));
    var tok = el("span", null, a.tokens + " tok");
    tok.title = "prompt/completion tokens";
    facts.appendChild(tok);
    if (a.cached) { facts.appendChild(el("span", null, "cached")); }
    d.appendChild(facts);
    return d;
  }

  function article(item) {
    var art = el("article", "sample");
    art.setAttribute("data-disagree", item.disagree ? "1" : "0");
    art.setAttribute("data-failed", item.failed ? "1" : "0");
    var head = el("header");
    head.appendChild(el("code", null, item.id));
    head.appendChild(el("span", "small", "#" + (item.i + 1)));
    if (item.disagree) { head.appendChild(el("span", "badge dis", "disagreement")); }
    if (item.failed) { head.appendChild(el("span", "badge fail", "failed call")); }
    art.appendChild(head);
    var io = el("div", "io" + (item.target === null ? " notarget" : ""));
    io.appendChild(block("Input", item.input));
    if (item.target !== null) { io.appendChild(block("Target", item.target)); }
    art.appendChild(io);
    if (item.fields) {
      var det = el("details");
      det.appendChild(el("summary", null, "Fields"));
      det.appendChild(el("pre", null, item.fields));
      art.appendChild(det);
    }
    var answers = el("div", "answers");
    for (var m = 0; m < item.answers.length; m++) {
      var attempts = item.answers[m];
      if (!attempts.length) {
        var none = el("div", "answer");
        none.appendChild(el("div", "who", models[m]));
        none.appendChild(el("span", "small", "no generation"));
        answers.appendChild(none);
      }
      for (var k = 0; k < attempts.length; k++) { answers.appendChild(answerBox(attempts[k], attempts.length > 1)); }
    }
    art.appendChild(answers);
    if (item.judgments.length) {
      var jd = el("details");
      jd.appendChild(el("summary", null, "Judge calls (" + item.judgments.length + ")"));
      for (var j = 0; j < item.judgments.length; j++) {
        var c = item.judgments[j];
        var w = el("div", "judge");
        var line = el("div", "small");
        line.appendChild(el("b", null, c.judge_id));
        line.appendChild(document.createTextNode(" v" + c.judge_version + " · model "));
        line.appendChild(el("code", null, c.judge_model));
        line.appendChild(document.createTextNode(" · " + c.latency));
        w.appendChild(line);
        if (c.error) { w.appendChild(el("div", "err", "Judge error: " + c.error)); }
        w.appendChild(el("h4", null, "Prompt"));
        w.appendChild(el("pre", null, c.prompt));
        w.appendChild(el("h4", null, "Raw response"));
        w.appendChild(el("pre", null, c.raw_response === null ? "— (no response)" : c.raw_response));
        if (c.parsed) { w.appendChild(el("h4", null, "Parsed")); w.appendChild(el("pre", null, c.parsed)); }
        if (c.details) { w.appendChild(el("h4", null, "Details")); w.appendChild(el("pre", null, c.details)); }
        jd.appendChild(w);
      }
      art.appendChild(jd);
    }
    return art;
  }

  var bar = document.getElementById("explorer-all");
  if (!files || !bar) {
    document.body.setAttribute("data-explorer", "ready");
    return;
  }
  var status = document.getElementById("explorer-status");
  var page = document.getElementById("explorer-page");
  var prev = document.getElementById("explorer-prev");
  var next = document.getElementById("explorer-next");
  var back = document.getElementById("explorer-embedded-btn");
  var searchAll = document.getElementById("explorer-search-all");
  var waiting = {};
  var busy = false;

  // Each items file is one call evalkitItems(number, [item, ...]).
  window.evalkitItems = function (number, items) {
    var done = waiting[number];
    delete waiting[number];
    if (done) { done(items); }
  };

  function load(number, done) {
    var name = "items-" + ("0000" + number).slice(-5) + ".js";
    var s = document.createElement("script");
    waiting[number] = function (items) { s.remove(); done(items, null); };
    s.onerror = function () {
      delete waiting[number];
      s.remove();
      done(null, "could not load " + dir + "/" + name);
    };
    s.src = dir + "/" + name;
    document.body.appendChild(s);
  }

  function setStatus(text) { status.textContent = text; }
  function fmt(n) { return Number(n).toLocaleString("en"); }

  function showPage(n) {
    if (busy) { return; }
    n = Math.max(1, Math.min(files, n));
    busy = true;
    setStatus("loading page " + n + "…");
    load(n, function (items, error) {
      busy = false;
      if (error) { setStatus(error); return; }
      page.value = String(n);
      back.disabled = false;
      showRows(items.map(article));
      setStatus("page " + fmt(n) + " of " + fmt(files) + ": items " + fmt(items.length ? items[0].i + 1 : 0) + "–" +
                fmt(items.length ? items[items.length - 1].i + 1 : 0));
      section.setAttribute("data-page", String(n));
    });
  }

  function matches(item, term) {
    if (onlyDisagree.checked && !item.disagree) { return false; }
    if (onlyFailed.checked && !item.failed) { return false; }
    if (!term) { return true; }
    var parts = [item.id, item.input, item.target || "", item.fields];
    for (var m = 0; m < item.answers.length; m++) {
      for (var k = 0; k < item.answers[m].length; k++) {
        var a = item.answers[m][k];
        parts.push(a.output || "", a.error || "", a.label || "");
      }
    }
    return parts.join("\n").toLowerCase().indexOf(term) !== -1;
  }

  var MAX_FOUND = 200;
  function runSearchAll() {
    if (busy) { return; }
    busy = true;
    var term = search.value.trim().toLowerCase();
    var found = [];
    var n = 0;
    function step() {
      n++;
      if (n > files || found.length >= MAX_FOUND) {
        busy = false;
        back.disabled = false;
        showRows(found.map(article));
        setStatus((found.length >= MAX_FOUND ? "first " + MAX_FOUND + " matches" : found.length + " match(es)") +
                  " in " + fmt(n - 1) + " of " + fmt(files) + " file(s)");
        section.setAttribute("data-page", "search");
        return;
      }
      setStatus("searching file " + fmt(n) + " of " + fmt(files) + " (" + found.length + " found)…");
      load(n, function (items, error) {
        if (error) { busy = false; setStatus(error); return; }
        for (var i = 0; i < items.length && found.length < MAX_FOUND; i++) {
          if (matches(items[i], term)) { found.push(items[i]); }
        }
        step();
      });
    }
    step();
  }

  prev.addEventListener("click", function () { showPage(parseInt(page.value, 10) - 1); });
  next.addEventListener("click", function () { showPage(parseInt(page.value, 10) + (section.getAttribute("data-page") ? 1 : 0)); });
  page.addEventListener("change", function () { showPage(parseInt(page.value, 10)); });
  searchAll.addEventListener("click", runSearchAll);
  back.addEventListener("click", function () {
    back.disabled = true;
    section.removeAttribute("data-page");
    setStatus("");
    showRows(embedded);
  });
  bar.classList.remove("hidden");
  document.body.setAttribute("data-explorer", "ready");
})();
