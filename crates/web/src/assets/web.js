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

// The sign-in page (servers with authentication): POSTs the token as JSON, with the page's
// anti-forgery token; the server answers with the session cookie.
(function () {
  "use strict";
  var form = document.getElementById("login-form");
  if (!form) { return; }
  var meta = document.querySelector('meta[name="trailhound-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  var input = document.getElementById("login-token");
  var error = document.getElementById("login-error");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    error.hidden = true;
    fetch("/api/login", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-Trailhound-Token": token },
      body: JSON.stringify({ token: input.value.trim() })
    }).then(function (r) {
      if (r.ok) {
        if (window.location.pathname === "/login") { window.location.assign("/"); } else { window.location.reload(); }
        return;
      }
      return r.json().then(function (b) {
        error.textContent = (b && b.error) || ("HTTP " + r.status);
        error.hidden = false;
      });
    }, function (err) {
      error.textContent = "The server did not answer: " + err;
      error.hidden = false;
    });
  });
})();

// Who is signed in: their name in the navigation with a sign-out button, the audit log for
// admins, and the status form's "By" set to them (the server records the signed-in user).
(function () {
  "use strict";
  var nav = document.querySelector("nav.top");
  if (!nav || document.getElementById("login-form")) { return; }
  var meta = document.querySelector('meta[name="trailhound-token"]');
  var token = meta ? meta.getAttribute("content") : "";
  fetch("/api/whoami", { credentials: "same-origin" }).then(function (r) {
    return r.ok ? r.json() : null;
  }).then(function (me) {
    if (!me || !me.user) { return; }
    if (me.role === "admin") {
      var audit = document.createElement("a");
      audit.href = "/audit";
      audit.textContent = "Audit log";
      nav.appendChild(audit);
    }
    var who = document.createElement("span");
    who.className = "who";
    who.setAttribute("data-testid", "signed-in");
    who.textContent = me.user + " (" + me.role + ")";
    nav.appendChild(who);
    var out = document.createElement("button");
    out.type = "button";
    out.className = "sign-out";
    out.textContent = "Sign out";
    out.addEventListener("click", function () {
      fetch("/api/logout", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-Trailhound-Token": token },
        body: "{}"
      }).then(function () { window.location.assign("/login"); });
    });
    nav.appendChild(out);
    var by = document.getElementById("status-by");
    if (by) {
      by.value = me.user;
      by.readOnly = true;
    }
  });
})();
