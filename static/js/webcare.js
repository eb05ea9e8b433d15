// Small enhancements; every page works without them.
(function () {
  "use strict";

  // How platforms count a text. X: emoji and most non-Latin characters count 2 and every
  // URL 23 (channels/tweet_text.py is the server-side twin). Mastodon: every URL 23.
  // Facebook: characters as written.
  var URL_PATTERN = /https?:\/\/\S+/gi;
  var LIGHT_RANGES = [[0, 4351], [8192, 8205], [8208, 8223], [8242, 8247]];

  function isLight(codePoint) {
    return LIGHT_RANGES.some(function (range) {
      return codePoint >= range[0] && codePoint <= range[1];
    });
  }

  function xLength(text) {
    var urls = text.match(URL_PATTERN) || [];
    var rest = text.normalize("NFC").replace(URL_PATTERN, "");
    var length = urls.length * 23;
    var afterJoiner = false;
    var unpairedFlag = false;
    Array.from(rest).forEach(function (character) {
      var codePoint = character.codePointAt(0);
      if (codePoint === 0xfe0f || codePoint === 0x20e3 || codePoint === 0x200d) {
        afterJoiner = codePoint === 0x200d;
        return;
      }
      if ((codePoint >= 0x1f3fb && codePoint < 0x1f400) ||
          (codePoint >= 0xe0020 && codePoint < 0xe0080) || afterJoiner) {
        afterJoiner = false;
        return;
      }
      if (codePoint >= 0x1f1e6 && codePoint < 0x1f200) {
        if (unpairedFlag) { unpairedFlag = false; return; }
        unpairedFlag = true;
      } else {
        unpairedFlag = false;
      }
      length += isLight(codePoint) ? 1 : 2;
    });
    return length;
  }

  // Mastodon counts a remote mention (@name@instance) as its local part only
  // (channels/mastodon_text.py is the server-side twin).
  var REMOTE_MENTION_PATTERN = /(^|[^\/\w])@(\w+(?:[\w.-]+\w)?)@[\w.-]+\w/gi;

  function mastodonLength(text) {
    var urls = text.match(URL_PATTERN) || [];
    var rest = text.replace(URL_PATTERN, "").replace(REMOTE_MENTION_PATTERN, "$1@$2");
    return Array.from(rest).length + urls.length * 23;
  }

  var MEASURES = { twitter: xLength, mastodon: mastodonLength };

  // Live counter for the reply composer, counted the way the platform counts; the send
  // button is disabled while the text is too long, as the platform would refuse it.
  function bindCounter(textarea) {
    var counter = document.getElementById("reply-counter");
    var form = textarea.form;
    var sendButton = form && form.querySelector("button[type=submit]");
    var measure = MEASURES[textarea.dataset.countRule] || function (text) {
      return Array.from(text).length;
    };
    if (!counter) return;
    var template = document.documentElement.lang === "en"
      ? "{n} of {max} characters"
      : "{n} van {max} tekens";
    function limit() {
      var privateChoice = form && form.querySelector("input[name=private]:checked");
      var isPrivate = privateChoice && privateChoice.value === "on";
      return parseInt(isPrivate ? textarea.dataset.privateMaxLength : textarea.dataset.maxLength, 10);
    }
    // The signature the server adds (inbox/signatures.py `signed`) counts too.
    function withSignature(text) {
      var signature = textarea.dataset.signature;
      var trimmed = text.replace(/\s+$/, "");
      if (!signature || trimmed.endsWith(signature)) return trimmed;
      return trimmed + " " + signature;
    }
    function update() {
      var n = measure(withSignature(textarea.value));
      var max = limit();
      counter.textContent = template.replace("{n}", n).replace("{max}", max);
      counter.classList.toggle("over", n > max);
      if (sendButton) sendButton.disabled = n > max;
    }
    textarea.addEventListener("input", update);
    if (form) form.addEventListener("change", update);
  }

  // A second click while the first submit is on its way would only repeat it; the
  // idempotency key already makes that harmless, this just makes it visible.
  function bindSubmitGuard(form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("[data-disable-on-submit]").forEach(function (button) {
        window.setTimeout(function () { button.disabled = true; }, 0);
      });
    });
  }

  // Canned answers: put the text in the composer, where the agent can still edit it.
  // Delegated, so buttons that htmx brings in later (canned search results) work too; a
  // result button is a GET form without JavaScript, so its default is prevented.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[data-insert-text]");
    if (!button) return;
    var textarea = document.getElementById(button.dataset.target);
    if (!textarea) return;
    event.preventDefault();
    textarea.value = button.dataset.insertText;
    textarea.dispatchEvent(new Event("input"));
    textarea.focus();
  });

  // "/afval" at the start of the reply searches the canned responses (the search form
  // fetches the results with htmx).
  function bindSlashSearch(textarea) {
    var search = document.getElementById("canned-query");
    if (!search) return;
    textarea.addEventListener("input", function () {
      var match = /^\/([\w-]*)$/.exec(textarea.value);
      if (!match || search.value === match[1]) return;
      search.value = match[1];
      search.dispatchEvent(new Event("input", { bubbles: true }));
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-max-length]").forEach(bindCounter);
    document.querySelectorAll("textarea[data-max-length]").forEach(bindSlashSearch);
    document.querySelectorAll("form.reply-form").forEach(bindSubmitGuard);
  });
})();

// --- Approval and collision detection (inbox/collision.py) ---------------------------------
// While the agent types in the composer, tell the server at most every 3 s, so that
// colleagues with the same conversation open see "… is typing". The server forgets it 6 s
// after the last signal. Without JavaScript nobody sees typing; everything else works.
(function () {
  "use strict";

  var TYPING_SIGNAL_INTERVAL_MS = 3000;

  function bindTypingSignal(form) {
    var url = form.dataset.typingUrl;
    var textarea = form.querySelector("textarea");
    var tokenInput = form.querySelector("input[name=csrfmiddlewaretoken]");
    if (!url || !textarea || !tokenInput || !window.fetch) return;
    var lastSent = 0;
    textarea.addEventListener("input", function () {
      var now = Date.now();
      if (now - lastSent < TYPING_SIGNAL_INTERVAL_MS) return;
      lastSent = now;
      fetch(url, {
        method: "POST",
        headers: { "X-CSRFToken": tokenInput.value },
        credentials: "same-origin"
      }).catch(function () { /* presence is a convenience; never bother the agent */ });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.reply-form[data-typing-url]").forEach(bindTypingSignal);
  });
})();
