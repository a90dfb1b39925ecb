/*
 * closedloop first-party touch collector (served at /collect.js; no dependencies, ES2017).
 *
 * <script src="https://closedloop.example.com/collect.js" async></script>
 *
 * - Reads the UTM parameters and click ids of the landing URL, the referrer and the page.
 * - Keeps a visitor id and the first and last touch in the first-party cookie `cl_touch`
 *   (SameSite=Lax, Secure on https, lifetime from collector.cookie_days).
 * - Fills hidden form fields named cl_visitor_id and cl_first_* / cl_last_* (see
 *   docs/collector.md), and posts touches to <script origin and folder>/collect.
 * - Does nothing when Global Privacy Control is on (collector.honour_gpc) or when
 *   window.closedloopConsent (a value or a function) says no. Call window.closedloop.start()
 *   once consent is given later.
 */
(function (window, document) {
  "use strict";
  const settings = Object.assign(
    { cookieDays: 180, honourGpc: true },
    typeof __CLOSEDLOOP_SETTINGS__ === "object" ? __CLOSEDLOOP_SETTINGS__ : {}
  );
  const COOKIE = "cl_touch";
  const UTM = ["utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"];
  const CLICK_IDS = ["gclid", "gbraid", "wbraid", "dclid", "msclkid", "fbclid", "ttclid",
    "li_fat_id", "twclid", "sccid", "epik", "yclid"];
  const FIELDS = [...UTM, ...CLICK_IDS, "landing_page", "referrer", "touch_at"];
  const PERSONAL = /^(e-?mail|email_?address|phone|phone_number|tel|mobile|address|f?name|first_?name|l?name|last_?name)$/i;
  const script = document.currentScript;
  const endpoint = (script && script.getAttribute("data-endpoint")) ||
    (script && script.src ? new URL("collect", script.src).href : "/collect");
  const cookieDomain = script && script.getAttribute("data-cookie-domain");
  let state = null;

  const cut = (text, size) => String(text || "").slice(0, size);
  const hostOf = (url) => {
    try { return new URL(url).hostname.replace(/^www\./, "").toLowerCase(); } catch (e) { return ""; }
  };
  const pageOf = (url) => {
    try { const u = new URL(url); return cut(u.origin + u.pathname, 200); } catch (e) { return ""; }
  };

  function consent() {
    const hook = window.closedloopConsent;
    if (hook === undefined) return null;
    try { return typeof hook === "function" ? hook() : hook; } catch (e) { return false; }
  }

  function permitted(answer) {
    if (settings.honourGpc && window.navigator && window.navigator.globalPrivacyControl === true) {
      return false;
    }
    if (answer === null) return true;
    if (answer && typeof answer === "object") return Object.keys(answer).some((k) => answer[k] === true);
    return answer === true;
  }

  function newVisitorId() {
    const crypto = window.crypto;
    if (crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    if (crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function readCookie() {
    const prefix = COOKIE + "=";
    const found = String(document.cookie || "").split(/;\s*/).find((c) => c.indexOf(prefix) === 0);
    if (!found) return {};
    try {
      const value = JSON.parse(decodeURIComponent(found.slice(prefix.length)));
      return value && typeof value === "object" ? value : {};
    } catch (e) {
      return {};
    }
  }

  function writeCookie(value) {
    const encoded = encodeURIComponent(JSON.stringify(value));
    if (encoded.length > 3800) return;
    const attributes = ["Path=/", "Max-Age=" + Math.round(settings.cookieDays * 86400), "SameSite=Lax"];
    if (cookieDomain) attributes.push("Domain=" + cookieDomain);
    if (window.location.protocol === "https:") attributes.push("Secure");
    document.cookie = COOKIE + "=" + encoded + "; " + attributes.join("; ");
  }

  function currentTouch(now) {
    const params = new URL(window.location.href).searchParams;
    const touch = { touch_at: now.toISOString(), landing_page: pageOf(window.location.href) };
    const referrer = pageOf(document.referrer);
    if (referrer) touch.referrer = referrer;
    UTM.forEach((name) => { if (params.get(name)) touch[name] = cut(params.get(name), 100); });
    CLICK_IDS.forEach((name) => { if (params.get(name)) touch[name] = cut(params.get(name), 150); });
    return touch;
  }

  function withoutPersonalParams(href) {
    const url = new URL(href);
    Array.from(url.searchParams.keys()).forEach((key) => {
      if (PERSONAL.test(key)) url.searchParams.delete(key);
    });
    url.hash = "";
    return url.href;
  }

  function isNewTouch(touch, known) {
    if (!known.f) return true;
    if ([...UTM, ...CLICK_IDS].some((name) => touch[name])) return true;
    return Boolean(touch.referrer) && hostOf(touch.referrer) !== hostOf(window.location.href);
  }

  function posted(touch) {
    const body = { url: touch.landing_page, occurred_at: touch.touch_at };
    if (touch.referrer) body.referrer = touch.referrer;
    [...UTM, ...CLICK_IDS].forEach((name) => { if (touch[name]) body[name] = touch[name]; });
    return body;
  }

  function send(message) {
    const data = JSON.stringify(message);
    const navigator = window.navigator || {};
    try {
      if (typeof navigator.sendBeacon === "function" && navigator.sendBeacon(endpoint, data)) return;
    } catch (e) { /* fall back to fetch */ }
    if (typeof window.fetch === "function") {
      window.fetch(endpoint, {
        method: "POST", body: data, keepalive: true, credentials: "omit",
        headers: { "Content-Type": "text/plain" },
      }).catch(() => {});
    }
  }

  function fieldValue(name) {
    if (name === "cl_visitor_id") return state.v;
    const match = /^cl_(first|last)_(.+)$/.exec(name);
    if (!match || FIELDS.indexOf(match[2]) < 0) return undefined;
    const touch = match[1] === "first" ? state.f : state.l;
    return (touch && touch[match[2]]) || "";
  }

  function fill(root) {
    if (!state) return;
    const inputs = (root || document).querySelectorAll("input[name^='cl_']");
    Array.prototype.forEach.call(inputs, (input) => {
      const value = fieldValue(input.name);
      if (value !== undefined) input.value = value;
    });
  }

  function onSubmit(event) {
    const form = event.target;
    const answer = consent();
    if (!state || !form || !permitted(answer)) return;
    fill(form);
    const message = { visitor_id: state.v, type: "form", touches: [posted(state.l)] };
    if (state.f && JSON.stringify(state.f) !== JSON.stringify(state.l)) message.touches.unshift(posted(state.f));
    const emailInput = Array.prototype.find.call(form.elements || [], (input) =>
      input && (input.type === "email" || /^e-?mail$/i.test(input.name || "")));
    const email = emailInput ? String(emailInput.value || "").trim() : "";
    if (/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(email)) message.email = email;
    if (answer !== null) message.consent = answer;
    send(message);
  }

  function start() {
    const answer = consent();
    if (state || !permitted(answer)) return;
    const known = readCookie();
    const touch = currentTouch(new Date());
    const fresh = isNewTouch(touch, known);
    state = {
      v: typeof known.v === "string" && /^[A-Za-z0-9._:-]{8,128}$/.test(known.v) ? known.v : newVisitorId(),
      f: known.f || touch,
      l: fresh ? touch : known.l || touch,
    };
    writeCookie(state);
    fill(document);
    document.addEventListener("submit", onSubmit, true);
    if (fresh) {
      const message = { visitor_id: state.v, type: "pageview", touch: posted(touch) };
      message.touch.url = withoutPersonalParams(window.location.href);
      if (document.referrer) message.touch.referrer = document.referrer;
      if (answer !== null) message.consent = answer;
      send(message);
    }
  }

  window.closedloop = { start: start, fill: fill, visitorId: () => (state ? state.v : null) };
  start();
})(window, document);
