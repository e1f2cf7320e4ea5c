// valley report --format html: inline in every report. Everything is drawn without it; this
// only shows the zoom buttons and moves the timelines' view.
(function () {
  "use strict";
  function fmtTime(ns) {
    if (ns < 1e3) return ns.toFixed(0) + "ns";
    if (ns < 1e6) return (ns / 1e3).toPrecision(3) + "us";
    if (ns < 1e9) return (ns / 1e6).toPrecision(3) + "ms";
    return (ns / 1e9).toPrecision(3) + "s";
  }
  function setView(box, x0, w) {
    var full = parseFloat(box.dataset.width);
    w = Math.min(full, Math.max(full / 64, w));
    x0 = Math.min(full - w, Math.max(0, x0));
    box.dataset.x0 = x0;
    box.dataset.w = w;
    box.querySelectorAll("svg.plot").forEach(function (p) {
      var vb = p.viewBox.baseVal;
      p.setAttribute("viewBox", x0 + " " + vb.y + " " + w + " " + vb.height);
    });
    var span = parseFloat(box.dataset.span);
    box.querySelectorAll("text.tick").forEach(function (t) {
      var f = parseFloat(t.dataset.frac);
      t.textContent = fmtTime(((x0 + f * w) / full) * span);
    });
  }
  document.querySelectorAll(".zoomable").forEach(function (box) {
    var bar = box.querySelector(".zoom");
    if (!bar) return;
    bar.classList.remove("nojs-hide");
    bar.addEventListener("click", function (ev) {
      var what = ev.target.dataset && ev.target.dataset.zoom;
      if (!what) return;
      var full = parseFloat(box.dataset.width);
      var x0 = parseFloat(box.dataset.x0 || 0), w = parseFloat(box.dataset.w || full);
      var mid = x0 + w / 2;
      if (what === "in") setView(box, mid - w / 4, w / 2);
      else if (what === "out") setView(box, mid - w, w * 2);
      else if (what === "left") setView(box, x0 - w / 2, w);
      else if (what === "right") setView(box, x0 + w / 2, w);
      else setView(box, 0, full);
    });
  });
  document.documentElement.dataset.scripts = "ran";
})();
