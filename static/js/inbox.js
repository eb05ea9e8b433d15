// The inbox screen (templates/inbox/inbox.html). Everything works without this file; it
// only fits the layout better:
// - on a wide screen the panes fill the window exactly below the header, whose height
//   depends on the language and the window (static/css/inbox.css, --inbox-top);
// - on a narrow one the queues and filters fold behind a disclosure button, so that the
//   list is in view, and a conversation opened from the list scrolls into view.
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 64rem)");
  // Kept across htmx swaps of the sidebar (a queue or a filter replaces it).
  var sidebarOpen = false;

  function applySidebar(sidebar) {
    var toggle = sidebar.querySelector("#inbox-sidebar-toggle");
    if (!toggle) return;
    var collapsed = NARROW.matches && !sidebarOpen;
    toggle.hidden = !NARROW.matches;
    toggle.setAttribute("aria-expanded", collapsed ? "false" : "true");
    if (collapsed) {
      sidebar.setAttribute("data-collapsed", "");
    } else {
      sidebar.removeAttribute("data-collapsed");
    }
  }

  function applyAll() {
    document.querySelectorAll("#inbox-sidebar").forEach(applySidebar);
    var main = document.querySelector(".inbox-main");
    if (main) {
      var top = main.getBoundingClientRect().top + window.scrollY;
      document.documentElement.style.setProperty("--inbox-top", top + "px");
    }
  }

  document.addEventListener("click", function (event) {
    var toggle = event.target.closest && event.target.closest("#inbox-sidebar-toggle");
    if (!toggle) return;
    sidebarOpen = toggle.getAttribute("aria-expanded") !== "true";
    applyAll();
  });

  // The first page load and every swap (htmx:load fires for new content, also after the
  // back button brings the page back).
  document.addEventListener("DOMContentLoaded", applyAll);
  document.addEventListener("htmx:load", function (event) {
    if (event.target.querySelector && (event.target.id === "inbox-sidebar" ||
        event.target.querySelector("#inbox-sidebar"))) {
      applyAll();
    }
  });
  if (NARROW.addEventListener) NARROW.addEventListener("change", applyAll);
  window.addEventListener("resize", applyAll);

  document.addEventListener("htmx:afterSwap", function (event) {
    var pane = event.detail && event.detail.target;
    if (!pane || pane.id !== "conversation-pane" || !NARROW.matches) return;
    var fresh = document.getElementById("conversation-pane");
    if (fresh && fresh.getBoundingClientRect().top > window.innerHeight / 2) {
      fresh.scrollIntoView({ block: "start" });
    }
  });
})();
