/* Progressive enhancement of the forum's writing forms ([data-composer]); without this file
 * each still works: Preview submits the form and the page comes back with the preview,
 * Reply links load the page with the reply box answering that post, drafts are kept when a
 * post is refused.
 *  - Preview: shown in place (rendered by the server, POST /forum/preview), then kept up to
 *    date while typing.
 *  - Drafts: saved to the server every few seconds while the text changes.
 *  - @mentions: usernames suggested from GET /forum/mentions?q=; the textarea owns a
 *    listbox (aria-autocomplete="list", aria-activedescendant): Up/Down move, Enter or Tab
 *    picks, Escape closes.
 *  - Reply buttons: set the post answered and move to the reply box without a reload. */
(function () {
  "use strict";

  var form = document.querySelector("form[data-composer]");
  if (!form || !window.fetch || !window.FormData) { return; }
  var area = form.querySelector("textarea");
  var actions = form.querySelector("[data-preview-url]");
  if (!area || !actions) { return; }
  var tokenField = form.querySelector("input[name=csrf_token]");
  var token = tokenField ? tokenField.value : "";

  var status = document.createElement("div");
  status.className = "visually-hidden";
  status.setAttribute("role", "status");
  form.appendChild(status);
  function announce(message) {
    status.textContent = "";
    window.setTimeout(function () { status.textContent = message; }, 100);
  }

  function post(url, fields) {
    var body = new FormData();
    body.append("csrf_token", token);
    Object.keys(fields).forEach(function (name) { body.append(name, fields[name]); });
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": token, "Accept": "application/json" }
    });
  }

  // Preview ---------------------------------------------------------------------------
  var box = form.querySelector("[data-preview]");
  var boxBody = form.querySelector("[data-preview-body]");
  var button = form.querySelector("[data-preview-button]");
  var previewTimer = null;
  var previewed = null;

  function showPreview(say) {
    var text = area.value;
    if (text === previewed) { return; }
    previewed = text;
    post(actions.getAttribute("data-preview-url"), { body: text }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      if (text !== area.value && previewed !== text) { return; }
      box.hidden = false;
      if (result.ok) {
        boxBody.innerHTML = result.data.html;  // sanitised by the server's renderer
      } else {
        boxBody.textContent = (result.data.error && result.data.error.detail) || "No preview.";
      }
      if (say) { announce("Preview shown below the text box."); }
    }).catch(function () {
      previewed = null;
      if (say) { announce("The preview could not be loaded."); }
    });
  }

  if (button && box && boxBody) {
    button.addEventListener("click", function (event) {
      event.preventDefault();
      previewed = null;
      showPreview(true);
    });
    area.addEventListener("input", function () {
      if (box.hidden) { return; }
      window.clearTimeout(previewTimer);
      previewTimer = window.setTimeout(function () { showPreview(false); }, 600);
    });
  }

  // Drafts ----------------------------------------------------------------------------
  var draftUrl = actions.getAttribute("data-draft-url");
  if (draftUrl) {
    var place = actions.hasAttribute("data-draft-thread")
      ? { thread: actions.getAttribute("data-draft-thread") }
      : { category: actions.getAttribute("data-draft-category") };
    var title = form.querySelector("input[name=title]");
    var saved = area.value + "\u0000" + (title ? title.value : "");
    var submitting = false;
    form.addEventListener("submit", function () { submitting = true; });
    var saveDraft = function () {
      var now = area.value + "\u0000" + (title ? title.value : "");
      if (submitting || now === saved) { return; }
      var fields = { body: area.value, title: title ? title.value : "" };
      Object.keys(place).forEach(function (name) { fields[name] = place[name]; });
      post(draftUrl, fields).then(function (response) {
        if (response.ok) { saved = now; }
      }).catch(function () {});
    };
    window.setInterval(saveDraft, 8000);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "hidden") { saveDraft(); }
    });
  }

  // Reply to a post -------------------------------------------------------------------
  var replyField = form.querySelector("[data-reply-field]");
  var replying = form.querySelector("[data-replying]");
  if (replyField && replying) {
    document.addEventListener("click", function (event) {
      var link = event.target.closest("[data-reply-to]");
      var cancel = event.target.closest("[data-reply-cancel]");
      if (cancel) {
        event.preventDefault();
        replyField.value = "";
        replying.hidden = true;
        replying.textContent = "";
        area.focus();
        return;
      }
      if (!link) { return; }
      event.preventDefault();
      var name = link.getAttribute("data-reply-name");
      replyField.value = link.getAttribute("data-reply-to");
      replying.textContent = "";
      replying.appendChild(document.createTextNode("Replying to "));
      var to = document.createElement("a");
      to.href = "#post-" + replyField.value;
      to.textContent = name ? "@" + name : "an earlier post";
      replying.appendChild(to);
      replying.appendChild(document.createTextNode(". "));
      var instead = document.createElement("a");
      instead.href = "#reply";
      instead.setAttribute("data-reply-cancel", "");
      instead.textContent = "Reply to the thread instead";
      replying.appendChild(instead);
      replying.hidden = false;
      area.focus();
      announce("Replying to " + (name ? "@" + name : "an earlier post") + ".");
    });
  }

  // @mention suggestions --------------------------------------------------------------
  var mentionsUrl = area.getAttribute("data-mentions");
  if (!mentionsUrl) { return; }
  var list = document.createElement("ul");
  list.id = area.id + "-mentions";
  list.className = "mention-list";
  list.setAttribute("role", "listbox");
  list.setAttribute("aria-label", "Members to mention");
  list.hidden = true;
  area.parentNode.insertBefore(list, area.nextSibling);
  area.setAttribute("aria-autocomplete", "list");
  area.setAttribute("aria-controls", list.id);

  var active = -1;
  var options = [];
  var lookup = null;
  var asked = "";
  var mentionRe = /(^|[^A-Za-z0-9_.+\-@\/])@([A-Za-z0-9_]{1,30})$/;

  function currentMention() {
    if (area.selectionStart !== area.selectionEnd) { return null; }
    var before = area.value.slice(0, area.selectionStart);
    var match = mentionRe.exec(before);
    return match ? { prefix: match[2], start: before.length - match[2].length } : null;
  }

  function close() {
    list.hidden = true;
    list.textContent = "";
    options = [];
    active = -1;
    area.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    options.forEach(function (option, i) {
      option.setAttribute("aria-selected", i === index ? "true" : "false");
    });
    active = index;
    if (index >= 0) {
      area.setAttribute("aria-activedescendant", options[index].id);
    } else {
      area.removeAttribute("aria-activedescendant");
    }
  }

  function pick(index) {
    var mention = currentMention();
    var option = options[index];
    if (!mention || !option) { close(); return; }
    var name = option.getAttribute("data-username");
    var end = area.selectionStart;
    area.value = area.value.slice(0, mention.start) + name + " " + area.value.slice(end);
    var caret = mention.start + name.length + 1;
    area.setSelectionRange(caret, caret);
    close();
    announce("@" + name + " added.");
  }

  function show(users) {
    close();
    if (!users.length) { return; }
    users.forEach(function (user, i) {
      var option = document.createElement("li");
      option.id = list.id + "-" + i;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", "false");
      option.setAttribute("data-username", user.username);
      option.textContent = "@" + user.username + (user.name !== user.username ? " (" + user.name + ")" : "");
      option.addEventListener("mousedown", function (event) {
        event.preventDefault();  // the textarea keeps the focus (and the caret)
        pick(i);
      });
      list.appendChild(option);
      options.push(option);
    });
    list.hidden = false;
    highlight(0);
    announce(users.length + (users.length === 1 ? " member" : " members") +
      " suggested: Up and Down to choose, Enter to pick, Escape to close.");
  }

  area.addEventListener("input", function () {
    var mention = currentMention();
    if (!mention) { asked = ""; close(); return; }
    if (mention.prefix === asked) { return; }
    asked = mention.prefix;
    window.clearTimeout(lookup);
    lookup = window.setTimeout(function () {
      var prefix = mention.prefix;
      fetch(mentionsUrl + "?q=" + encodeURIComponent(prefix), {
        credentials: "same-origin", headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : { users: [] };
      }).then(function (data) {
        var now = currentMention();
        if (now && now.prefix === prefix) { show(data.users || []); }
      }).catch(close);
    }, 150);
  });

  area.addEventListener("keydown", function (event) {
    if (list.hidden || !options.length) { return; }
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var step = event.key === "ArrowDown" ? 1 : -1;
      highlight((active + step + options.length) % options.length);
    } else if ((event.key === "Enter" || event.key === "Tab") && active >= 0) {
      event.preventDefault();
      pick(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      asked = "";
      close();
    }
  });
  area.addEventListener("blur", function () { window.setTimeout(close, 150); });
})();
