/*
 * Voltera demo page: language handling (NL/EN) for the page texts.
 *
 * Loaded synchronously in <head> so <html lang> is correct before first paint.
 * The page language is the lang attribute of <html>; the chat widget reads it
 * from there (and watches it for changes).
 */
(function () {
  "use strict";

  var STORAGE_KEY = "voltera_lang";
  var SUPPORTED = ["nl", "en"];

  var TEXTS = {
    nl: {
      title: "Voltera – elektronica voor thuis en onderweg",
      skip: "Naar de inhoud",
      navLabel: "Hoofdmenu",
      navProducts: "Producten",
      navPlus: "Voltera Plus",
      navStores: "Winkels",
      langLabel: "Taal",
      heroEyebrow: "Nieuw seizoen, nieuwe tech",
      heroTitle: "Slimme elektronica, eerlijk over je gegevens",
      heroLead: "Shop online of in een van onze winkels. Benieuwd wat Voltera met je persoonsgegevens doet? Vraag het onze privacy-assistent, rechtsonder in beeld.",
      heroCta: "Bekijk aanbiedingen",
      heroChat: "Stel een privacyvraag",
      productsTitle: "Populair deze week",
      p1Name: "Ultra HD televisie 55\"",
      p1Desc: "Scherp beeld, ingebouwde apps.",
      p2Name: "Draadloze koptelefoon",
      p2Desc: "Noise cancelling, 30 uur accu.",
      p3Name: "Laptop 14\" ultralicht",
      p3Desc: "16 GB geheugen, 512 GB SSD.",
      p4Name: "Smartwatch Active",
      p4Desc: "Sport, slaap en meldingen.",
      priceLabel: "Prijs:",
      view: "Bekijk",
      plusTitle: "Voltera Plus",
      plusText: "Spaar punten bij elke aankoop, online en in de winkel, en krijg persoonlijke aanbiedingen. Je bepaalt zelf welke gegevens we daarvoor gebruiken.",
      storesTitle: "Onze winkels",
      storesText: "Meer dan 40 winkels in heel Nederland. Advies, reparatie en ophalen van je online bestelling.",
      footerPrivacyTitle: "Privacy bij Voltera",
      footerPrivacyText: "Wil je weten welke gegevens we van je bewaren, waarom, en hoe je ze inziet of laat verwijderen? Onze privacy-assistent legt het uit.",
      footerPrivacyBtn: "Open de privacy-assistent",
      fictional: "(fictief bedrijf, demo)",
      footerNavLabel: "Voettekst",
      privacy: "Privacy",
      contact: "Contact",
      demoLogin: "Inloggen (demo)",
      demoLogout: "Uitloggen",
      demoLoggedIn: "Ingelogd als",
      demoChoose: "Kies een demoklant",
      demoInbox: "Demo-inbox",
      demoLoginFailed: "Inloggen lukte niet, probeer het opnieuw.",
      demoBanner: "Demo: fictieve klanten; iedereen kan inloggen als demoklant en de inlogcodes lezen in de demo-inbox."
    },
    en: {
      title: "Voltera – electronics for home and on the go",
      skip: "Skip to content",
      navLabel: "Main menu",
      navProducts: "Products",
      navPlus: "Voltera Plus",
      navStores: "Stores",
      langLabel: "Language",
      heroEyebrow: "New season, new tech",
      heroTitle: "Smart electronics, honest about your data",
      heroLead: "Shop online or in one of our stores. Curious what Voltera does with your personal data? Ask our privacy assistant, bottom right of the screen.",
      heroCta: "See the deals",
      heroChat: "Ask a privacy question",
      productsTitle: "Popular this week",
      p1Name: "Ultra HD television 55\"",
      p1Desc: "Sharp picture, built-in apps.",
      p2Name: "Wireless headphones",
      p2Desc: "Noise cancelling, 30-hour battery.",
      p3Name: "Laptop 14\" ultralight",
      p3Desc: "16 GB memory, 512 GB SSD.",
      p4Name: "Smartwatch Active",
      p4Desc: "Sport, sleep and notifications.",
      priceLabel: "Price:",
      view: "View",
      plusTitle: "Voltera Plus",
      plusText: "Earn points with every purchase, online and in store, and get personal offers. You decide which data we use for that.",
      storesTitle: "Our stores",
      storesText: "More than 40 stores across the Netherlands. Advice, repairs and pick-up of your online order.",
      footerPrivacyTitle: "Privacy at Voltera",
      footerPrivacyText: "Want to know which data we keep about you, why, and how to see it or have it deleted? Our privacy assistant explains.",
      footerPrivacyBtn: "Open the privacy assistant",
      fictional: "(fictional company, demo)",
      footerNavLabel: "Footer",
      privacy: "Privacy",
      contact: "Contact",
      demoLogin: "Log in (demo)",
      demoLogout: "Log out",
      demoLoggedIn: "Logged in as",
      demoChoose: "Choose a demo customer",
      demoInbox: "Demo inbox",
      demoLoginFailed: "Logging in failed, please try again.",
      demoBanner: "Demo: fictional customers; anyone can log in as a demo customer and read the one-time codes in the demo inbox."
    }
  };

  function normalise(lang) {
    lang = String(lang || "").toLowerCase();
    return lang.indexOf("nl") === 0 ? "nl" : "en";
  }

  function storedLang() {
    try {
      var v = window.localStorage.getItem(STORAGE_KEY);
      return SUPPORTED.indexOf(v) >= 0 ? v : null;
    } catch (e) {
      return null; // storage blocked (privacy mode, file://, ...)
    }
  }

  function initialLang() {
    var stored = storedLang();
    if (stored) return stored;
    var nav = (navigator.languages && navigator.languages[0]) || navigator.language || "";
    return normalise(nav);
  }

  function applyTexts(lang) {
    var dict = TEXTS[lang] || TEXTS.en;
    document.title = dict.title;
    var nodes = document.querySelectorAll("[data-i18n]");
    for (var i = 0; i < nodes.length; i++) {
      var key = nodes[i].getAttribute("data-i18n");
      if (Object.prototype.hasOwnProperty.call(dict, key)) nodes[i].textContent = dict[key];
    }
    var labelled = document.querySelectorAll("[data-i18n-aria]");
    for (var j = 0; j < labelled.length; j++) {
      var k = labelled[j].getAttribute("data-i18n-aria");
      if (Object.prototype.hasOwnProperty.call(dict, k)) labelled[j].setAttribute("aria-label", dict[k]);
    }
    var buttons = document.querySelectorAll(".lang-btn[data-lang]");
    for (var b = 0; b < buttons.length; b++) {
      buttons[b].setAttribute("aria-pressed", buttons[b].getAttribute("data-lang") === lang ? "true" : "false");
    }
  }

  function setLang(lang, persist) {
    lang = normalise(lang);
    document.documentElement.lang = lang; // the chat widget observes this attribute
    if (persist) {
      try { window.localStorage.setItem(STORAGE_KEY, lang); } catch (e) { /* ignore */ }
    }
    if (document.readyState !== "loading") applyTexts(lang);
  }

  // Set the language as early as possible (this script runs in <head>).
  document.documentElement.lang = initialLang();

  /* ------------------------------------------------------------------ */
  /* Demo login (only when the back office runs with DEMO_MODE=1)         */
  /* ------------------------------------------------------------------ */

  /*
   * The demo website's "logged-in session": the back office signs a token for the chosen seed
   * customer (POST /demo/login). It lives in sessionStorage (this tab only) under SESSION_KEY as
   * {token, customer_id, name, expires_at (on this browser's clock)}; the chat widget sends the token when it connects and
   * with every message. Logging in or out starts a new chat conversation.
   */
  var SESSION_KEY = "voltera_session";

  function readSession() {
    try {
      var s = JSON.parse(window.sessionStorage.getItem(SESSION_KEY) || "null");
      if (s && typeof s.token === "string" && s.token && Date.parse(s.expires_at) > Date.now()) return s;
      if (s) window.sessionStorage.removeItem(SESSION_KEY); // expired: logged out
    } catch (e) { /* storage blocked or garbage */ }
    return null;
  }

  function writeSession(session) {
    try {
      if (session) window.sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
      else window.sessionStorage.removeItem(SESSION_KEY);
    } catch (e) { /* storage blocked: the login lasts until the page is left */ }
  }

  function t(key) {
    var dict = TEXTS[document.documentElement.lang] || TEXTS.en;
    return dict[key] || TEXTS.en[key] || "";
  }

  var demo = { root: null, expiryTimer: null };

  function demoEl(selector) {
    return demo.root ? demo.root.querySelector(selector) : null;
  }

  function showDemoError(message) {
    var box = demoEl("[data-demo-error]");
    if (!box) return;
    box.textContent = message || "";
    if (message) box.removeAttribute("hidden"); else box.setAttribute("hidden", "");
  }

  function toggleCustomers(open) {
    var list = demoEl("#demo-customers");
    var btn = demoEl("#demo-login");
    if (!list || !btn) return;
    if (open) list.removeAttribute("hidden"); else list.setAttribute("hidden", "");
    btn.setAttribute("aria-expanded", open ? "true" : "false");
    var header = demo.root.closest(".site-header");
    if (header) header.classList.toggle("demo-open", !!open); // the list goes over an open chat panel
  }

  function renderSession() {
    if (!demo.root) return;
    var session = readSession();
    var out = demoEl("[data-demo-out]");
    var inn = demoEl("[data-demo-in]");
    clearTimeout(demo.expiryTimer);
    if (session) {
      demoEl("[data-demo-name]").textContent = session.name || session.customer_id;
      out.setAttribute("hidden", "");
      inn.removeAttribute("hidden");
      // Log out by itself when the token expires.
      demo.expiryTimer = setTimeout(function () { logout(); }, Math.max(0, Date.parse(session.expires_at) - Date.now()));
    } else {
      inn.setAttribute("hidden", "");
      out.removeAttribute("hidden");
    }
    toggleCustomers(false);
  }

  function chatChanged() {
    if (window.volteraChat && typeof window.volteraChat.resetSession === "function") window.volteraChat.resetSession();
  }

  function login(customerId) {
    showDemoError("");
    fetch("/demo/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ customer_id: customerId })
    }).then(function (response) {
      if (!response.ok) throw new Error("login " + response.status);
      return response.json();
    }).then(function (body) {
      // timed on this browser's clock (expires_in), so a clock that differs from the server's ends it on time
      var expiresAt = new Date(Date.now() + body.expires_in * 1000).toISOString();
      writeSession({ token: body.token, customer_id: body.customer_id, name: body.name, expires_at: expiresAt });
      renderSession();
      chatChanged();
    }).catch(function () {
      showDemoError(t("demoLoginFailed"));
    });
  }

  function logout() {
    var had = !!readSession();
    writeSession(null);
    renderSession();
    if (had) chatChanged();
  }

  function renderCustomers(customers) {
    var list = demoEl("[data-demo-list]");
    list.textContent = "";
    customers.forEach(function (c) {
      var li = document.createElement("li");
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "demo-customer";
      btn.setAttribute("data-testid", "demo-customer-" + c.customer_id);
      btn.setAttribute("data-customer", c.customer_id);
      var name = document.createElement("span");
      name.textContent = c.name + " (" + c.customer_id + ")";
      var email = document.createElement("small");
      email.textContent = c.email || "";
      btn.appendChild(name);
      btn.appendChild(email);
      li.appendChild(btn);
      list.appendChild(li);
    });
  }

  function initDemo() {
    demo.root = document.getElementById("demo-account");
    var banner = document.getElementById("demo-banner");
    if (!demo.root || typeof window.fetch !== "function") return;
    fetch("/api/demo/customers", { headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) throw new Error("no demo"); // 404: the back office is not in demo mode
      return response.json();
    }).then(function (body) {
      renderCustomers(body.customers || []);
      demo.root.removeAttribute("hidden");
      if (banner) banner.removeAttribute("hidden");
      renderSession();
    }).catch(function () {
      demo.root.setAttribute("hidden", "");
      if (banner) banner.setAttribute("hidden", "");
    });

    demo.root.addEventListener("click", function (ev) {
      var target = ev.target && ev.target.closest ? ev.target : null;
      if (!target) return;
      if (target.closest("#demo-login")) {
        toggleCustomers(demoEl("#demo-customers").hasAttribute("hidden"));
        return;
      }
      var choice = target.closest("[data-customer]");
      if (choice) {
        login(choice.getAttribute("data-customer"));
        return;
      }
      if (target.closest("[data-testid='demo-logout']")) logout();
    });
    document.addEventListener("click", function (ev) {
      if (demo.root && !demo.root.contains(ev.target)) toggleCustomers(false);
    });
    document.addEventListener("keydown", function (ev) {
      if ((ev.key === "Escape" || ev.key === "Esc") && demoEl("#demo-customers") && !demoEl("#demo-customers").hasAttribute("hidden")) {
        toggleCustomers(false);
        demoEl("#demo-login").focus();
      }
    });
  }

  function init() {
    applyTexts(document.documentElement.lang);
    initDemo();

    document.addEventListener("click", function (ev) {
      var target = ev.target && ev.target.closest ? ev.target : null;
      if (!target) return;
      var langBtn = target.closest(".lang-btn[data-lang]");
      if (langBtn) {
        setLang(langBtn.getAttribute("data-lang"), true);
        return;
      }
      var opener = target.closest("[data-open-chat]");
      if (opener && window.volteraChat && typeof window.volteraChat.open === "function") {
        ev.preventDefault();
        window.volteraChat.open();
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }

  window.volteraSite = {
    setLang: function (lang) { setLang(lang, true); },
    /* The demo login's signed session token, or null (not logged in, or expired). */
    getSessionToken: function () { var s = readSession(); return s ? s.token : null; },
    getSession: readSession,
    logout: logout
  };
})();
