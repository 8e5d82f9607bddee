// Live worklist: the page works without this script; with it, the summary
// line is refreshed from the server-sent event stream (the server ends each
// stream with a retry interval, so the browser asks again every interval).
(function () {
  var el = document.getElementById("live-summary");
  if (!el || !window.EventSource) { return; }
  var es = new EventSource(el.getAttribute("data-events"));
  es.addEventListener("worklist", function (e) {
    try {
      var d = JSON.parse(e.data);
      el.textContent = d.open + " open cases, " + d.escalated + " escalated (updated " +
        new Date(d.at).toLocaleTimeString("en-GB") + ").";
    } catch (err) { /* keep the server-rendered line */ }
  });
})();
