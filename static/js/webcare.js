// Small enhancements; every page works without them.
(function () {
  "use strict";

  // Live character counter for the reply composer (the platform's limit).
  function bindCounter(textarea) {
    var counter = document.getElementById("reply-counter");
    var max = parseInt(textarea.dataset.maxLength, 10);
    if (!counter || !max) return;
    var template = document.documentElement.lang === "en"
      ? "{n} of {max} characters"
      : "{n} van {max} tekens";
    function update() {
      var n = textarea.value.length;
      counter.textContent = template.replace("{n}", n).replace("{max}", max);
      counter.classList.toggle("over", n > max);
    }
    textarea.addEventListener("input", update);
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
  function bindInsertText(button) {
    button.addEventListener("click", function () {
      var textarea = document.getElementById(button.dataset.target);
      if (!textarea) return;
      textarea.value = button.dataset.insertText;
      textarea.dispatchEvent(new Event("input"));
      textarea.focus();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("textarea[data-max-length]").forEach(bindCounter);
    document.querySelectorAll("button[data-insert-text]").forEach(bindInsertText);
    document.querySelectorAll("form.reply-form").forEach(bindSubmitGuard);
  });
})();
