(function () {
  "use strict";
  function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }
  all("button[data-copy]").forEach(function (b) {
    b.hidden = false;
    b.addEventListener("click", function () {
      var el = document.getElementById(b.getAttribute("data-copy"));
      if (!el) { return; }
      var done = function () {
        b.textContent = "Copied";
        setTimeout(function () { b.textContent = "Copy"; }, 1500);
      };
      var select = function () {
        var r = document.createRange();
        r.selectNodeContents(el);
        var s = window.getSelection();
        s.removeAllRanges();
        s.addRange(r);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(el.textContent).then(done, select);
      } else {
        select();
      }
    });
  });
  var expand = document.getElementById("expand-all");
  if (expand) {
    expand.hidden = false;
    expand.addEventListener("click", function () {
      var open = expand.getAttribute("data-open") !== "1";
      all("details.evidence").forEach(function (d) { d.open = open; });
      expand.setAttribute("data-open", open ? "1" : "0");
      expand.textContent = open ? "Collapse all evidence" : "Expand all evidence";
    });
  }
  window.addEventListener("beforeprint", function () {
    all("details").forEach(function (d) { d.open = true; });
  });
})();
