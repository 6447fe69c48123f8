// helmq UI: the token for actions (kept in this browser only), action buttons, live refresh.
(function () {
  "use strict";
  var KEY = "helmq-ui-token";

  function token() { try { return localStorage.getItem(KEY) || ""; } catch (e) { return ""; } }

  function flash(text, ok) {
    var box = document.getElementById("flash");
    if (!box) return;
    box.textContent = text;
    box.className = ok ? "ok" : "fail";
  }

  function showTokenState() {
    var state = document.getElementById("token-state");
    if (state) state.textContent = token() ? "token saved in this browser" : "no token";
  }

  function refresh() {
    var live = document.getElementById("live");
    if (!live) return Promise.resolve();
    var url = new URL(window.location.href);
    url.searchParams.set("fragment", "1");
    return fetch(url.toString(), {headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) live.innerHTML = html; })
      .catch(function () { /* the next tick tries again */ });
  }

  function act(button) {
    var headers = {"Accept": "application/json"};
    if (token()) headers["Authorization"] = "Bearer " + token();
    button.disabled = true;
    fetch(button.dataset.action, {method: "POST", headers: headers})
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (body) {
          var text = body.message || body.detail || (r.status + " " + r.statusText);
          if (r.ok) {
            flash(text, true);
            window.setTimeout(function () { window.location.reload(); }, 700);
          } else {
            flash(r.status + ": " + text, false);
            button.disabled = false;
          }
        });
      })
      .catch(function (e) { flash("request failed: " + e, false); button.disabled = false; });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("token-form");
    if (form) {
      form.addEventListener("submit", function (ev) {
        ev.preventDefault();
        var input = document.getElementById("token");
        try { localStorage.setItem(KEY, input.value.trim()); } catch (e) { /* private mode */ }
        input.value = "";
        showTokenState();
      });
      document.getElementById("token-clear").addEventListener("click", function () {
        try { localStorage.removeItem(KEY); } catch (e) { /* private mode */ }
        showTokenState();
      });
    }
    showTokenState();

    document.addEventListener("click", function (ev) {
      var button = ev.target.closest("button[data-action]");
      if (button && !button.disabled) act(button);
    });

    var live = document.getElementById("live");
    var seconds = live && parseFloat(live.dataset.refresh || "0");
    if (seconds > 0) {
      window.setInterval(function () {
        var toggle = document.getElementById("live-toggle");
        if (document.hidden || (toggle && !toggle.checked)) return;
        refresh();
      }, seconds * 1000);
    }
  });
})();
