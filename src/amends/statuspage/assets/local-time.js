// Progressive enhancement only: without it, times read in UTC.
// Rewrites each <time data-local> into the visitor's time zone and language.
(function () {
  "use strict";
  if (!window.Intl || !Intl.DateTimeFormat) { return; }
  var lang = document.documentElement.lang || undefined;
  var format;
  try {
    format = new Intl.DateTimeFormat(lang, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short"
    });
  } catch (e) { return; }
  var nodes = document.querySelectorAll("time[data-local]");
  for (var i = 0; i < nodes.length; i++) {
    var when = new Date(nodes[i].getAttribute("datetime"));
    if (!isNaN(when.getTime())) {
      nodes[i].title = nodes[i].textContent;
      nodes[i].textContent = format.format(when);
    }
  }
  document.documentElement.setAttribute("data-local-time", "1");
})();
