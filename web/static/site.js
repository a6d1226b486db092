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
      contact: "Contact"
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
      contact: "Contact"
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

  function init() {
    applyTexts(document.documentElement.lang);

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

  window.volteraSite = { setLang: function (lang) { setLang(lang, true); } };
})();
