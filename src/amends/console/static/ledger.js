// The sending view: the ledger's counts pushed by server-sent events (no polling).
(function () {
  "use strict";
  function watch() {
    var box = document.querySelector("[data-stream]");
    if (!box || !window.EventSource) return;
    var counts = box.querySelector("#ledger-counts");
    var live = box.querySelector(".live");
    var source = new EventSource(box.getAttribute("data-stream"));
    source.addEventListener("ledger", function (e) {
      counts.innerHTML = e.data;
      if (live) live.hidden = false;
    });
    source.addEventListener("done", function () {
      source.close();
      if (live) live.hidden = true;
    });
    source.onerror = function () { source.close(); if (live) live.hidden = true; };
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watch);
  } else {
    watch();
  }
})();
