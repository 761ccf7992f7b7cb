/* Reading position (progressive enhancement: without JS the page's <noscript> pixel records
 * its last post instead). Posts count as read once they have been on screen; the furthest one
 * is sent with the page's beacon form (POST, its CSRF token) when the reader leaves the page
 * or hides it, and after a pause while they stay. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-read-beacon]");
  if (!form || !("IntersectionObserver" in window) || !navigator.sendBeacon) { return; }
  var upto = 0;
  var sent = 0;
  var timer = null;

  function send() {
    timer = null;
    if (upto <= sent) { return; }
    var data = new FormData(form);
    data.set("upto", String(upto));
    if (navigator.sendBeacon(form.action, data)) { sent = upto; }
  }

  var observer = new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) { return; }
      var id = parseInt(entry.target.id.replace("post-", ""), 10);
      if (id > upto) { upto = id; }
      observer.unobserve(entry.target);
    });
    if (upto > sent && timer === null) { timer = window.setTimeout(send, 2000); }
  }, { threshold: 0.5 });

  document.querySelectorAll("article.post[id^='post-']").forEach(function (post) {
    observer.observe(post);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { send(); }
  });
  window.addEventListener("pagehide", send);
}());
