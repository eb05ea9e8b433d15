// Keyboard shortcuts (templates/inbox/_shortcuts_dialog.html lists them): j/k move through
// the conversation list, Enter opens (the row's own link), r reply, a assign, e resolve,
// / search, ? this list, Esc closes it. Shortcuts find their targets by data attributes
// (data-conversation-row, data-conversation-link, data-shortcut="…"), so each screen only
// marks its controls. They never fire while the agent types in a field or holds Ctrl, Alt or
// Meta. WCAG 2.1.4: single-key shortcuts can be turned off in the dialog; the choice is kept
// in localStorage under "webcare.shortcuts" ("off"), per browser.
(function () {
  "use strict";

  var STORAGE_KEY = "webcare.shortcuts";
  var returnFocusTo = null;

  function shortcutsEnabled() {
    try {
      return window.localStorage.getItem(STORAGE_KEY) !== "off";
    } catch (error) {
      return true;  // storage blocked: the default, on
    }
  }

  function setShortcutsEnabled(enabled) {
    try {
      if (enabled) window.localStorage.removeItem(STORAGE_KEY);
      else window.localStorage.setItem(STORAGE_KEY, "off");
    } catch (error) { /* not kept, but applies to this page */ }
    document.documentElement.dataset.shortcuts = enabled ? "on" : "off";
  }

  var NOT_TYPING_INPUTS = ["button", "checkbox", "radio", "submit", "reset", "image", "file"];

  function isTyping(target) {
    if (!target || !target.closest) return false;
    if (target.isContentEditable) return true;
    var field = target.closest("input, textarea, select, [contenteditable]");
    if (!field) return false;
    if (field.matches("[contenteditable='false']")) return false;
    if (field.tagName === "INPUT") {
      return NOT_TYPING_INPUTS.indexOf((field.type || "text").toLowerCase()) < 0;
    }
    return true;
  }

  function isShown(element) {
    return !!(element && element.getClientRects().length) && !element.closest("[hidden]");
  }

  function firstShown(selector) {
    var all = document.querySelectorAll(selector);
    for (var i = 0; i < all.length; i += 1) {
      if (isShown(all[i])) return all[i];
    }
    return null;
  }

  // --- the conversation list ----------------------------------------------------------------
  function rowLink(row) {
    return row.querySelector("a[data-conversation-link]") || row.querySelector("a[href]");
  }

  function moveInList(step) {
    var rows = Array.prototype.filter.call(
      document.querySelectorAll("[data-conversation-row]"), isShown
    );
    if (!rows.length) return false;
    var current = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("[data-conversation-row]")
      : null;
    if (!current) {
      // From the conversation that is open, if it is in the list; else from the top.
      var pane = document.querySelector("#conversation-pane[data-conversation-id]");
      current = pane
        ? rows.filter(function (row) {
          return row.dataset.conversationId === pane.dataset.conversationId;
        })[0] || null
        : null;
    }
    var index = rows.indexOf(current);
    var next = index < 0 ? rows[step > 0 ? 0 : rows.length - 1]
      : rows[Math.min(Math.max(index + step, 0), rows.length - 1)];
    var link = rowLink(next);
    if (!link) return false;
    link.focus();
    link.scrollIntoView({ block: "nearest" });
    return true;
  }

  // --- actions --------------------------------------------------------------------------------
  function focusTarget(name) {
    var target = firstShown('[data-shortcut="' + name + '"]');
    if (!target) return false;
    target.focus();
    if (typeof target.select === "function" && name === "search") target.select();
    target.scrollIntoView({ block: "nearest" });
    return true;
  }

  // A button (or link) is pressed; a field (e.g. a colleague picker) gets focus.
  function activateTarget(name) {
    var target = firstShown('[data-shortcut="' + name + '"]');
    if (!target || target.disabled) return false;
    if (target.matches("button, a[href], input[type=submit], input[type=button]")) {
      target.focus();
      target.click();
    } else {
      target.focus();
    }
    return true;
  }

  // --- the dialog ---------------------------------------------------------------------------
  function dialog() {
    return document.getElementById("shortcuts-dialog");
  }

  function openDialog() {
    var element = dialog();
    if (!element || element.open || typeof element.showModal !== "function") return false;
    returnFocusTo = document.activeElement;
    element.showModal();
    var toggle = document.getElementById("shortcuts-enabled");
    if (toggle) toggle.checked = shortcutsEnabled();
    var close = element.querySelector("[data-shortcuts-close]");
    if (close) close.focus();
    return true;
  }

  // Esc in a text field leaves it (the text stays), so that the shortcuts work again without
  // the mouse. Inside a dialog Esc closes the dialog instead, natively.
  function leaveField(event) {
    var target = event.target;
    if (!shortcutsEnabled() || !isTyping(target) || target.closest("dialog")) return;
    // A select's open list of options takes Esc itself; the page only gets Esc once the
    // list is closed, and then Esc leaves the select like any other field.
    target.blur();
  }

  var ACTIONS = {
    j: function () { return moveInList(1); },
    k: function () { return moveInList(-1); },
    r: function () { return focusTarget("reply"); },
    a: function () { return activateTarget("assign"); },
    e: function () { return activateTarget("resolve"); },
    "/": function () { return focusTarget("search"); },
    "?": openDialog
  };

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.key === "Escape") {
      leaveField(event);
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(ACTIONS, event.key)) return;
    if (!shortcutsEnabled() || isTyping(event.target)) return;
    var open = dialog();
    if (open && open.open) return;
    // Handled: the key must not also type into the field that now has focus.
    if (ACTIONS[event.key]()) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-shortcuts-open]");
    if (!opener) return;
    event.preventDefault();
    openDialog();
  });

  document.addEventListener("DOMContentLoaded", function () {
    var element = dialog();
    setShortcutsEnabled(shortcutsEnabled());
    document.querySelectorAll("[data-shortcuts-hint]").forEach(function (hint) {
      hint.hidden = false;
    });
    if (!element) return;
    element.addEventListener("close", function () {
      // Back to where the agent was, as if the dialog had never been there.
      if (returnFocusTo && document.contains(returnFocusTo) && returnFocusTo.focus) {
        returnFocusTo.focus();
      }
      returnFocusTo = null;
    });
    var toggle = document.getElementById("shortcuts-enabled");
    if (toggle) {
      toggle.checked = shortcutsEnabled();
      toggle.addEventListener("change", function () { setShortcutsEnabled(toggle.checked); });
    }
  });
})();
