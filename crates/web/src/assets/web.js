// Trailhound web UI: the status form of an alert page. Served from /static/web.js (the pages'
// Content-Security-Policy allows no inline script). A status change is a POST with a JSON body
// and the server's token (from the page's trailhound-token meta element) in X-Trailhound-Token.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="trailhound-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  var form = document.getElementById("status-form");
  if (!form) { return; }
  var by = document.getElementById("status-by");
  var reason = document.getElementById("status-reason");
  var error = document.getElementById("status-error");
  var buttons = Array.prototype.slice.call(form.querySelectorAll("button[data-action]"));
  var KEY = "trailhound.by";
  try {
    if (!by.value) { by.value = window.localStorage.getItem(KEY) || ""; }
  } catch (e) { /* storage unavailable: the field stays empty */ }
  function show(message) {
    error.textContent = message;
    error.hidden = false;
  }
  function busy(on) {
    buttons.forEach(function (b) { b.disabled = on; });
  }
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  buttons.forEach(function (b) {
    b.addEventListener("click", function () {
      error.hidden = true;
      var who = by.value.trim();
      if (!who) {
        show("Say who you are (By): the change is recorded with your name.");
        by.focus();
        return;
      }
      busy(true);
      fetch(b.getAttribute("data-url"), {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Trailhound-Token": token },
        body: JSON.stringify({ by: who, reason: reason.value.trim() || null })
      }).then(function (r) {
        return r.json().then(function (body) { return { ok: r.ok, body: body }; },
          function () { return { ok: false, body: { error: "HTTP " + r.status } }; });
      }).then(function (res) {
        if (!res.ok) {
          busy(false);
          show(res.body && res.body.error ? res.body.error : "The change failed.");
          return;
        }
        try { window.localStorage.setItem(KEY, who); } catch (e) { /* ignore */ }
        window.location.reload();
      }, function (err) {
        busy(false);
        show("The server did not answer: " + err);
      });
    });
  });
})();
