// The page of tests/e2e/test_browser_snippet.py: the snippet's install HTML as JavaScript, then
// what a visitor does on it, in a Node vm with a minimal stand-in for the browser.
const vm = require("vm");
const [sdk, api, store, key, email] = JSON.parse(process.argv[1]);
const storage = {};
const listeners = {};
const sent = [];
const location = new URL("https://shop.example.com/products/venise?utm_source=x&sf_t=abc.1.def#top");
const page = {
  URL, URLSearchParams, setTimeout, clearTimeout, Uint8Array, JSON, String, Object, Array, Date, RegExp, console,
  crypto: require("crypto").webcrypto,
  localStorage: { getItem: (k) => storage[k] || null, setItem: (k, v) => { storage[k] = v; }, removeItem: (k) => { delete storage[k]; } },
  location: { get href() { return location.href; }, get search() { return location.search; },
              get pathname() { return location.pathname; }, get hash() { return location.hash; }, protocol: "https:" },
  history: { state: null, replaceState: (state, title, url) => { const next = new URL(url, location.href); location.search = next.search; } },
  navigator: {
    sendBeacon: (url, body) => { sent.push(fetch(url, { method: "POST", body, headers: { "content-type": "text/plain;charset=UTF-8", origin: "https://shop.example.com" } })); return true; },
  },
  fetch: (url, options) => { const call = fetch(url, { ...options, headers: { ...options.headers, origin: "https://shop.example.com" } }); sent.push(call); return call; },
  addEventListener: (name, listener) => { listeners[name] = listener; },
};
page.window = page;
page.document = { cookie: "", title: "Venise dress", currentScript: null, visibilityState: "visible", addEventListener: () => {} };
vm.createContext(page);
// The install HTML's first script: calls queue until the snippet has loaded.
vm.runInContext(`window.storeflows = window.storeflows || function () { (storeflows.q = storeflows.q || []).push(arguments); };`, page);
page.storeflows("init", { store, key, endpoint: api, consent_required: true });
page.storeflows("track", "product_viewed", { product: { product_id: "p-1", name: "Venise dress", url: "https://shop.example.com/products/venise" } });
vm.runInContext(sdk, page);
const before = { stored: Object.keys(storage).length, cookie: page.document.cookie, sent: sent.length };
page.storeflows("consent", true);
page.storeflows("identify", { email });
page.storeflows("notifyMe", { email, product: { product_id: "p-1", variant_id: "v-2", name: "Venise dress" } });
listeners.pagehide();
Promise.all(sent).then(async (answers) => {
  const bodies = await Promise.all(answers.map(async (answer) => [answer.status, await answer.json()]));
  console.log(JSON.stringify({ before, answers: bodies, visitor: storage.sf_vid, url: location.href }));
});
