/* Care Route staff frontend: the little JavaScript it needs. Every page works without it; this only
   enhances: one submission per form, live unread count (server-sent events, polling as fallback),
   partial refresh of filter forms, and locking the screen after the idle timeout on shared computers.
   No inline code anywhere (the Content-Security-Policy forbids it). */
(function () {
  "use strict";
  var body = document.body;
  var csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  /* 1. A form is submitted once: a double click on "Register" sends one request. */
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.dataset.submitted === "1") { ev.preventDefault(); return; }
    form.dataset.submitted = "1";
    var buttons = form.querySelectorAll("button[type=submit], button:not([type])");
    for (var i = 0; i < buttons.length; i++) { buttons[i].setAttribute("aria-busy", "true"); }
    /* re-enable if the user comes back with the browser's back button */
    window.addEventListener("pageshow", function () { form.dataset.submitted = ""; });
  }, true);

  /* 2. Unread notifications, live. */
  var badge = document.getElementById("unread-count");
  function setCount(n) {
    if (!badge) { return; }
    n = parseInt(n, 10);
    if (isNaN(n)) { return; }
    badge.textContent = n > 0 ? String(n) : "";
    badge.setAttribute("data-count", String(n));
  }
  function poll() {
    fetch("/notifications/count", { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (d) { if (d) { setCount(d.unread); } })
      .catch(function () {});
  }
  if (badge) {
    if (window.EventSource) {
      var failures = 0;
      var connect = function () {
        var es = new EventSource("/notifications/stream");
        es.addEventListener("unread", function (e) { failures = 0; setCount(e.data); });
        es.addEventListener("end", function () { es.close(); });
        es.onerror = function () {
          es.close();
          failures += 1;
          if (failures < 5) { setTimeout(connect, 5000 * failures); } else { setInterval(poll, 60000); }
        };
      };
      connect();
    } else {
      setInterval(poll, 60000);
    }
  }

  /* 3. Filter forms refresh their results in place (the same GET works without JS). */
  var forms = document.querySelectorAll("form[data-live-target]");
  Array.prototype.forEach.call(forms, function (form) {
    var target = document.getElementById(form.getAttribute("data-live-target"));
    if (!target) { return; }
    var timer = null;
    var refresh = function () {
      var params = new URLSearchParams(new FormData(form));
      var url = form.getAttribute("action") + "?" + params.toString();
      target.setAttribute("aria-busy", "true");
      fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
        .then(function (r) {
          var redirect = r.headers.get("HX-Redirect");
          if (redirect) { window.location.assign(redirect); return null; }
          return r.ok ? r.text() : null;
        })
        .then(function (html) {
          target.removeAttribute("aria-busy");
          if (html !== null && html !== undefined) {
            target.innerHTML = html;
            if (window.history.replaceState) { window.history.replaceState(null, "", url); }
          }
        })
        .catch(function () { target.removeAttribute("aria-busy"); });
    };
    form.addEventListener("change", function () { clearTimeout(timer); timer = setTimeout(refresh, 150); });
  });

  /* 4. Shared computers: after the idle timeout, leave the page so nothing stays on screen. */
  var idle = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  if (idle > 0 && body.getAttribute("data-signed-in") === "1") {
    var last = Date.now();
    var pinged = Date.now();
    var touch = function () {
      last = Date.now();
      /* someone is typing a long form: tell the server they are still here (at most every 4 min) */
      if (last - pinged > 240000) {
        pinged = last;
        fetch("/session/ping", { method: "POST", credentials: "same-origin",
                                 headers: { "X-CSRF-Token": csrf } }).catch(function () {});
      }
    };
    ["keydown", "mousedown", "touchstart", "scroll"].forEach(function (t) {
      document.addEventListener(t, touch, { passive: true });
    });
    setInterval(function () {
      if (Date.now() - last > idle * 1000 + 5000) {
        var here = window.location.pathname + window.location.search;
        window.location.replace("/session/timeout?next=" + encodeURIComponent(here));
      }
    }, 15000);
  }

  /* 5. An error summary takes the focus, so screen readers announce it first. */
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) { summary.focus(); }

  /* 6. fetch() calls that change state carry the CSRF token. */
  window.careroute = { csrf: csrf };
}());
