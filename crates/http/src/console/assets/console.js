// Rapport's staff console: progressive enhancement over server-rendered
// pages. No framework, no build step. It signs in, sends what staff do to
// the JSON API with the session's CSRF token, and keeps the inbox live from
// its event stream (Server-Sent Events) with a title badge and desktop
// notifications that never show what a patient wrote.
"use strict";

(function () {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.content || "";
  const csrf = meta("rapport-csrf");
  const baseTitle = document.title;
  const announce = (words) => {
    const region = document.getElementById("announcer");
    if (region) region.textContent = words;
  };

  async function api(method, url, body) {
    const headers = { "x-csrf-token": csrf };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(url, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    try { data = await response.json(); } catch (_) { /* an empty answer */ }
    if (!response.ok) {
      const fields = (data?.errors || []).map((e) => `${e.field} ${e.reason}`).join("; ");
      const error = new Error(fields || data?.title || `The server answered ${response.status}`);
      error.code = data?.code;
      throw error;
    }
    return data;
  }

  // --- Sign-in (with the second factor when the account has one) ---------
  const signIn = document.getElementById("sign-in-form");
  if (signIn) {
    signIn.addEventListener("submit", async (event) => {
      event.preventDefault();
      const error = document.getElementById("sign-in-error");
      const codeRow = document.getElementById("code-row");
      const button = signIn.querySelector("button[type=submit]");
      const body = { email: signIn.email.value, password: signIn.password.value };
      if (!codeRow.hidden && signIn.code.value) body.code = signIn.code.value.trim();
      button.disabled = true;
      error.textContent = "";
      try {
        await api("POST", "/api/v1/auth/login", body);
        window.location.assign("/console");
      } catch (e) {
        if (e.code === "mfa_required") {
          codeRow.hidden = false;
          signIn.code.focus();
          error.textContent = codeRow.dataset.asked ? "That code did not work. Try the current one." : "Enter the code from your authenticator app.";
          codeRow.dataset.asked = "1";
        } else if (e.code === "mfa_enrolment_required") {
          window.location.assign("/console");
        } else {
          error.textContent = e.message;
        }
      } finally {
        button.disabled = false;
      }
    });
    return;
  }

  // --- Sign-out ------------------------------------------------------------
  document.getElementById("sign-out")?.addEventListener("click", async () => {
    try { await api("POST", "/api/v1/auth/logout"); } finally { window.location.assign("/console/sign-in"); }
  });

  // --- Forms that act through the API -----------------------------------------
  // <form data-api="URL">: its named fields go as a JSON body; empty ones are
  // left out (select "" is null), datetime-local fields become instants.
  function bodyOf(form) {
    const body = {};
    for (const field of form.elements) {
      if (!field.name) continue;
      if (field.tagName === "SELECT") body[field.name] = field.value || null;
      else if (field.value.trim() === "") continue;
      else if (field.dataset.instant !== undefined) body[field.name] = new Date(field.value).toISOString();
      else body[field.name] = field.value;
    }
    return body;
  }

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    const error = form.querySelector(".error");
    const button = form.querySelector("button[type=submit]");
    if (button) button.disabled = true;
    if (error) error.textContent = "";
    try {
      const answer = await api("POST", form.dataset.api, bodyOf(form));
      // A page without live parts shows the change by loading again.
      if (form.dataset.reload !== undefined) {
        window.location.reload();
        return;
      }
      if (form.dataset.reset !== undefined) form.reset();
      updateSegments();
      // Linking may fold the conversation into the patient's: follow it.
      if (form.dataset.api.endsWith("/link") && answer?.id) {
        const url = new URL(window.location.href);
        url.searchParams.set("c", answer.id);
        window.history.replaceState(null, "", url);
      }
      await refresh(true);
      announce("Done.");
    } catch (e) {
      if (error) error.textContent = e.message; else window.alert(e.message);
    } finally {
      if (button) button.disabled = false;
    }
  });

  document.addEventListener("change", (event) => {
    if (event.target.matches("[data-submit-on-change]")) event.target.form.requestSubmit();
    // A canned reply, already filled for this patient, goes into the reply box to edit.
    if (event.target.matches("select[data-fills]") && event.target.value) {
      const area = document.getElementById(event.target.dataset.fills);
      area.value = event.target.value;
      event.target.value = "";
      updateSegments();
      area.focus();
    }
  });

  // --- SMS segment counter ---------------------------------------------------
  // GSM 03.38's basic set (plus its extension table, two septets each):
  // 160 characters in one segment, 153 per part when split; anything
  // outside it sends as UCS-2: 70, then 67 per part.
  const GSM = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
  const GSM_EXT = "^{}\\[~]|€\f";
  function segments(text) {
    let septets = 0;
    let gsm = true;
    for (const ch of text) {
      if (GSM.includes(ch)) septets += 1;
      else if (GSM_EXT.includes(ch)) septets += 2;
      else { gsm = false; break; }
    }
    if (gsm) return { chars: septets, count: septets === 0 ? 0 : septets <= 160 ? 1 : Math.ceil(septets / 153), unicode: false };
    const units = [...text].reduce((n, ch) => n + (ch.codePointAt(0) > 0xffff ? 2 : 1), 0);
    return { chars: units, count: units <= 70 ? 1 : Math.ceil(units / 67), unicode: true };
  }
  function updateSegments() {
    for (const area of document.querySelectorAll("textarea[data-segments]")) {
      const out = document.getElementById(area.dataset.segments);
      if (!out) continue;
      const s = segments(area.value);
      out.textContent = `${area.value.length} characters · ${s.count} segment${s.count === 1 ? "" : "s"}${s.unicode ? " (Unicode)" : ""}`;
    }
  }
  document.addEventListener("input", (event) => {
    if (event.target.matches("textarea[data-segments]")) updateSegments();
  });
  updateSegments();

  // --- The live inbox ----------------------------------------------------------
  function setBadge(unread) {
    const badge = document.getElementById("unread-badge");
    if (badge) {
      badge.textContent = String(unread);
      badge.dataset.count = String(unread);
      badge.hidden = unread === 0;
    }
    document.title = unread > 0 ? `(${unread}) ${baseTitle}` : baseTitle;
  }

  // Swaps in the list and, unless staff are typing in it, the thread, from
  // a fresh copy of this page.
  async function refresh(thread) {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const list = fresh.getElementById("conversation-list");
    if (list) document.getElementById("conversation-list")?.replaceWith(list);
    const current = document.getElementById("thread");
    const next = fresh.getElementById("thread");
    if (current && next) {
      const typing = [...current.querySelectorAll("textarea")].some((t) => t.value.trim() !== "");
      if (thread && !typing) current.replaceWith(next);
      else {
        const entries = next.querySelector("#entries");
        if (entries) current.querySelector("#entries")?.replaceWith(entries);
      }
    }
    setBadge(Number(fresh.body.dataset.unread || 0));
    updateSegments();
    markRead();
  }

  async function markRead() {
    const thread = document.getElementById("thread");
    const id = thread?.dataset.conversation;
    if (!id || Number(thread.dataset.unread || 0) === 0 || document.hidden || !meta("rapport-user")) return;
    thread.dataset.unread = "0";
    try {
      await api("POST", `/api/v1/organizations/${meta("rapport-org")}/conversations/${id}/read`);
      await refreshListOnly();
    } catch (_) { /* the next event tries again */ }
  }

  async function refreshListOnly() {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
    const list = fresh.getElementById("conversation-list");
    if (list) document.getElementById("conversation-list")?.replaceWith(list);
    setBadge(Number(fresh.body.dataset.unread || 0));
  }

  // Desktop notifications: asked once, from a click (browsers require one).
  const ask = document.getElementById("enable-notifications");
  if (ask && "Notification" in window && Notification.permission === "default") {
    ask.hidden = false;
    ask.addEventListener("click", async () => {
      await Notification.requestPermission();
      ask.hidden = true;
    });
  }
  function notify(conversation) {
    document.body.dataset.notified = String(Number(document.body.dataset.notified || 0) + 1);
    announce("A new text arrived.");
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    // Words a passer-by may read: no name, no number, nothing the patient wrote.
    const note = new Notification("Rapport: a new text", { body: "A patient texted the practice.", tag: conversation });
    document.body.dataset.desktopNotified = String(Number(document.body.dataset.desktopNotified || 0) + 1);
    note.onclick = () => {
      window.focus();
      const url = new URL(window.location.href);
      url.searchParams.set("c", conversation);
      window.location.assign(url);
    };
  }

  const live = document.body.dataset.live;
  if (live && "EventSource" in window) {
    setBadge(Number(document.body.dataset.unread || 0));
    markRead();
    document.addEventListener("visibilitychange", markRead);
    const source = new EventSource(live, { withCredentials: true });
    source.addEventListener("ready", () => document.body.setAttribute("data-live-ready", "1"));
    source.addEventListener("inbox", async (event) => {
      const data = JSON.parse(event.data);
      const open = document.getElementById("thread")?.dataset.conversation === data.conversation_id;
      if (data.kind === "text") notify(data.conversation_id);
      await refresh(open);
    });
    source.addEventListener("lagged", () => refresh(false));
    // The server ends the stream when the session may no longer listen
    // (signed out, idle, expired); the reconnect is refused: sign in again.
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) window.location.assign("/console/sign-in");
    });
  }
})();
