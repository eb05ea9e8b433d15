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

  // Text that looks like personal data in a public reply: the twin of inbox/personal_data.py
  // (same patterns, same checks, same order; keep them in step: the browser test
  // tests/browser/test_conversation_browser.py compares both on shared examples). The
  // server refuses such a reply unless the agent confirms it; this only warns early.
  var personalData = (function () {
    var LETTER = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff";
    var URL = /(?:https?:\/\/|www\.)[^\s<>"]+/gi;
    var KINDS = ["iban", "email", "phone", "bsn", "postcode", "address"];
    var PATTERNS = {
      iban: /(?<![0-9A-Za-z])[A-Za-z]{2}[0-9]{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?![0-9A-Za-z])/g,
      email: /(?<![A-Za-z0-9._%+@-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![A-Za-z0-9-])/g,
      phone: /(?<![0-9A-Za-z+\/.#-])(?:(?:\+|00)31[ -]?(?:\(0\)[ -]?)?|\(0[1-9][0-9]{0,2}\)[ -]?|0(?=[1-9]))[0-9](?:[ -]?[0-9]){5,8}(?![0-9]|[.,:\/][0-9])/g,
      bsn: /(?<![0-9A-Za-z.,\/+#\u20ac$-])(?:[0-9]{9}|[0-9]{4}\.[0-9]{2}\.[0-9]{3}|[0-9]{3}[. ][0-9]{3}[. ][0-9]{3})(?![0-9A-Za-z]|[.,:\/-][0-9])/g,
      postcode: /(?<![0-9A-Za-z-])[1-9][0-9]{3} ?(?!SA|SD|SS)[A-Z]{2}(?![0-9A-Za-z-])/g,
      address: new RegExp(
        "(?<![" + LETTER + "])[" + LETTER + "][" + LETTER + "'-]*" +
        "(?:straat|laan|weg|plein|gracht|kade|singel|dijk|steeg|dreef|markt|baan|burgwal" +
        "|plantsoen|boulevard|hof|park|haven|pad)" +
        " [1-9][0-9]{0,4}(?:[ -]?[A-Za-z](?![0-9A-Za-z])|-[0-9]{1,4}(?![0-9]))?" +
        "(?![0-9]|[.:,][0-9]| ?(?:uur|u\\b|min|minuten|dag|dagen|week|weken|maand|maanden" +
        "|jaar|keer|km|meter|procent|euro|%))", "g")
    };
    var NOT_STREETS = ["onderweg", "halfweg", "halverweg", "zijweg", "uitweg"];
    var IBAN_LENGTHS = { NL: 18, BE: 16, DE: 22, FR: 27, GB: 22, ES: 24, IT: 27, LU: 20,
      AT: 20, CH: 21, PL: 28, PT: 25, IE: 22, DK: 18 };
    var ID_CONTEXT = /(?:zaak|order|bestel|kenmerk|referentie|factuur|klant|dossier|melding|ticket|case)[A-Za-z]*\.?[ ]*(?:nr\.?|nummer|no\.?)?[ ]*(?:is|was|luidt)?[ ]*[:#=]?[ ]*(?![\s\S])/i;
    var ID_CONTEXT_REACH = 40;
    var DATE_LIKE = /^[0-9]{1,2}-[0-9]{1,2}-(?:[0-9]{4}|[0-9]{2})(?![0-9])/;

    function digitsOf(text) { return text.replace(/[^0-9]/g, ""); }

    function bsnIsValid(digits) {
      if (!/^[0-9]{9}$/.test(digits) || digits === "000000000") return false;
      var total = 0;
      for (var i = 0; i < 8; i++) total += (9 - i) * parseInt(digits[i], 10);
      return (((total - parseInt(digits[8], 10)) % 11) + 11) % 11 === 0;
    }

    function ibanIsValid(iban) {
      var compact = iban.replace(/ /g, "").toUpperCase();
      if (!/^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$/.test(compact)) return false;
      var expected = IBAN_LENGTHS[compact.slice(0, 2)];
      if (expected !== undefined && compact.length !== expected) return false;
      if (expected === undefined && (compact.length < 15 || compact.length > 34)) return false;
      var remainder = 0;
      var rearranged = compact.slice(4) + compact.slice(0, 4);
      for (var i = 0; i < rearranged.length; i++) {
        var value = parseInt(rearranged[i], 36);
        remainder = (remainder * (value > 9 ? 100 : 10) + value) % 97;
      }
      return remainder === 1;
    }

    function phoneIsPlausible(candidate) {
      var digits = digitsOf(candidate);
      if (candidate.indexOf("+31") === 0 || candidate.indexOf("0031") === 0) {
        var national = candidate.indexOf("0031") === 0 ? digits.slice(4) : digits.slice(2);
        if (national[0] === "0" && candidate.indexOf("(0)") !== -1) national = national.slice(1);
        return national.length === 9 && national[0] !== "0";
      }
      if (DATE_LIKE.test(candidate)) return false;
      return digits.length === 10 && digits[0] === "0" && digits[1] !== "0" &&
        digits.indexOf("0800") !== 0 && digits.indexOf("09") !== 0;
    }

    function isPlausible(kind, candidate) {
      if (kind === "iban") return ibanIsValid(candidate);
      if (kind === "phone") return phoneIsPlausible(candidate);
      if (kind === "bsn") return bsnIsValid(digitsOf(candidate));
      if (kind === "address") return NOT_STREETS.indexOf(candidate.split(" ")[0].toLowerCase()) === -1;
      return true;
    }

    // The municipality's own public contact details (settings.WEBCARE_PUBLIC_CONTACT_DETAILS,
    // the warning's data-allowed): phone numbers by their national digits, e-mail addresses
    // case-insensitively. The twin of personal_data.Allowed.
    function phoneDigits(text) {
      var digits = digitsOf(text);
      var stripped = text.trim();
      if (stripped.indexOf("0031") === 0) digits = digits.slice(4);
      else if (stripped.indexOf("+31") === 0) digits = digits.slice(2);
      else return digits;
      return "0" + (digits[0] === "0" ? digits.slice(1) : digits);
    }

    function allowedOf(details) {
      var phones = [];
      var emails = [];
      (details || []).forEach(function (item) {
        item = String(item).trim();
        if (!item) return;
        if (item.indexOf("@") !== -1) emails.push(item.toLowerCase());
        else phones.push(phoneDigits(item));
      });
      return { phones: phones, emails: emails };
    }

    function allows(allowed, kind, candidate) {
      if (kind === "phone") return allowed.phones.indexOf(phoneDigits(candidate)) !== -1;
      if (kind === "email") return allowed.emails.indexOf(candidate.toLowerCase()) !== -1;
      return false;
    }

    function shown(text) {
      var keep = text.length > 7 ? 5 : Math.max(1, Math.floor(text.length / 2));
      return text.slice(0, keep) + "\u2026";
    }

    function matches(pattern, text) {
      var found = [];
      var match;
      pattern.lastIndex = 0;
      while ((match = pattern.exec(text)) !== null) {
        found.push({ start: match.index, end: match.index + match[0].length, text: match[0] });
        if (match[0].length === 0) pattern.lastIndex++;
      }
      return found;
    }

    // Every finding as {kind, start, end, text, shown}, in text order; `details` is the
    // list of contact details never flagged.
    function find(text, details) {
      var allowed = allowedOf(details);
      var taken = matches(URL, text).map(function (m) { return [m.start, m.end]; });
      var findings = [];
      KINDS.forEach(function (kind) {
        matches(PATTERNS[kind], text).forEach(function (m) {
          var overlaps = taken.some(function (span) { return m.start < span[1] && span[0] < m.end; });
          if (overlaps || !isPlausible(kind, m.text)) return;
          if ((kind === "bsn" || kind === "phone") &&
              ID_CONTEXT.test(text.slice(Math.max(0, m.start - ID_CONTEXT_REACH), m.start))) return;
          taken.push([m.start, m.end]);
          if (allows(allowed, kind, m.text)) return;
          findings.push({ kind: kind, start: m.start, end: m.end, text: m.text, shown: shown(m.text) });
        });
      });
      return findings.sort(function (a, b) { return a.start - b.start; });
    }

    return { find: find };
  })();
  window.webcarePersonalData = personalData;

  // The signature the server adds (inbox/signatures.py `signed`) is part of what the
  // citizen gets, and counts.
  function withSignature(textarea, text) {
    var signature = textarea.dataset.signature;
    var trimmed = text.replace(/\s+$/, "");
    if (!signature || !trimmed || trimmed.endsWith(signature)) return trimmed;
    return trimmed + " " + signature;
  }

  function isPrivateReply(form) {
    var privateChoice = form && form.querySelector("input[name=private]:checked");
    return Boolean(privateChoice && privateChoice.value === "on");
  }

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
      var isPrivate = isPrivateReply(form);
      return parseInt(isPrivate ? textarea.dataset.privateMaxLength : textarea.dataset.maxLength, 10);
    }
    function update() {
      var n = measure(withSignature(textarea, textarea.value));
      var max = limit();
      counter.textContent = template.replace("{n}", n).replace("{max}", max);
      counter.classList.toggle("over", n > max);
      if (sendButton) sendButton.disabled = n > max;
    }
    textarea.addEventListener("input", update);
    if (form) form.addEventListener("change", update);
  }

  // "How the citizen will see it": the reply with the signature, as plain text.
  function bindPreview(textarea) {
    var preview = document.getElementById("reply-preview");
    if (!preview) return;
    function update() {
      var text = withSignature(textarea, textarea.value);
      preview.textContent = text || preview.dataset.emptyText || "";
      preview.classList.toggle("is-empty", !text);
    }
    textarea.addEventListener("input", update);
    update();
  }

  // The warning while typing a public reply; the server's refusal is the real guard.
  function bindPersonalDataWarning(textarea) {
    var box = document.getElementById("personal-data-warning");
    var list = document.getElementById("personal-data-findings");
    var form = textarea.form;
    if (!box || !list) return;
    var shownKey = null;
    var allowed = [];
    try { allowed = JSON.parse(box.dataset.allowed || "[]"); } catch (error) { allowed = []; }
    // The reason appears with the "Send anyway" checkbox and is then required (the server
    // refuses a confirmation without one); without JavaScript both are always shown.
    var confirm = document.getElementById("id_confirmed_personal_data");
    var reasonField = box.querySelector("[data-personal-data-reason]");
    var reason = document.getElementById("id_personal_data_reason");
    function updateReason() {
      if (!confirm || !reasonField || !reason) return;
      var needed = confirm.checked && !box.hidden;
      reasonField.hidden = !confirm.checked;
      reason.required = needed;
    }
    if (confirm) confirm.addEventListener("change", updateReason);
    function update() {
      var findings = isPrivateReply(form) ? [] : personalData.find(textarea.value, allowed);
      var key = findings.map(function (f) { return f.kind + ":" + f.text; }).join("|");
      if (key === shownKey) return;
      shownKey = key;
      // Rebuilt only when what is found changes, so the live region speaks only then.
      list.replaceChildren.apply(list, findings.map(function (finding) {
        var item = document.createElement("li");
        item.dataset.kind = finding.kind;
        item.textContent = (box.dataset["label" + finding.kind.charAt(0).toUpperCase() +
          finding.kind.slice(1)] || finding.kind) + ": " + finding.shown;
        return item;
      }));
      box.hidden = findings.length === 0;
      updateReason();
    }
    textarea.addEventListener("input", update);
    if (form) form.addEventListener("change", update);
    update();
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

  // Ctrl+Enter (Cmd+Enter on a Mac) in the reply sends it, through the form's own submit
  // (so the guards above and the browser's validation run); not while it is too long.
  document.addEventListener("keydown", function (event) {
    var textarea = event.target;
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    if (!textarea.matches || !textarea.matches("textarea[data-shortcut=reply]") || !textarea.form) return;
    event.preventDefault();
    var sendButton = textarea.form.querySelector("button[type=submit]");
    if (sendButton && sendButton.disabled) return;
    textarea.form.requestSubmit(sendButton || undefined);
  });

  // The canned results by keyboard: Arrow down from the search field (or from a reply that
  // is still "/shortcut") to the first result, arrows between them, Enter picks one
  // (a button), Escape goes back to the reply.
  function cannedButtons() {
    return Array.from(document.querySelectorAll("#canned-results button[data-insert-text]"));
  }
  document.addEventListener("keydown", function (event) {
    var target = event.target;
    if (!target.matches) return;
    var buttons = cannedButtons();
    var reply = document.querySelector("textarea[data-shortcut=reply]");
    var inSearch = target.id === "canned-query" ||
      (target === reply && /^\/[\w-]*$/.test(reply.value));
    if (inSearch && event.key === "ArrowDown" && buttons.length) {
      event.preventDefault();
      buttons[0].focus();
      return;
    }
    if (target.id === "canned-query" && event.key === "Escape" && reply) {
      reply.focus();
      return;
    }
    var index = buttons.indexOf(target);
    if (index === -1) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      var next = index + (event.key === "ArrowDown" ? 1 : -1);
      if (next >= 0 && next < buttons.length) buttons[next].focus();
      else if (next < 0) (document.getElementById("canned-query") || target).focus();
    } else if (event.key === "Escape" && reply) {
      event.preventDefault();
      reply.focus();
    }
  });

  // On the conversation page, and in the inbox's third pane that htmx loads later.
  function bindComposers(root) {
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("textarea[data-max-length]").forEach(function (textarea) {
      if (textarea.dataset.composerBound) return;
      textarea.dataset.composerBound = "1";
      bindCounter(textarea);
      bindSlashSearch(textarea);
      bindPreview(textarea);
      bindPersonalDataWarning(textarea);
      if (textarea.form) bindSubmitGuard(textarea.form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bindComposers(document); });
  document.addEventListener("htmx:load", function (event) { bindComposers(event.detail && event.detail.elt); });
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

  function bindTypingSignals(root) {
    var scope = root && root.querySelectorAll ? root : document;
    scope.querySelectorAll("form.reply-form[data-typing-url]").forEach(function (form) {
      if (form.dataset.typingBound) return;
      form.dataset.typingBound = "1";
      bindTypingSignal(form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { bindTypingSignals(document); });
  document.addEventListener("htmx:load", function (event) { bindTypingSignals(event.detail && event.detail.elt); });
})();
