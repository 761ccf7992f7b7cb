/* Progressive enhancement only: every page works without this file.
 *  - [data-copy]: copies its data-copy value; "Link copied" is announced.
 *  - [data-share-url]: opens the device's share sheet (navigator.share) with that
 *    link and its data-share-text; shown only where the browser has one.
 *  - [data-quote-target][data-quote-text]: appends the text to the textarea
 *    with that id and focuses it.
 *  - form[data-confirm]: asks before submitting.
 *  - the error summary takes focus on load; its links focus their field.
 *  - the header's menu (a <details>) is opened on wide screens.
 * Buttons that only work with JS should be rendered with `hidden`; this file
 * reveals them. */
(function () {
  "use strict";

  var live = document.createElement("div");
  live.className = "visually-hidden";
  live.setAttribute("role", "status");
  live.setAttribute("aria-live", "polite");
  document.body.appendChild(live);

  function announce(message) {
    live.textContent = "";
    window.setTimeout(function () { live.textContent = message; }, 100);
  }

  // Browsers that can't show a closed <details>' content with CSS (no ::details-content)
  // get the header's menu opened on wide screens, where it has no toggle.
  var wide = window.matchMedia("(min-width: 48em)");
  var menu = document.querySelector("[data-site-menu]");
  function openMenuWhenWide() { if (menu && wide.matches) { menu.open = true; } }
  openMenuWhenWide();
  if (wide.addEventListener) { wide.addEventListener("change", openMenuWhenWide); }

  document.querySelectorAll("[data-copy][hidden], [data-quote-target][hidden], [data-share-url][hidden]")
    .forEach(function (el) {
      if (el.hasAttribute("data-copy") && !navigator.clipboard) { return; }
      if (el.hasAttribute("data-share-url") && !navigator.share) { return; }
      el.hidden = false;
    });

  document.addEventListener("click", function (event) {
    var share = event.target.closest("[data-share-url]");
    if (share && navigator.share) {
      event.preventDefault();
      navigator.share({
        url: share.getAttribute("data-share-url"),
        text: share.getAttribute("data-share-text") || ""
      }).catch(function () { /* closed without sharing: nothing to say */ });
      return;
    }

    var copy = event.target.closest("[data-copy]");
    if (copy && navigator.clipboard) {
      event.preventDefault();
      navigator.clipboard.writeText(copy.getAttribute("data-copy")).then(
        function () { announce("Link copied"); },
        function () { announce("Could not copy the link"); }
      );
      return;
    }

    var quote = event.target.closest("[data-quote-target]");
    if (quote) {
      var area = document.getElementById(quote.getAttribute("data-quote-target"));
      if (!area) { return; }
      event.preventDefault();
      var text = quote.getAttribute("data-quote-text") || "";
      var current = area.value.replace(/\s+$/, "");
      area.value = (current ? current + "\n\n" : "") + text + "\n\n";
      area.focus();
      area.setSelectionRange(area.value.length, area.value.length);
      return;
    }

    var link = event.target.closest(".error-summary a[href^='#']");
    if (link) {
      var field = document.getElementById(link.getAttribute("href").slice(1));
      if (!field) { return; }
      event.preventDefault();
      var label = document.querySelector("label[for='" + CSS.escape(field.id) + "']");
      var legend = field.closest("fieldset") && field.closest("fieldset").querySelector("legend");
      (legend || label || field).scrollIntoView();
      field.focus({ preventScroll: true });
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.matches("form[data-confirm]") && !window.confirm(form.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) { window.print(); }
  });

  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }
})();
