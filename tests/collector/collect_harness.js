// Runs webhooks/collect.js in a minimal fake browser and prints what it did, as JSON.
// Usage: node collect_harness.js SCRIPT.js < scenario.json
// Scenario: {href, referrer, cookie, gpc, consent, consentThrows, inputs: [{name, type, value}],
//            now, src, beacon (bool), submit (bool)}
"use strict";
const fs = require("fs");
const vm = require("vm");
const { webcrypto } = require("crypto");

const scenario = JSON.parse(fs.readFileSync(0, "utf8"));
const source = fs.readFileSync(process.argv[2], "utf8");
const NOW = Date.parse(scenario.now || "2026-03-01T09:00:00Z");

const jar = new Map();
const cookieWrites = [];
(scenario.cookie || "").split(/;\s*/).filter(Boolean).forEach((pair) => {
  const at = pair.indexOf("=");
  jar.set(pair.slice(0, at), pair.slice(at + 1));
});

const inputs = (scenario.inputs || []).map((spec) => Object.assign({ type: "hidden", value: "" }, spec));
const form = { elements: inputs, querySelectorAll: () => inputs.filter((i) => i.name.startsWith("cl_")) };
const listeners = [];
const posts = [];

const document = {
  referrer: scenario.referrer || "",
  currentScript: {
    src: scenario.src || "https://cl.example.net/collect.js",
    getAttribute: (name) => (scenario.attributes || {})[name] || null,
  },
  querySelectorAll: (selector) => {
    if (selector !== "input[name^='cl_']") throw new Error("unexpected selector " + selector);
    return inputs.filter((input) => input.name.startsWith("cl_"));
  },
  addEventListener: (type, handler, capture) => listeners.push({ type, handler, capture }),
};
Object.defineProperty(document, "cookie", {
  get: () => Array.from(jar, ([k, v]) => k + "=" + v).join("; "),
  set: (text) => {
    cookieWrites.push(text);
    const [pair, ...attributes] = text.split(/;\s*/);
    const at = pair.indexOf("=");
    const maxAge = attributes.find((a) => /^max-age=/i.test(a));
    if (maxAge && Number(maxAge.split("=")[1]) <= 0) jar.delete(pair.slice(0, at));
    else jar.set(pair.slice(0, at), pair.slice(at + 1));
  },
});

const navigator = { globalPrivacyControl: scenario.gpc === true };
if (scenario.beacon !== false) {
  navigator.sendBeacon = (url, data) => { posts.push({ via: "beacon", url, body: JSON.parse(data) }); return true; };
}
class FixedDate extends Date {
  constructor(...args) { if (args.length) super(...args); else super(NOW); }
  static now() { return NOW; }
}
const window = {
  document, navigator, location: new URL(scenario.href), crypto: webcrypto, Date: FixedDate,
  fetch: (url, init) => {
    posts.push({ via: "fetch", url, body: JSON.parse(init.body), init: { method: init.method, keepalive: init.keepalive } });
    return Promise.resolve({ ok: true });
  },
};
if ("consent" in scenario) window.closedloopConsent = scenario.consent;
if ("consentFunction" in scenario) window.closedloopConsent = () => scenario.consentFunction;
if (scenario.consentThrows) window.closedloopConsent = () => { throw new Error("CMP not loaded"); };
window.window = window;

const context = vm.createContext(Object.assign(window, { URL, Uint8Array, Array, JSON, Object, Math, Promise, Date: FixedDate }));
vm.runInContext(source, context, { filename: "collect.js" });
if (scenario.submit) {
  listeners.filter((l) => l.type === "submit").forEach((l) => l.handler({ target: form }));
}
const cookie = jar.has("cl_touch") ? JSON.parse(decodeURIComponent(jar.get("cl_touch"))) : null;
process.stdout.write(JSON.stringify({
  cookie,
  cookieWrites,
  inputs: Object.fromEntries(inputs.map((i) => [i.name, i.value])),
  posts,
  listeners: listeners.map((l) => l.type),
  api: typeof window.closedloop,
}));
