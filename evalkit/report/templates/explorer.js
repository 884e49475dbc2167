(function () {
  "use strict";
  // Filters only toggle a class on server-rendered rows; no data is ever written into the page as markup.
  var rows = Array.prototype.slice.call(document.querySelectorAll("article.sample"));
  var search = document.getElementById("explorer-search");
  var onlyDisagree = document.getElementById("explorer-disagree");
  var onlyFailed = document.getElementById("explorer-failed");
  var shown = document.getElementById("explorer-shown");
  var controls = document.getElementById("explorer-controls");
  if (!search || !onlyDisagree || !onlyFailed || !shown) { return; }
  var haystack = null;  // lower-cased text of each row, built on the first search only
  var timer = null;

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
  }

  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(apply, 150);
  });
  onlyDisagree.addEventListener("change", apply);
  onlyFailed.addEventListener("change", apply);
  controls.classList.remove("hidden");
  document.body.setAttribute("data-explorer", "ready");
})();
