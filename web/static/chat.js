/*
 * The privacy-assistant chat widget: the source of the one script a website includes,
 *
 *   <script src="<back office>/static/widget.js" data-socket-url="https://..." data-language="nl"></script>
 *
 * `make deps` bundles this file with the socket.io client (npm, pinned) into web/static/widget.js
 * (esbuild; git-ignored, never copied by hand). The widget loads its style (chat.css) from beside
 * the script. Where it connects: data-socket-url when given, else window.ASSISTANT_CONFIG.socketUrl,
 * else the script's own origin (a back office whose address also reaches Rasa's /socket.io/).
 * Its language: data-language when given, else the page's <html lang> (followed as it changes).
 * Its words: the back office's text catalogue (text-catalogue/texts/<language>.yml, section `widget`, with the
 * company's name of COMPANY_NAME), fetched from GET <script's origin>/widget/texts before the widget
 * shows; a language the catalogue lacks gets English.
 * Talks to Rasa Open Source 3.6 through its socket.io channel (connectors.website.WebsiteInput):
 *
 *   client -> server  "session_request"  {session_id: <stored id or null>, resume_secret: <stored secret or null>}
 *   server -> client  "session_secret"   {session_id, resume_secret}  (just before the confirmation)
 *   server -> client  "session_confirm"  "<id>"  (or {session_id: "<id>"})
 *   client -> server  "user_uttered"     {message, session_id, customData: {language, session_token?}}
 *   server -> client  "bot_uttered"      {text, quick_replies|buttons, attachment}
 *
 * The conversation lasts for the browser tab's session: its id, its resume secret and what was said
 * are kept in sessionStorage, so a reload shows it again and goes on with the same id; a dropped
 * connection reconnects by itself and asks for the same id. The server takes an id back only with
 * its resume secret (the id alone is no secret: staff and logs see it), and otherwise starts a new
 * conversation.
 *
 * Privacy: the socket is only opened when the visitor opens the chat (or calls
 * volteraChat.send), so just visiting the page does not start a conversation.
 *
 * Identity: when the website's visitor is logged in (the demo login in site.js keeps a signed,
 * expiring session token in sessionStorage "voltera_session"), the widget connects with
 * io(url, {auth: {token}}) and sends the same token in every user_uttered's customData as
 * `session_token`; the Rasa channel checks it and ties the conversation to that customer.
 * Logging in or out calls volteraChat.resetSession(): a new conversation starts.
 *
 * Test hooks: data-testid="chat-launcher" | "chat-input" | "chat-send" |
 * "bot-message" (class "bot") | "user-message" | "chat-button" |
 * "chat-offline" | "typing-indicator" | "chat-panel" | "chat-example" (an example question of the
 * empty chat: a button that sends it; the examples go once the conversation has a message);
 * window.volteraChat.
 */
import { io } from "socket.io-client";

(function () {
  "use strict";

  if (window.volteraChat) return; // loaded twice: keep the first instance

  var SCRIPT = document.currentScript; // this script's tag: its data-* settings and where it came from

  var SESSION_KEY = "voltera_chat_session";
  var RESUME_KEY = "voltera_chat_resume"; // the session's resume secret, which a rejoin must show with the id
  var LOGIN_KEY = "voltera_session"; // the website's login (site.js): {token, customer_id, name, expires_at}
  var LOG_KEY = "voltera_chat_log"; // what was said in this tab's conversation, shown again after a reload
  var OPEN_KEY = "voltera_chat_open";
  var MAX_KEPT_MESSAGES = 100;
  var MAX_KEPT_CHARS = 200000;
  var SOCKET_PATH = "/socket.io/";
  var SESSION_CONFIRM_TIMEOUT_MS = 5000;
  var TYPING_TIMEOUT_MS = 30000;

  var TEXTS = null; // the widget's words by language, from the back office's text catalogue (GET /widget/texts)
  var TEXTS_PATH = "/widget/texts";

  /* ------------------------------------------------------------------ */
  /* Config, language, storage                                           */
  /* ------------------------------------------------------------------ */

  function scriptAttr(name) {
    var v = SCRIPT && SCRIPT.getAttribute ? SCRIPT.getAttribute(name) : null;
    return typeof v === "string" && v.trim() ? v.trim() : null;
  }

  function scriptOrigin() {
    try {
      if (SCRIPT && SCRIPT.src) return new URL(SCRIPT.src, document.baseURI).origin;
    } catch (e) { /* not a URL: fall back to the page's origin */ }
    return window.location.origin;
  }

  function nonEmpty(v) {
    return typeof v === "string" && v ? v : null;
  }

  function readConfig() {
    var c = window.ASSISTANT_CONFIG;
    if (!c || typeof c !== "object") c = {};
    return {
      socketUrl: scriptAttr("data-socket-url") || nonEmpty(c.socketUrl) || scriptOrigin(),
      socketPath: scriptAttr("data-socket-path") || nonEmpty(c.socketPath) || SOCKET_PATH,
      token: nonEmpty(c.token) // optional JWT (Rasa jwt_key)
    };
  }

  /* The language the conversation is in: the script's data-language, else the page's. */
  function pageLang() {
    return scriptAttr("data-language") || document.documentElement.lang || "";
  }

  /* The widget's style, from beside the script (a page needs no <link> of its own). */
  function loadStyle() {
    if (!SCRIPT || !SCRIPT.src || document.querySelector("link[data-voltera-chat]")) return;
    var link = document.createElement("link");
    link.rel = "stylesheet";
    link.href = new URL("chat.css", SCRIPT.src).href;
    link.setAttribute("data-voltera-chat", "");
    document.head.appendChild(link);
  }

  function uiLang() {
    var lang = pageLang().toLowerCase().slice(0, 2);
    return Object.prototype.hasOwnProperty.call(TEXTS, lang) ? lang : "en";
  }

  function t(key) {
    var dict = TEXTS[uiLang()];
    return Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : TEXTS.en[key];
  }

  /* The words, once: the widget is built when they are here (without them it does not show). */
  function loadTexts() {
    return fetch(new URL(TEXTS_PATH, scriptOrigin()).href, { credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (!answer.ok) throw new Error("the widget's texts: " + answer.status);
        return answer.json();
      })
      .then(function (found) { TEXTS = found; });
  }

  function loadSessionId() {
    try {
      var v = window.sessionStorage.getItem(SESSION_KEY);
      return v ? v : null;
    } catch (e) {
      return null;
    }
  }

  function loadResumeSecret() {
    try {
      return window.sessionStorage.getItem(RESUME_KEY) || null;
    } catch (e) {
      return null;
    }
  }

  function saveSession(id, secret) {
    try {
      window.sessionStorage.setItem(SESSION_KEY, id);
      if (secret) window.sessionStorage.setItem(RESUME_KEY, secret); else window.sessionStorage.removeItem(RESUME_KEY);
    } catch (e) { /* storage blocked: the session lasts for this page only */ }
  }

  function forgetSessionId() {
    try {
      window.sessionStorage.removeItem(SESSION_KEY);
      window.sessionStorage.removeItem(RESUME_KEY);
      window.sessionStorage.removeItem(LOG_KEY);
    } catch (e) { /* ignore */ }
  }

  /* What was said so far in this tab: [{who: "user", text} | {who: "bot", data}], the newest kept. */
  function loadTranscript() {
    try {
      var kept = JSON.parse(window.sessionStorage.getItem(LOG_KEY) || "[]");
      return Array.isArray(kept) ? kept.slice(-MAX_KEPT_MESSAGES) : [];
    } catch (e) {
      return [];
    }
  }

  function keepInTranscript(entry) {
    try {
      var kept = loadTranscript().concat([entry]).slice(-MAX_KEPT_MESSAGES);
      var text = JSON.stringify(kept);
      while (text.length > MAX_KEPT_CHARS && kept.length > 1) {
        kept.shift();
        text = JSON.stringify(kept);
      }
      window.sessionStorage.setItem(LOG_KEY, text);
    } catch (e) { /* storage blocked or full: a reload starts the transcript afresh */ }
  }

  function keepOpen(isOpen) {
    try {
      if (isOpen) window.sessionStorage.setItem(OPEN_KEY, "1"); else window.sessionStorage.removeItem(OPEN_KEY);
    } catch (e) { /* ignore */ }
  }

  function wasOpen() {
    try {
      return window.sessionStorage.getItem(OPEN_KEY) === "1";
    } catch (e) {
      return false;
    }
  }

  /* The website's signed session token while the visitor is logged in (and it has not expired). */
  function loginToken() {
    try {
      var s = JSON.parse(window.sessionStorage.getItem(LOGIN_KEY) || "null");
      if (s && typeof s.token === "string" && s.token && Date.parse(s.expires_at) > Date.now()) return s.token;
    } catch (e) { /* storage blocked or garbage */ }
    return null;
  }

  /* ------------------------------------------------------------------ */
  /* DOM helpers                                                          */
  /* ------------------------------------------------------------------ */

  var SVG_NS = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) {
      for (var k in attrs) {
        if (Object.prototype.hasOwnProperty.call(attrs, k) && attrs[k] !== null && attrs[k] !== undefined) {
          if (k === "className") node.className = attrs[k];
          else node.setAttribute(k, attrs[k]);
        }
      }
    }
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function icon(pathD, cls) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    if (cls) svg.setAttribute("class", cls);
    var p = document.createElementNS(SVG_NS, "path");
    p.setAttribute("d", pathD);
    p.setAttribute("fill", "currentColor");
    svg.appendChild(p);
    return svg;
  }

  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm3 6.5a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3zm5 0a1.5 1.5 0 1 0 0-3 1.5 1.5 0 0 0 0 3z";
  var ICON_CLOSE = "M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 0 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z";
  var ICON_SEND = "M3.4 20.4 21 12 3.4 3.6 3.4 10l12.6 2-12.6 2z";
  var ICON_SHIELD = "M12 2 4 5v6c0 5 3.4 9.7 8 11 4.6-1.3 8-6 8-11V5l-8-3zm-1.2 14.2-3.5-3.5 1.4-1.4 2.1 2.1 4.9-4.9 1.4 1.4-6.3 6.3z";

  /* Only http(s) and mailto links are ever created. */
  function safeHref(raw) {
    if (typeof raw !== "string") return null;
    var s = raw.trim();
    if (/^mailto:[^\s]+@[^\s]+$/i.test(s)) return s;
    if (/^www\./i.test(s)) s = "https://" + s;
    if (!/^https?:\/\//i.test(s)) return null;
    try {
      var u = new URL(s);
      if (u.protocol !== "http:" && u.protocol !== "https:") return null;
      return u.href;
    } catch (e) {
      return null;
    }
  }

  function makeLink(href, label) {
    var a = el("a", { href: href }, label);
    if (!/^mailto:/i.test(href)) {
      a.setAttribute("target", "_blank");
      a.setAttribute("rel", "noopener noreferrer");
    }
    return a;
  }

  /* Split a trailing run of punctuation off a URL match ("see https://x.nl/a)." ). */
  function trimUrl(url) {
    var trail = "";
    while (url.length) {
      var ch = url.charAt(url.length - 1);
      if (".,;:!?'\"".indexOf(ch) >= 0) {
        trail = ch + trail;
        url = url.slice(0, -1);
      } else if (ch === ")" && (url.split("(").length - 1) < (url.split(")").length - 1)) {
        trail = ch + trail;
        url = url.slice(0, -1);
      } else {
        break;
      }
    }
    return { url: url, trail: trail };
  }

  // [label](url) | **bold** | plain URL | e-mail address
  var TOKEN_RE = new RegExp(
    "\\[([^\\]\\n]{1,200})\\]\\(((?:https?:\\/\\/|mailto:)[^\\s)]+)\\)" +
    "|\\*\\*([^*\\n]{1,500})\\*\\*" +
    "|((?:https?:\\/\\/|www\\.)[^\\s<>\"]+)" +
    "|([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,})",
    "g"
  );

  /*
   * Append `text` to `parent` as DOM nodes: text nodes, <a> for URLs, e-mail
   * addresses and markdown links, <strong> for **bold**. Never uses innerHTML.
   */
  function appendRichText(parent, text) {
    var last = 0;
    var m;
    TOKEN_RE.lastIndex = 0;
    while ((m = TOKEN_RE.exec(text)) !== null) {
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      if (m[1] !== undefined) {
        var mdHref = safeHref(m[2]);
        parent.appendChild(mdHref ? makeLink(mdHref, m[1]) : document.createTextNode(m[0]));
      } else if (m[3] !== undefined) {
        var strong = el("strong");
        appendRichText(strong, m[3]); // links inside **bold**
        parent.appendChild(strong);
      } else if (m[4] !== undefined) {
        var parts = trimUrl(m[4]);
        var href = safeHref(parts.url);
        parent.appendChild(href && parts.url.length > 4 ? makeLink(href, parts.url) : document.createTextNode(parts.url));
        if (parts.trail) parent.appendChild(document.createTextNode(parts.trail));
      } else if (m[5] !== undefined) {
        parent.appendChild(makeLink("mailto:" + m[5], m[5]));
      }
      last = m.index + m[0].length;
      TOKEN_RE.lastIndex = last; // the recursive call for **bold** reuses the regex
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  /* ------------------------------------------------------------------ */
  /* Widget                                                              */
  /* ------------------------------------------------------------------ */

  var cfg = readConfig();
  var ui = {};
  var state = {
    isOpen: false,
    socket: null,
    connected: false,
    offline: false,
    sessionId: loadSessionId(),
    resumeSecret: loadResumeSecret(),
    offered: null, // the latest session_secret: {id, secret}
    sessionReady: false,
    authToken: null, // the session token this connection was opened with
    queue: [],
    confirmTimer: null,
    typingTimer: null,
    replyStart: null // the first row of the bot's reply to the latest user message
  };

  function build() {
    var root = el("div", { id: "voltera-chat", className: "vc-root" });

    // Launcher
    var launcher = el("button", {
      type: "button",
      className: "vc-launcher",
      "data-testid": "chat-launcher",
      "aria-controls": "vc-panel",
      "aria-expanded": "false"
    });
    launcher.appendChild(icon(ICON_CHAT, "vc-icon vc-icon-open"));
    launcher.appendChild(icon(ICON_CLOSE, "vc-icon vc-icon-close"));
    var badge = el("span", { className: "vc-badge", "aria-hidden": "true", hidden: "" });
    launcher.appendChild(badge);

    // Panel
    var panel = el("section", {
      id: "vc-panel",
      className: "vc-panel",
      role: "dialog",
      "aria-modal": "false",
      "aria-labelledby": "vc-title",
      "aria-describedby": "vc-subtitle",
      "data-testid": "chat-panel",
      hidden: ""
    });

    var header = el("header", { className: "vc-header" });
    var avatar = el("span", { className: "vc-avatar" });
    avatar.appendChild(icon(ICON_SHIELD));
    var titles = el("div", { className: "vc-titles" });
    var title = el("h2", { id: "vc-title", className: "vc-title" });
    var subtitle = el("p", { id: "vc-subtitle", className: "vc-subtitle" });
    var status = el("p", { className: "vc-status", "data-testid": "chat-status" });
    var statusDot = el("span", { className: "vc-status-dot", "aria-hidden": "true" });
    var statusText = el("span", { className: "vc-status-text" });
    status.appendChild(statusDot);
    status.appendChild(statusText);
    titles.appendChild(title);
    titles.appendChild(subtitle);
    titles.appendChild(status);
    var closeBtn = el("button", { type: "button", className: "vc-close", "data-testid": "chat-close" });
    closeBtn.appendChild(icon(ICON_CLOSE));
    header.appendChild(avatar);
    header.appendChild(titles);
    header.appendChild(closeBtn);

    var log = el("div", {
      className: "vc-log",
      role: "log",
      "aria-live": "polite",
      "aria-relevant": "additions",
      tabindex: "0",
      "data-testid": "chat-log"
    });
    var intro = el("p", { className: "vc-intro" });
    log.appendChild(intro);

    // Example questions for an empty chat, in the page's language; one click sends the question.
    var examples = el("div", { className: "vc-examples", "data-testid": "chat-examples" });
    var examplesLabel = el("p", { id: "vc-examples-label", className: "vc-examples-label" });
    var exampleGroup = el("div", { className: "vc-chips", role: "group", "aria-labelledby": "vc-examples-label" });
    t("examples").forEach(function (_, i) {
      var example = el("button", { type: "button", className: "vc-chip", "data-testid": "chat-example" });
      example.addEventListener("click", function () {
        sendMessage(t("examples")[i], t("examples")[i]);
        if (ui.input) ui.input.focus();
      });
      exampleGroup.appendChild(example);
    });
    examples.appendChild(examplesLabel);
    examples.appendChild(exampleGroup);
    log.appendChild(examples);

    var typing = el("div", { className: "vc-typing", "data-testid": "typing-indicator", "aria-hidden": "true", hidden: "" });
    typing.appendChild(el("span", { className: "vc-dot" }));
    typing.appendChild(el("span", { className: "vc-dot" }));
    typing.appendChild(el("span", { className: "vc-dot" }));
    var typingSr = el("span", { className: "vc-sr-only" });
    typing.appendChild(typingSr);
    log.appendChild(typing);

    var offline = el("p", { className: "vc-offline", role: "alert", "data-testid": "chat-offline", hidden: "" });

    var form = el("form", { className: "vc-form", novalidate: "" });
    var inputLabel = el("label", { className: "vc-sr-only", "for": "vc-input" });
    var input = el("input", {
      id: "vc-input",
      className: "vc-input",
      type: "text",
      autocomplete: "off",
      maxlength: "2000",
      enterkeyhint: "send",
      "data-testid": "chat-input"
    });
    var sendBtn = el("button", { type: "submit", className: "vc-send", "data-testid": "chat-send" });
    sendBtn.appendChild(icon(ICON_SEND));
    form.appendChild(inputLabel);
    form.appendChild(input);
    form.appendChild(sendBtn);

    panel.appendChild(header);
    panel.appendChild(log);
    panel.appendChild(offline);
    panel.appendChild(form);

    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(root);

    ui = {
      root: root, launcher: launcher, badge: badge, panel: panel, title: title, subtitle: subtitle,
      statusText: statusText, status: status, closeBtn: closeBtn, log: log, intro: intro,
      examples: examples, examplesLabel: examplesLabel, exampleButtons: exampleGroup.querySelectorAll("button"),
      typing: typing, typingSr: typingSr, offline: offline, form: form, inputLabel: inputLabel,
      input: input, sendBtn: sendBtn
    };

    launcher.addEventListener("click", function () {
      if (state.isOpen) close(); else open();
    });
    closeBtn.addEventListener("click", function () { close(); });
    panel.addEventListener("keydown", function (ev) {
      if (ev.key === "Escape" || ev.key === "Esc") {
        ev.preventDefault();
        close();
      }
    });
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var text = input.value;
      if (!text.trim()) {
        input.focus();
        return;
      }
      input.value = "";
      sendMessage(text.trim(), text.trim());
      input.focus();
    });

    applyTexts();
    renderStatus();
  }

  function applyTexts() {
    ui.title.textContent = t("title");
    ui.subtitle.textContent = t("subtitle");
    var launcherLabel = state.isOpen ? t("launcherClose") : t("launcherOpen");
    ui.launcher.setAttribute("title", launcherLabel);
    if (!state.isOpen && !ui.badge.hasAttribute("hidden")) launcherLabel += " (" + t("newMessage") + ")";
    ui.launcher.setAttribute("aria-label", launcherLabel);
    ui.closeBtn.setAttribute("aria-label", t("close"));
    ui.closeBtn.setAttribute("title", t("close"));
    ui.log.setAttribute("aria-label", t("log"));
    ui.inputLabel.textContent = t("inputLabel");
    ui.input.setAttribute("placeholder", t("placeholder"));
    ui.sendBtn.setAttribute("aria-label", t("send"));
    ui.sendBtn.setAttribute("title", t("send"));
    ui.intro.textContent = t("intro");
    ui.examplesLabel.textContent = t("examplesLabel");
    for (var e = 0; e < ui.exampleButtons.length; e++) ui.exampleButtons[e].textContent = t("examples")[e];
    ui.typingSr.textContent = t("typing");
    ui.offline.textContent = t("offline");
    var srs = ui.log.querySelectorAll("[data-vc-sr]");
    for (var i = 0; i < srs.length; i++) srs[i].textContent = t(srs[i].getAttribute("data-vc-sr"));
    ui.panel.setAttribute("lang", uiLang());
    renderStatus();
  }

  function renderStatus() {
    if (!ui.status) return;
    var key, cls;
    if (state.offline) { key = "statusOffline"; cls = "is-offline"; }
    else if (state.connected && state.sessionReady) { key = "statusOnline"; cls = "is-online"; }
    else { key = "statusConnecting"; cls = "is-connecting"; }
    ui.status.className = "vc-status " + cls;
    ui.statusText.textContent = state.socket || state.offline ? t(key) : "";
    if (state.offline) ui.offline.removeAttribute("hidden"); else ui.offline.setAttribute("hidden", "");
  }

  function setOffline(isOffline) {
    state.offline = !!isOffline;
    if (state.offline) hideTyping();
    renderStatus();
  }

  function scrollToBottom() {
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  /* A reply is read from its start: the log shows the first row of it at the top (or the end, if it is short). */
  function scrollToReply() {
    if (!state.replyStart || !state.replyStart.parentNode) {
      scrollToBottom();
      return;
    }
    ui.log.scrollTop = state.replyStart.offsetTop - ui.log.offsetTop - 8;
  }

  function addRow(who) {
    var row = el("div", { className: "vc-row vc-row-" + who });
    row.appendChild(el("span", { className: "vc-sr-only", "data-vc-sr": who === "user" ? "you" : "bot" }, t(who === "user" ? "you" : "bot")));
    ui.log.insertBefore(row, ui.typing);
    showExamples();
    return row;
  }

  /* The example questions are there only while the chat is empty. */
  function showExamples() {
    var empty = !ui.log.querySelector(".vc-row");
    if (empty) ui.examples.removeAttribute("hidden"); else ui.examples.setAttribute("hidden", "");
  }

  function addUserMessage(text, restoring) {
    var row = addRow("user");
    var msg = el("div", { className: "vc-msg user", "data-testid": "user-message" }, text);
    row.appendChild(msg);
    state.replyStart = null;
    if (!restoring) keepInTranscript({ who: "user", text: String(text) });
    scrollToBottom();
    return msg;
  }

  function renderAttachment(container, attachment) {
    if (!attachment) return false;
    if (typeof attachment === "string") {
      var h = safeHref(attachment);
      if (!h) return false;
      container.appendChild(makeLink(h, t("attachment")));
      return true;
    }
    if (typeof attachment !== "object") return false;
    var payload = attachment.payload || {};
    var type = attachment.type;
    if (type === "image") {
      var src = safeHref(payload.src || payload.url || "");
      if (!src) return false;
      var img = el("img", { className: "vc-image", src: src, alt: payload.alt || payload.title || t("image"), loading: "lazy" });
      var link = makeLink(src, "");
      link.appendChild(img);
      container.appendChild(link);
      return true;
    }
    if (type === "template" && payload && Array.isArray(payload.elements)) {
      var any = false;
      payload.elements.forEach(function (item) {
        if (!item || typeof item !== "object") return;
        var card = el("div", { className: "vc-card" });
        if (item.title) card.appendChild(el("strong", { className: "vc-card-title" }, item.title));
        if (item.subtitle) {
          var sub = el("div", { className: "vc-card-subtitle" });
          appendRichText(sub, String(item.subtitle));
          card.appendChild(sub);
        }
        if (Array.isArray(item.buttons) && item.buttons.length) card.appendChild(renderButtons(item.buttons));
        container.appendChild(card);
        any = true;
      });
      return any;
    }
    var generic = safeHref(payload.src || payload.url || "");
    if (generic) {
      container.appendChild(makeLink(generic, payload.title || t("attachment")));
      return true;
    }
    return false;
  }

  function renderButtons(buttons) {
    var group = el("div", { className: "vc-chips", role: "group" });
    buttons.forEach(function (b) {
      if (!b || typeof b !== "object") return;
      var label = b.title !== undefined && b.title !== null ? String(b.title) : String(b.payload || "");
      if (!label) return;
      var url = b.url ? safeHref(String(b.url)) : null;
      if (url) {
        var a = makeLink(url, label);
        a.className = "vc-chip vc-chip-link";
        a.setAttribute("data-testid", "chat-button");
        group.appendChild(a);
        return;
      }
      var payload = b.payload !== undefined && b.payload !== null && String(b.payload) !== "" ? String(b.payload) : label;
      var chip = el("button", { type: "button", className: "vc-chip", "data-testid": "chat-button", "data-payload": payload }, label);
      chip.addEventListener("click", function () {
        var siblings = group.querySelectorAll("button.vc-chip");
        for (var i = 0; i < siblings.length; i++) siblings[i].disabled = true;
        chip.classList.add("is-chosen");
        sendMessage(payload, label);
        if (ui.input) ui.input.focus();
      });
      group.appendChild(chip);
    });
    return group;
  }

  function addBotMessage(data, restoring) {
    if (data === null || data === undefined) return;
    if (typeof data === "string") data = { text: data };
    if (typeof data !== "object") return;
    if (!restoring) hideTyping();

    var text = data.text !== undefined && data.text !== null ? String(data.text) : "";
    var buttons = Array.isArray(data.quick_replies) && data.quick_replies.length ? data.quick_replies
      : (Array.isArray(data.buttons) && data.buttons.length ? data.buttons : null);

    var row = addRow("bot");
    var msg = el("div", { className: "vc-msg bot", "data-testid": "bot-message" });
    if (text) appendRichText(msg, text);
    var hasAttachment = renderAttachment(msg, data.attachment);
    if (!text && !hasAttachment && !buttons) {
      row.parentNode.removeChild(row); // nothing we can show (e.g. a custom payload)
      showExamples();
      return;
    }
    if (text || hasAttachment) row.appendChild(msg);
    if (buttons) row.appendChild(renderButtons(buttons));
    if (!state.replyStart) state.replyStart = row;
    if (restoring) return;
    keepInTranscript({ who: "bot", data: { text: data.text, quick_replies: data.quick_replies, buttons: data.buttons, attachment: data.attachment } });
    scrollToReply();
    if (!state.isOpen) {
      ui.badge.removeAttribute("hidden");
      applyTexts();
    }
  }

  function showTyping() {
    ui.typing.removeAttribute("hidden");
    ui.log.appendChild(ui.typing); // keep it last
    if (!state.replyStart) scrollToBottom();
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }

  function hideTyping() {
    clearTimeout(state.typingTimer);
    if (ui.typing) ui.typing.setAttribute("hidden", "");
  }

  /* ------------------------------------------------------------------ */
  /* Socket                                                               */
  /* ------------------------------------------------------------------ */

  function connect() {
    if (state.socket) return;
    var opts = { path: cfg.socketPath, transports: ["websocket", "polling"] };
    state.authToken = loginToken() || cfg.token;
    if (state.authToken) opts.auth = { token: state.authToken };
    var socket;
    try {
      socket = io(cfg.socketUrl, opts);
    } catch (e) {
      setOffline(true);
      return;
    }
    state.socket = socket;
    renderStatus();

    socket.on("connect", function () {
      state.connected = true;
      state.sessionReady = false;
      setOffline(false);
      state.offered = null;
      socket.emit("session_request", { session_id: state.sessionId || null, resume_secret: state.resumeSecret || null });
      clearTimeout(state.confirmTimer);
      // Servers that never confirm: carry on with the stored id or the socket id.
      state.confirmTimer = setTimeout(function () {
        if (!state.sessionReady && socket.connected) {
          if (!state.sessionId) state.sessionId = socket.id;
          markSessionReady();
        }
      }, SESSION_CONFIRM_TIMEOUT_MS);
    });

    socket.on("session_secret", function (data) {
      if (data && typeof data.session_id === "string" && typeof data.resume_secret === "string") {
        state.offered = { id: data.session_id, secret: data.resume_secret };
      }
    });

    socket.on("session_confirm", function (data) {
      var id = null;
      if (typeof data === "string") id = data;
      else if (data && typeof data === "object") id = data.session_id || data.sessionId || null;
      if (id !== null && id !== undefined && String(id) !== "") {
        state.sessionId = String(id);
        state.resumeSecret = state.offered && state.offered.id === state.sessionId ? state.offered.secret : null;
        saveSession(state.sessionId, state.resumeSecret);
      } else if (!state.sessionId) {
        state.sessionId = socket.id;
      }
      clearTimeout(state.confirmTimer);
      markSessionReady();
    });

    socket.on("bot_uttered", function (data) {
      addBotMessage(data);
    });

    socket.on("connect_error", function () {
      state.connected = false;
      state.sessionReady = false;
      setOffline(true);
    });

    socket.on("disconnect", function (reason) {
      state.connected = false;
      state.sessionReady = false;
      clearTimeout(state.confirmTimer);
      setOffline(true);
      // socket.io does not reconnect by itself after a server-side disconnect
      if (reason === "io server disconnect") {
        setTimeout(function () { if (!socket.connected) socket.connect(); }, 3000);
      }
    });
  }

  function markSessionReady() {
    state.sessionReady = true;
    renderStatus();
    flushQueue();
  }

  function flushQueue() {
    if (!state.socket || !state.connected || !state.sessionReady) return;
    while (state.queue.length) {
      var text = state.queue.shift();
      var customData = { language: pageLang() };
      if (state.authToken) customData.session_token = state.authToken;
      state.socket.emit("user_uttered", {
        message: text,
        session_id: state.sessionId,
        customData: customData
      });
      showTyping();
    }
  }

  /* Show `label` as the user's bubble and send `message` (a button payload or the typed text). */
  function sendMessage(message, label) {
    addUserMessage(label);
    state.queue.push(message);
    connect();
    if (state.offline) {
      // Stays queued; it is sent once the connection is back.
      ui.offline.removeAttribute("hidden");
      scrollToBottom();
      return;
    }
    flushQueue();
  }

  /* ------------------------------------------------------------------ */
  /* Open / close, public API                                             */
  /* ------------------------------------------------------------------ */

  function open() {
    init();
    if (!ui.root) return;
    if (!state.isOpen) {
      state.isOpen = true;
      ui.panel.removeAttribute("hidden");
      ui.root.classList.add("is-open");
      ui.launcher.setAttribute("aria-expanded", "true");
      ui.badge.setAttribute("hidden", "");
      keepOpen(true);
      applyTexts();
      scrollToReply();
    }
    connect();
    try { ui.input.focus({ preventScroll: true }); } catch (e) { ui.input.focus(); }
  }

  /*
   * The visitor logged in or out: drop the connection and the conversation, and start a new one
   * (connected with the new token, or none) if the chat is open. Messages shown so far are cleared:
   * they belonged to the other conversation.
   */
  function resetSession() {
    if (state.socket) {
      var old = state.socket;
      state.socket = null;
      old.off();
      old.disconnect();
    }
    clearTimeout(state.confirmTimer);
    state.connected = false;
    state.sessionReady = false;
    state.sessionId = null;
    state.resumeSecret = null;
    state.offered = null;
    state.authToken = null;
    state.queue = [];
    forgetSessionId();
    if (ui.log) {
      var rows = ui.log.querySelectorAll(".vc-row");
      for (var i = 0; i < rows.length; i++) rows[i].parentNode.removeChild(rows[i]);
      hideTyping();
      showExamples();
    }
    state.replyStart = null;
    state.offline = false;
    if (ui.root) renderStatus();
    if (state.isOpen) connect();
  }

  function close() {
    if (!ui.root || !state.isOpen) return;
    state.isOpen = false;
    ui.panel.setAttribute("hidden", "");
    ui.root.classList.remove("is-open");
    ui.launcher.setAttribute("aria-expanded", "false");
    keepOpen(false);
    applyTexts();
    ui.launcher.focus();
  }

  /* Show this tab's conversation again (after a reload), and reopen the chat if it was open. */
  function restore() {
    loadTranscript().forEach(function (entry) {
      if (!entry || typeof entry !== "object") return;
      if (entry.who === "user" && typeof entry.text === "string") addUserMessage(entry.text, true);
      else if (entry.who === "bot") addBotMessage(entry.data, true);
    });
    // Buttons of a reply that the visitor already answered stay answered.
    var rows = ui.log.querySelectorAll(".vc-row");
    var lastUser = -1;
    for (var i = 0; i < rows.length; i++) if (rows[i].classList.contains("vc-row-user")) lastUser = i;
    for (var j = 0; j < lastUser; j++) {
      var chips = rows[j].querySelectorAll("button.vc-chip");
      for (var k = 0; k < chips.length; k++) chips[k].disabled = true;
    }
    if (state.sessionId && wasOpen()) open();
  }

  function init() {
    if (ui.root || !document.body || !TEXTS) return;
    loadStyle();
    build();
    restore();
    if (window.MutationObserver) {
      new MutationObserver(applyTexts).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
    }
  }

  window.volteraChat = {
    open: open,
    close: close,
    /* Send `text` as if typed (opens the panel). Returns false for empty input. */
    send: function (text) {
      var s = text === undefined || text === null ? "" : String(text).trim();
      if (!s) return false;
      open();
      if (!ui.root) return false;
      sendMessage(s, s);
      return true;
    },
    getSessionId: function () { return state.sessionId; },
    /* Start a new conversation (after the website's login changed). */
    resetSession: resetSession,
    isConnected: function () { return state.connected && state.sessionReady; }
  };

  loadTexts().then(function () {
    if (document.body) {
      init(); // normal case: this script is loaded at the end of <body>
    } else {
      document.addEventListener("DOMContentLoaded", init);
    }
  }, function (problem) {
    if (window.console) window.console.warn("chat widget not shown:", problem);
  });
})();
