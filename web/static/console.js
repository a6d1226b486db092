/*
 * The staff console's live pages: the queue (/console) and one conversation
 * (/console/conversations/<entry id>). Plain JS, no build step, no inline script
 * (the console's Content-Security-Policy runs scripts from the back office only).
 *
 * Both pages listen to the back office's server-sent events (GET /api/console/stream,
 * with ?conversation=<entry id> on a conversation's page): `queue` whenever the queue
 * changes, `conversation` whenever the open conversation does, `gone` when it is no
 * longer in the queue nor this agent's. Keeping the stream open is what keeps the
 * agent available and their claims theirs, so the page reconnects by itself.
 *
 * Everything a customer (or anyone) wrote is put in with textContent, never as HTML:
 * a customer's "<script>" shows as text. Every change is a POST with the session's
 * CSRF token (the csrf-token meta tag) in the X-CSRF-Token header; a refusal's
 * `detail` is shown to the agent in the #problem alert.
 *
 * Its words are the text catalogue's (text-catalogue/texts/<language>.yml, `console.script`), in the member of
 * staff's language, from the page's console-texts meta tag (JSON).
 */
(function () {
  "use strict";

  var STREAM = "/api/console/stream";
  var RECONNECT_AFTER_MS = 5000; // when the browser gave up on the stream (a refusal, not a dropped line)
  var COLLEAGUES_EVERY_MS = 30000; // who is available to take a transfer changes as consoles open and close

  var TEXTS = readTexts();
  var REASONS = TEXTS.reasons || {};
  var LANGUAGES = TEXTS.languages || {};
  var VERIFIED_BY = TEXTS.verified_by || {};
  var STATES = TEXTS.states || {};
  var REQUEST_TYPES = TEXTS.request_types || {};
  var LOCALE = document.documentElement.lang === "nl" ? "nl-NL" : "en-GB";
  var ENDED = ["handed_back", "closed", "cancelled", "left"];

  /* ------------------------------------------------------------------ */
  /* Small helpers                                                       */
  /* ------------------------------------------------------------------ */

  function readTexts() {
    var meta = document.querySelector('meta[name="console-texts"]');
    try {
      return JSON.parse(meta ? meta.getAttribute("content") || "{}" : "{}") || {};
    } catch (e) {
      return {};
    }
  }

  /* One of the page's words, its {values} filled in (the key itself when the page has no such word). */
  function t(key, values) {
    var text = typeof TEXTS[key] === "string" ? TEXTS[key] : key;
    return text.replace(/\{(\w+)\}/g, function (whole, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole;
    });
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function words(value) {
    return String(value || "").replace(/_/g, " ");
  }

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") || "" : "";
  }

  function waited(seconds) {
    var minutes = Math.floor((Number(seconds) || 0) / 60);
    if (minutes < 1) return t("under_a_minute");
    if (minutes < 60) return t("minutes", { minutes: minutes });
    return t("hours", { hours: Math.floor(minutes / 60), minutes: minutes % 60 });
  }

  function clock(iso) {
    var moment = new Date(iso);
    if (!iso || isNaN(moment.getTime())) return "";
    var time = moment.toLocaleTimeString(LOCALE, { hour: "2-digit", minute: "2-digit" });
    if (moment.toDateString() === new Date().toDateString()) return time;
    return moment.toLocaleDateString(LOCALE, { day: "numeric", month: "short" }) + " " + time;
  }

  function timeElement(iso) {
    var node = el("time", clock(iso));
    if (iso) node.setAttribute("datetime", iso);
    return node;
  }

  function channelText(entry) {
    var name = entry.channel === "rest" ? "REST" : words(entry.channel);
    return entry.channel_pushes ? name : t("channel_pulls", { channel: name });
  }

  function verifiedText(entry) {
    if (!entry.verified) return t("not_verified");
    var how = VERIFIED_BY[entry.verified.by] || words(entry.verified.by);
    return t("verified", { how: how, customer: entry.verified.customer_id });
  }

  function requestText(request) {
    return t("request", { id: request.id, type: words(request.type), status: words(request.status), due: request.due_on });
  }

  function stateText(entry, me) {
    if (entry.state === "claimed") {
      return me !== null && entry.claimed_by === me.id ? t("taken_by_you") : t("taken_by", { name: entry.claimed_by_name || t("a_colleague") });
    }
    var text = STATES[entry.state] || words(entry.state);
    return entry.ended_because ? t("ended_because", { state: text, because: entry.ended_because }) : text;
  }

  function awayText(entry) {
    return entry.customer_away_since ? t("away", { time: clock(entry.customer_away_since) }) : "";
  }

  /* An id for one filing, so that sending the same form again files it once (the back office's client_request_id). */
  function filingId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function getJson(path) {
    return fetch(path, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (answer) {
      return answer.json().catch(function () { return null; }).then(function (parsed) {
        if (!answer.ok) throw new Error(problemText(answer, parsed));
        return parsed;
      });
    });
  }

  /* A list of texts, or a short "none" when there are none. */
  function listOf(texts, none) {
    if (!texts.length) return el("span", none, "muted");
    var list = el("ul", null, "plain");
    texts.forEach(function (text) { list.appendChild(el("li", text)); });
    return list;
  }

  function summaryNode(summary) {
    summary = summary || {};
    var box = document.createDocumentFragment();
    var topics = (summary.topics || []).map(words);
    var requests = (summary.requests || []).map(function (r) { return words(String(r).replace(/^request_/, "")); });
    if (topics.length) box.appendChild(el("p", t("topics", { topics: topics.join(", ") })));
    if (requests.length) box.appendChild(el("p", t("asked_to_file", { requests: requests.join(", ") })));
    var said = summary.last_messages || [];
    if (said.length) {
      box.appendChild(el("p", t("last_messages"), "label"));
      var quotes = el("ul", null, "said");
      said.forEach(function (text) { quotes.appendChild(el("li", text)); });
      box.appendChild(quotes);
    }
    if (!box.childNodes.length) box.appendChild(el("span", t("nothing_recognised"), "muted"));
    return box;
  }

  /* Replace a node's children only when what it shows changed (keeps focus and the reader's place). */
  function show(node, signature, build) {
    if (node.dataset.shown === signature) return;
    node.dataset.shown = signature;
    while (node.firstChild) node.removeChild(node.firstChild);
    var built = build();
    if (typeof built === "string") node.textContent = built;
    else node.appendChild(built);
  }

  function problemText(answer, body) {
    var detail = body && body.detail;
    if (typeof detail === "string" && detail) return detail;
    if (Array.isArray(detail) && detail.length) {
      return detail.map(function (d) { return d && d.msg ? String(d.msg) : JSON.stringify(d); }).join("; ");
    }
    return t("answered", { status: answer.status });
  }

  /* POST a change with the CSRF header; resolves with the JSON answer, rejects with the detail to show. */
  function post(path, body) {
    var options = {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": csrfToken(), Accept: "application/json" }
    };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(path, options).then(
      function (answer) {
        return answer.json().catch(function () { return null; }).then(function (parsed) {
          if (!answer.ok) throw new Error(problemText(answer, parsed));
          return parsed;
        });
      },
      function () { throw new Error(t("unreachable")); }
    );
  }

  /* Who is signed in (their id tells "taken by you" from a colleague's): the account, "signed out" or null (not known now). */
  function whoAmI() {
    return fetch("/api/console/me", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        if (answer.status === 401) return "signed out";
        return answer.ok ? answer.json() : null;
      })
      .catch(function () { return null; });
  }

  function account(found) {
    return found && typeof found === "object" ? found : null;
  }

  /*
   * The live stream. `handlers` maps an event name to a function of its parsed data.
   * EventSource reconnects by itself after a dropped line; when the back office refused
   * the stream (signed out, too many consoles open) it gives up, and then a signed-out
   * agent goes to the sign-in form and anyone else tries again a little later.
   */
  function listen(url, status, handlers) {
    var source = null;

    function connect() {
      source = new EventSource(url);
      source.onopen = function () { status.textContent = t("live"); };
      source.onerror = function () {
        status.textContent = t("reconnecting");
        if (source.readyState !== EventSource.CLOSED) return;
        whoAmI().then(function (found) {
          if (found === "signed out") {
            window.location.assign("/console/login?next=" + encodeURIComponent(window.location.pathname));
          } else {
            window.setTimeout(connect, RECONNECT_AFTER_MS);
          }
        });
      };
      Object.keys(handlers).forEach(function (name) {
        source.addEventListener(name, function (event) {
          var data;
          try {
            data = JSON.parse(event.data);
          } catch (e) {
            return;
          }
          handlers[name](data);
        });
      });
    }

    connect();
    window.addEventListener("pagehide", function () { if (source) source.close(); });
    window.addEventListener("pageshow", function (event) { if (event.persisted) connect(); }); // back from the history cache
  }

  /* ------------------------------------------------------------------ */
  /* The queue                                                           */
  /* ------------------------------------------------------------------ */

  function queuePage(table, status) {
    var body = table.tBodies[0] || table.appendChild(document.createElement("tbody"));
    var rows = {}; // entry id -> its row, kept between updates so focus stays where it was
    var empty = el("tr");
    var emptyCell = el("td", t("nobody_waiting"));
    emptyCell.colSpan = 8;
    empty.appendChild(emptyCell);
    var me = null;

    function rowFor(entry) {
      var row = rows[entry.id];
      if (row) return row;
      row = el("tr");
      row.dataset.entry = entry.id;
      for (var i = 0; i < 7; i += 1) row.appendChild(el("td"));
      var open = el("td");
      var link = el("a", t("open"));
      link.href = "/console/conversations/" + encodeURIComponent(entry.id);
      link.appendChild(el("span", t("open_conversation", { id: entry.id }), "visually-hidden"));
      open.appendChild(link);
      row.appendChild(open);
      rows[entry.id] = row;
      return row;
    }

    function fill(row, entry) {
      var cells = row.cells;
      show(cells[0], waited(entry.waiting_seconds), function () { return waited(entry.waiting_seconds); });
      show(cells[1], entry.reason, function () { return REASONS[entry.reason] || words(entry.reason); });
      show(cells[2], entry.language, function () { return LANGUAGES[entry.language] || entry.language; });
      show(cells[3], entry.channel + entry.channel_pushes, function () { return channelText(entry); });
      show(cells[4], JSON.stringify([entry.verified, entry.open_requests]), function () {
        var box = document.createDocumentFragment();
        box.appendChild(el("p", verifiedText(entry)));
        var open = entry.open_requests || [];
        if (open.length) {
          box.appendChild(el("p", t("open_requests"), "label"));
          box.appendChild(listOf(open.map(requestText), t("none")));
        } else if (entry.verified) {
          box.appendChild(el("p", t("no_open_requests"), "muted"));
        }
        return box;
      });
      show(cells[5], JSON.stringify(entry.summary), function () { return summaryNode(entry.summary); });
      var state = stateText(entry, me) + (entry.customer_away_since ? "; " + awayText(entry) : "");
      show(cells[6], state, function () { return state; });
    }

    function render(data) {
      var queue = Array.isArray(data.queue) ? data.queue : [];
      var wanted = [];
      var seen = {};
      queue.forEach(function (entry) {
        var row = rowFor(entry);
        fill(row, entry);
        wanted.push(row);
        seen[entry.id] = true;
      });
      Object.keys(rows).forEach(function (id) {
        if (!seen[id]) {
          if (rows[id].parentNode) rows[id].parentNode.removeChild(rows[id]);
          delete rows[id];
        }
      });
      if (!wanted.length) wanted.push(empty);
      Array.prototype.slice.call(body.rows).forEach(function (row) {
        if (wanted.indexOf(row) < 0) body.removeChild(row);
      });
      wanted.forEach(function (row, index) {
        if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
      });
    }

    whoAmI().then(function (found) {
      me = account(found);
      listen(STREAM, status, { queue: render });
    });
  }

  /* ------------------------------------------------------------------ */
  /* One conversation                                                    */
  /* ------------------------------------------------------------------ */

  function conversationPage(section, status) {
    var entryId = section.dataset.entry;
    var base = "/api/console/conversations/" + encodeURIComponent(entryId);
    var facts = document.getElementById("facts");
    var transcript = document.getElementById("transcript");
    var notes = document.getElementById("notes");
    var problem = document.getElementById("problem");
    var buttons = {
      claim: document.getElementById("claim"),
      handBack: document.getElementById("hand-back"),
      close: document.getElementById("close")
    };
    var replyForm = document.getElementById("reply-form");
    var noteForm = document.getElementById("note-form");
    var outcome = el("p", null, "outcome");
    outcome.id = "outcome";
    outcome.setAttribute("role", "status");
    var actions = document.getElementById("actions");
    actions.parentNode.insertBefore(outcome, actions.nextSibling);

    var transfer = transferControl();
    actions.parentNode.insertBefore(transfer.node, outcome.nextSibling);
    var suggestions = suggestionsControl(document.getElementById("reply"));
    replyForm.parentNode.insertBefore(suggestions.node, replyForm);
    var filing = filingControl();
    noteForm.parentNode.insertBefore(filing.node, noteForm.nextSibling);

    var me = null;
    var current = null; // the conversation as last shown
    var shownMessages = []; // the transcript's messages as shown, to add only the new ones
    var busy = false;

    function mine() {
      return current !== null && me !== null && current.state === "claimed" && current.claimed_by === me.id;
    }

    /* Ended for good; a conversation that is merely `gone` (a colleague has it) may come back to the queue. */
    function ended() {
      return current !== null && ENDED.indexOf(current.state) >= 0;
    }

    function updateControls() {
      var holding = mine();
      buttons.claim.disabled = busy || holding || ended();
      buttons.handBack.disabled = busy || !holding;
      buttons.close.disabled = busy || !holding;
      Array.prototype.forEach.call(replyForm.elements, function (field) { field.disabled = busy || !holding; });
      var readable = current !== null && current.state !== "gone";
      Array.prototype.forEach.call(noteForm.elements, function (field) { field.disabled = busy || !readable; });
      transfer.enable(!busy && holding);
      suggestions.enable(!busy && holding);
      filing.enable(!busy && holding && current !== null && Boolean(current.verified));
    }

    function labelled(id, text, control) {
      var box = el("p");
      var label = el("label", text);
      label.htmlFor = id;
      control.id = id;
      box.appendChild(label);
      box.appendChild(control);
      return box;
    }

    function option(value, text) {
      var node = el("option", text);
      node.value = value;
      return node;
    }

    /* Transfer to a colleague (the available ones first) or back to the queue. */
    function transferControl() {
      var box = el("div", null, "transfer");
      var choice = el("select");
      var send = el("button", t("transfer"));
      send.type = "button";
      box.appendChild(labelled("transfer-to", t("transfer_to"), choice));
      box.appendChild(send);

      function load() {
        if (document.activeElement === choice) return; // never rebuild a list the agent is choosing from
        getJson("/api/console/colleagues").then(function (answer) {
          var chosen = choice.value;
          while (choice.firstChild) choice.removeChild(choice.firstChild);
          choice.appendChild(option("", t("any_agent")));
          (answer.colleagues || []).forEach(function (c) {
            choice.appendChild(option(String(c.id), t(c.available ? "available" : "not_signed_in", { name: c.full_name })));
          });
          choice.value = chosen;
          if (choice.selectedIndex < 0) choice.selectedIndex = 0;
        }, function () { /* the list stays as it was; the next look tries again */ });
      }

      choice.appendChild(option("", t("any_agent")));
      window.setInterval(load, COLLEAGUES_EVERY_MS);
      send.addEventListener("click", function () {
        var to = choice.value ? Number(choice.value) : null;
        var whom = choice.options[choice.selectedIndex] ? choice.options[choice.selectedIndex].textContent : t("the_queue");
        act("transfer", { to: to }, function () {
          outcome.textContent = t("transferred", { whom: whom });
          window.location.assign("/console");
        });
      });
      load();
      return {
        node: box,
        enable: function (on) { choice.disabled = !on; send.disabled = !on; }
      };
    }

    /* Canned replies and the knowledge base's answers, in the customer's language, put into the reply to edit and send. */
    function suggestionsControl(reply) {
      var box = el("div", null, "suggestions");
      var choice = el("select");
      var insert = el("button", t("insert"));
      insert.type = "button";
      var texts = {};
      choice.appendChild(option("", t("choose_suggestion")));
      box.appendChild(labelled("suggestion", t("suggested_answers"), choice));
      box.appendChild(insert);

      function group(label, items, prefix) {
        var node = el("optgroup");
        node.label = label;
        items.forEach(function (item, index) {
          texts[prefix + index] = item.text;
          node.appendChild(option(prefix + index, item.title));
        });
        if (items.length) choice.appendChild(node);
      }

      getJson(base + "/suggestions").then(function (answer) {
        group(t("canned_replies"), answer.canned || [], "canned-");
        group(t("knowledge_version", { version: answer.knowledge_version }), answer.knowledge || [], "knowledge-");
      }, function () { /* none to offer: the agent writes the reply */ });

      insert.addEventListener("click", function () {
        var text = texts[choice.value];
        if (!text) {
          problem.textContent = t("choose_first");
          choice.focus();
          return;
        }
        problem.textContent = "";
        reply.value = reply.value.trim() ? reply.value.replace(/\s+$/, "") + "\n\n" + text : text;
        reply.focus();
      });
      return {
        node: box,
        enable: function (on) { choice.disabled = !on; insert.disabled = !on; }
      };
    }

    /* A privacy request filed for the verified customer: the ledger names the agent, the customer is told. */
    function filingControl() {
      var box = el("section", null, "filing");
      box.setAttribute("aria-labelledby", "filing-heading");
      var heading = el("h2", t("file_heading"));
      heading.id = "filing-heading";
      box.appendChild(heading);
      var hint = el("p", t("file_hint"), "muted");
      box.appendChild(hint);
      var form = el("form");
      form.id = "filing-form";
      var type = el("select");
      Object.keys(REQUEST_TYPES).forEach(function (id) { type.appendChild(option(id, REQUEST_TYPES[id])); });
      form.appendChild(labelled("filing-type", t("which_request"), type));
      // An objection (Art. 21(1)) names the processing it is about: a purpose of the register on legitimate interest.
      var purpose = el("select");
      purpose.required = true;
      var purposeField = labelled("filing-purpose", t("which_processing"), purpose);
      purposeField.hidden = true;
      form.appendChild(purposeField);
      getJson("/api/console/objectable-purposes").then(function (found) {
        (found.purposes || []).forEach(function (p) { purpose.appendChild(option(p.id, p.name.en + " (" + p.name.nl + ")")); });
      }, function () { /* the filing answers why, if it is needed */ });
      function showPurpose() {
        purposeField.hidden = type.value !== "objection";
        purpose.disabled = purposeField.hidden;
      }
      type.addEventListener("change", showPurpose);
      showPurpose();
      var note = el("textarea");
      note.rows = 2;
      note.maxLength = 2000;
      form.appendChild(labelled("filing-note", t("file_note"), note));
      var send = el("button", t("file_button"));
      send.type = "submit";
      form.appendChild(send);
      box.appendChild(form);
      var pending = filingId(); // kept until the filing succeeds: sending again files once

      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var details = note.value.trim() ? { note: note.value.trim() } : {};
        if (type.value === "objection") details.purpose = purpose.value;
        if (!Object.keys(details).length) details = null;
        var body = { type: type.value, categories: null, details: details, client_request_id: pending };
        busy = true;
        updateControls();
        problem.textContent = "";
        post(base + "/requests", body).then(function (filed) {
          busy = false;
          pending = filingId();
          note.value = "";
          outcome.textContent = t("filed", { request: filed.request, type: words(filed.type), due: filed.due_on });
          updateControls();
        }, function (error) {
          busy = false;
          updateControls();
          problem.textContent = error.message;
          problem.scrollIntoView({ block: "nearest" });
        });
      });
      return {
        node: box,
        enable: function (on) {
          Array.prototype.forEach.call(form.elements, function (field) { field.disabled = !on; });
          if (on) showPurpose();
        }
      };
    }

    function fact(list, term, value) {
      list.appendChild(el("dt", term));
      var description = el("dd");
      if (typeof value === "string") description.textContent = value;
      else description.appendChild(value);
      list.appendChild(description);
    }

    function showFacts(c) {
      var signature = JSON.stringify([c.state, c.claimed_by, c.claimed_by_name, c.ended_because, waited(c.waiting_seconds), c.reason,
        c.language, c.channel, c.verified, c.open_requests, c.summary, c.customer_away_since, me && me.id]);
      show(facts, signature, function () {
        var list = document.createDocumentFragment();
        fact(list, t("fact_state"), stateText(c, me));
        if (c.customer_away_since) fact(list, t("fact_away"), awayText(c));
        fact(list, t(c.state === "waiting" ? "fact_waiting" : "fact_waited"), waited(c.waiting_seconds));
        fact(list, t("fact_reason"), REASONS[c.reason] || words(c.reason));
        fact(list, t("fact_language"), LANGUAGES[c.language] || c.language);
        fact(list, t("fact_channel"), channelText(c));
        fact(list, t("fact_customer"), verifiedText(c));
        fact(list, t("fact_open_requests"), listOf((c.open_requests || []).map(requestText), t("none")));
        fact(list, t("fact_asked"), summaryNode(c.summary));
        return list;
      });
    }

    /* An agent's reply is a bot message in Rasa's tracker; the back office names the agent when it knows them. */
    function speaker(message) {
      if (message.agent) return t("agent_named", { name: message.agent });
      if (message.from === "agent") return t("agent");
      if (message.from === "customer") return t("customer");
      if (message.from === "assistant") return t("assistant");
      return words(message.from) || t("unknown");
    }

    function messageItem(message) {
      var item = el("li", null, "message from-" + (message.agent ? "agent" : String(message.from || "unknown").replace(/[^a-z]/g, "")));
      var heading = el("p", null, "said-by");
      heading.appendChild(el("span", speaker(message), "who"));
      heading.appendChild(document.createTextNode(", "));
      heading.appendChild(timeElement(message.at));
      item.appendChild(heading);
      item.appendChild(el("p", message.text, "text"));
      return item;
    }

    function sameMessage(a, b) {
      return a.at === b.at && a.from === b.from && a.text === b.text && a.agent === b.agent;
    }

    /* New messages are added at the end (the list is a polite live region); a changed history is redrawn. */
    function showTranscript(messages) {
      var keeps = shownMessages.length > 0 && messages.length >= shownMessages.length &&
        shownMessages.every(function (m, i) { return sameMessage(m, messages[i]); });
      if (!keeps) {
        if (!messages.length && transcript.dataset.shown === "none") return;
        while (transcript.firstChild) transcript.removeChild(transcript.firstChild);
        shownMessages = [];
      }
      transcript.dataset.shown = messages.length ? "messages" : "none";
      if (!messages.length) transcript.appendChild(el("li", t("no_messages"), "muted"));
      messages.slice(shownMessages.length).forEach(function (message) { transcript.appendChild(messageItem(message)); });
      shownMessages = messages.slice();
    }

    function showNotes(list) {
      show(notes, JSON.stringify(list), function () {
        var items = document.createDocumentFragment();
        if (!list.length) items.appendChild(el("li", t("no_notes"), "muted"));
        list.forEach(function (note) {
          var item = el("li");
          var heading = el("p", null, "said-by");
          heading.appendChild(el("span", note.by, "who"));
          heading.appendChild(document.createTextNode(", "));
          heading.appendChild(timeElement(note.at));
          item.appendChild(heading);
          item.appendChild(el("p", note.text, "text"));
          items.appendChild(item);
        });
        return items;
      });
    }

    function render(c) {
      current = c;
      showFacts(c);
      showTranscript(Array.isArray(c.transcript) ? c.transcript : []);
      showNotes(Array.isArray(c.notes) ? c.notes : []);
      if (ended()) outcome.textContent = t("ended", { state: stateText(c, me) });
      updateControls();
    }

    /* Not ours to see any more: a colleague took it, or it ended. The claim button stays, so a claim
       made from what the page last showed is answered by the back office (and a refusal shown). */
    function gone() {
      if (current !== null) {
        current = Object.assign({}, current, { state: "gone" });
        showFacts(current);
      }
      outcome.textContent = t("gone");
      updateControls();
    }

    /* One change: the button or form is off while it is under way, the answer is shown, a refusal in #problem. */
    function act(step, body, done) {
      busy = true;
      updateControls();
      problem.textContent = "";
      return post(base + "/" + step, body).then(
        function (answer) {
          busy = false;
          if (answer) render(answer);
          if (done) done(answer);
          else updateControls();
        },
        function (error) {
          busy = false;
          updateControls();
          problem.textContent = error.message;
          problem.scrollIntoView({ block: "nearest" });
        }
      );
    }

    buttons.claim.addEventListener("click", function () {
      act("claim", undefined, function () {
        outcome.textContent = t("taken");
        updateControls();
        document.getElementById("reply").focus();
      });
    });
    buttons.handBack.addEventListener("click", function () {
      act("hand-back", undefined, function () {
        outcome.textContent = t("handed_back");
        window.location.assign("/console");
      });
    });
    buttons.close.addEventListener("click", function () {
      act("close", undefined, function () {
        outcome.textContent = t("closed");
        window.location.assign("/console");
      });
    });

    function sendsText(form, field, step, said) {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        var text = field.value.trim();
        if (!text) {
          problem.textContent = t("write_first");
          field.focus();
          return;
        }
        act(step, { text: text }, function () {
          field.value = "";
          outcome.textContent = said;
          updateControls();
          field.focus();
        });
      });
    }

    sendsText(replyForm, document.getElementById("reply"), "reply", t("reply_sent"));
    sendsText(noteForm, document.getElementById("note"), "notes", t("note_saved"));

    updateControls();
    whoAmI().then(function (found) {
      me = account(found);
      listen(STREAM + "?conversation=" + encodeURIComponent(entryId), status, { conversation: render, gone: gone });
    });
  }

  /* ------------------------------------------------------------------ */
  /* Start                                                               */
  /* ------------------------------------------------------------------ */

  function start() {
    var status = document.getElementById("live-status");
    var queue = document.getElementById("queue");
    var conversation = document.getElementById("conversation");
    if (conversation && status) conversationPage(conversation, status);
    else if (queue && status) queuePage(queue, status);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
