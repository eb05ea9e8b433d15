// The agent's settings page (templates/inbox/settings.html): ticking "desktop notification"
// asks the browser for permission, and the page says next to the checkbox what the browser
// answered, so that an agent never believes in notifications the browser blocks.
(function () {
  "use strict";

  function permission() {
    if (!("Notification" in window)) {
      return "unsupported";
    }
    return Notification.permission; // "default", "granted" or "denied"
  }

  function setUp() {
    const checkbox = document.querySelector("[data-desktop-notifications]");
    if (!checkbox) {
      return;
    }
    const status = document.getElementById(checkbox.dataset.desktopNotifications);

    function show() {
      const state = checkbox.checked ? permission() : "";
      for (const message of status.querySelectorAll("[data-permission]")) {
        message.hidden = message.dataset.permission !== state;
      }
      status.dataset.state = state;
    }

    checkbox.addEventListener("change", function () {
      if (checkbox.checked && permission() === "default") {
        Notification.requestPermission().then(show, show);
      } else {
        show();
      }
    });
    show();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
