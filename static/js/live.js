// Live updates (docs/architecture.md, "Live updates"): every 1.5 s while the tab is visible ask
// the server whether anything changed since the cursor it gave us last
// (inbox/views/live.py). 204: nothing. 200: refresh the panes that show changed
// conversations (htmx "webcare:refresh"), put the waiting count in the tab title, announce
// what is new in #live-announcer, and beep or notify as the agent chose in their settings
// (data-notify-* on <body>). Texts come translated from templates/inbox/_shortcuts_dialog.html.
(function () {
  "use strict";

  // 1.5 s plus the request itself keeps "visible within 2 seconds" in the worst case.
  var POLL_MS = 1500;
  var MAX_BACKOFF_MS = 30000;
  // Only with desktop notifications on (and allowed): a hidden tab still learns of
  // assignments and mentions, slowly; otherwise a hidden tab does not poll at all.
  var HIDDEN_POLL_MS = 30000;
  // A change to a conversation that is not on the agent's screen and cannot have joined
  // their queues still reloads the list, but at most this often: with 50 agents at work
  // nearly every poll reports some change, and reloading every list each time made the
  // list reloads a third of all requests (the load test, docs/architecture.md).
  var LIST_CATCH_UP_MS = 15000;
  var TITLE_COUNT = /^\(\d+\) /;

  // --- data-poll-visible-only: htmx polls that pause while the tab is hidden -----------------
  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail && event.detail.elt;
    if (document.hidden && elt && elt.hasAttribute && elt.hasAttribute("data-poll-visible-only")) {
      event.preventDefault();
    }
  });

  // Requests the agent did not cause (timers, "load", our own refreshes) say so: they do not
  // count as activity for the auto-away sweep (webcare/middleware.py, AgentSeenMiddleware).
  document.addEventListener("htmx:configRequest", function (event) {
    var trigger = event.detail && event.detail.triggeringEvent;
    var background = !trigger || trigger.type === "load" || trigger.type === "webcare:refresh";
    if (background) event.detail.headers["X-Webcare-Poll"] = "1";
  });

  function strings() {
    var element = document.getElementById("live-strings");
    return element ? element.dataset : {};
  }

  function counted(count, one, many) {
    if (!count) return "";
    return count === 1 ? one || "" : (many || "").replace("{n}", String(count));
  }

  var titleCount = 0;

  function setTitleCount(count) {
    titleCount = count || 0;
    var base = document.title.replace(TITLE_COUNT, "");
    document.title = titleCount > 0 ? "(" + titleCount + ") " + base : base;
  }

  function announce(text) {
    var region = document.getElementById("live-announcer");
    if (!region || !text) return;
    // Emptied first, so that the same words twice in a row are spoken twice.
    region.textContent = "";
    window.setTimeout(function () { region.textContent = text; }, 100);
  }

  // --- sound and desktop notifications --------------------------------------------------------
  var audioContext = null;

  // Browsers let a page play sound only after the person interacted with it: the context is
  // made on the first key press or click, and then it may beep later by itself.
  function prepareAudio() {
    if (audioContext || !(window.AudioContext || window.webkitAudioContext)) return;
    try {
      audioContext = new (window.AudioContext || window.webkitAudioContext)();
    } catch (error) {
      audioContext = null;
    }
  }
  document.addEventListener("keydown", prepareAudio, { once: true });
  document.addEventListener("pointerdown", prepareAudio, { once: true });

  function beep() {
    if (!audioContext) return;
    if (audioContext.state === "suspended") audioContext.resume();
    var oscillator = audioContext.createOscillator();
    var gain = audioContext.createGain();
    oscillator.type = "sine";
    oscillator.frequency.value = 880;
    gain.gain.setValueAtTime(0.0001, audioContext.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.2, audioContext.currentTime + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, audioContext.currentTime + 0.25);
    oscillator.connect(gain).connect(audioContext.destination);
    oscillator.start();
    oscillator.stop(audioContext.currentTime + 0.3);
  }

  function desktopNotificationsAllowed() {
    return document.body.dataset.notifyDesktop === "1" &&
      "Notification" in window && window.Notification.permission === "granted";
  }

  // Permission is asked on the settings page, after a click there; never here.
  function notifyDesktop(text) {
    if (!desktopNotificationsAllowed()) return;
    try {
      var notification = new window.Notification(document.title.replace(TITLE_COUNT, ""), {
        body: text, tag: "webcare-live"
      });
      notification.onclick = function () { window.focus(); notification.close(); };
    } catch (error) { /* some browsers allow notifications only from a service worker */ }
  }

  // --- refreshing the panes ---------------------------------------------------------------
  // Changes seen while the tab was hidden are shown when it is visible again.
  var pending = { list: false, listNow: false, all: false, ids: {}, presence: false };
  var lastListRefresh = Date.now();

  function listedIds() {
    var listed = {};
    document.querySelectorAll("#inbox-list-pane [data-conversation-id]").forEach(function (row) {
      listed[String(row.dataset.conversationId)] = true;
    });
    return listed;
  }

  function openConversationId() {
    var holder = document.querySelector(
      "#conversation-pane[data-conversation-id], #thread[data-conversation-id]"
    );
    if (!holder) {
      var thread = document.getElementById("thread");
      holder = thread && thread.closest("[data-conversation-id]");
    }
    return holder ? String(holder.dataset.conversationId) : null;
  }

  function trigger(id) {
    var element = document.getElementById(id);
    if (element && window.htmx) window.htmx.trigger(element, "webcare:refresh");
  }

  function remember(data) {
    var ids = data.conversation_ids;
    if (ids === null) {
      pending.all = true;
      pending.list = true;
      pending.listNow = true;
    } else if (ids.length) {
      pending.list = true;
      var listed = listedIds();
      ids.forEach(function (id) {
        pending.ids[String(id)] = true;
        if (listed[String(id)]) pending.listNow = true;
      });
      // Something may have joined the agent's queues: a conversation assigned to them, a
      // citizen writing in one of theirs or in an unassigned one, a colleague's mention.
      if (data.assigned_to_you || data.new_messages || data.new_mentions) pending.listNow = true;
    }
    if (data.presence_changed) pending.presence = true;
  }

  function refreshPanes() {
    if (document.hidden) return;
    var listDue = pending.list &&
      (pending.listNow || Date.now() - lastListRefresh >= LIST_CATCH_UP_MS);
    if (listDue) trigger("inbox-list-pane");
    var openId = openConversationId();
    var openChanged = pending.all || (openId ? pending.ids[openId] : pending.list);
    if (openChanged) {
      trigger("thread");
      trigger("conversation-state");
    }
    if (pending.presence) trigger("team-presence");
    // A list change put off for later stays pending until its catch-up time.
    var keepList = pending.list && !listDue;
    pending = { list: keepList, listNow: false, all: false, ids: {}, presence: false };
  }

  // Whatever reloaded the list (a live update, the agent's own action), it is fresh now.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (target && target.id === "inbox-list-pane") {
      lastListRefresh = Date.now();
      pending.list = false;
    }
  });

  // --- what the agent hears -----------------------------------------------------------------
  function tell(data) {
    var text = strings();
    var body = document.body.dataset;
    var messages = counted(data.new_messages, text.messageOne, text.messageMany);
    var assigned = counted(data.assigned_to_you, text.assignedOne, text.assignedMany);
    var mentions = counted(data.new_mentions, text.mentionOne, text.mentionMany);
    var spoken = [assigned, mentions, messages].filter(Boolean).join(". ");
    if (spoken) announce(spoken);
    // Sound and desktop notifications are for what is the agent's own: an assignment, a
    // mention; each as chosen in their settings.
    var noteworthy = [
      body.notifyAssignment === "1" ? assigned : "",
      body.notifyMention === "1" ? mentions : ""
    ].filter(Boolean).join(". ");
    if (!noteworthy) return;
    if (body.notifySound === "1") beep();
    notifyDesktop(noteworthy);
  }

  // --- connection status --------------------------------------------------------------------
  function showStatus(kind) {
    var status = document.getElementById("live-status");
    if (!status) return;
    var text = strings();
    status.dataset.state = kind || "";
    status.textContent = "";
    if (kind === "connection-lost") {
      status.textContent = text.connectionLost || "";
    } else if (kind === "logged-out") {
      status.appendChild(document.createTextNode((text.loggedOut || "") + " "));
      var link = document.createElement("a");
      link.href = (text.loginUrl || "/login/") + "?next=" +
        encodeURIComponent(window.location.pathname + window.location.search);
      link.textContent = text.logIn || "";
      status.appendChild(link);
    }
  }

  // --- the poll loop ------------------------------------------------------------------------
  var url = null;
  var cursor = null;
  var timer = null;
  var inFlight = false;
  var stopped = false;
  var failures = 0;

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = null;
    if (stopped) return;
    if (document.hidden) {
      if (!desktopNotificationsAllowed()) return;  // visibilitychange starts it again
      delay = Math.max(delay, HIDDEN_POLL_MS);
    }
    timer = window.setTimeout(poll, delay);
  }

  function backOff() {
    failures += 1;
    showStatus("connection-lost");
    // 2 s, 4, 8, 16, then every 30 s: a server that is back is noticed soon, a long outage
    // is not hammered by every open tab.
    schedule(Math.min(POLL_MS * Math.pow(2, failures - 1), MAX_BACKOFF_MS));
  }

  function recovered() {
    if (failures) showStatus("");
    failures = 0;
  }

  function poll() {
    if (inFlight || stopped) return;
    inFlight = true;
    var request = url + (cursor ? (url.indexOf("?") < 0 ? "?" : "&") +
      "since=" + encodeURIComponent(cursor) : "");
    window.fetch(request, {
      credentials: "same-origin",
      cache: "no-store",
      // A session that ended answers with a redirect to the login page: see it, not follow it.
      redirect: "manual",
      // Marks a background poll, which is no sign that the agent is at their desk (for the
      // presence sweep's "last seen", webcare/middleware.py AgentSeenMiddleware).
      headers: { Accept: "application/json", "X-Webcare-Poll": "1" }
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 401 ||
          response.status === 403) {
        stopped = true;
        showStatus("logged-out");
        return null;
      }
      if (response.status === 204) {
        recovered();
        refreshPanes();  // a list change put off earlier may be due now
        return null;
      }
      if (!response.ok) throw new Error("live changes: HTTP " + response.status);
      return response.json().then(function (data) {
        recovered();
        var first = cursor === null;
        cursor = data.cursor;
        // Where this page's picture of the inbox ends (handy in tests and when debugging).
        document.body.dataset.liveCursor = cursor;
        setTitleCount(data.waiting);
        if (first) return;  // the page was just rendered: nothing is news yet
        remember(data);
        refreshPanes();
        tell(data);
      });
    }).then(function () {
      inFlight = false;
      schedule(POLL_MS);
    }, function () {
      inFlight = false;
      if (!stopped) backOff();
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!url || stopped) return;
    if (document.hidden) {
      schedule(HIDDEN_POLL_MS);
    } else {
      refreshPanes();
      window.clearTimeout(timer);
      poll();
    }
  });

  // A page htmx swapped in may carry its own <title>; keep the count in front of it.
  document.addEventListener("htmx:afterSettle", function () {
    if (titleCount) setTitleCount(titleCount);
  });

  document.addEventListener("DOMContentLoaded", function () {
    url = document.body.dataset.liveUrl;
    if (!url || !window.fetch) return;
    poll();
  });
})();
