/* Storeflows browser snippet (GET /sdk/storeflows.js). No dependencies.
 *
 *   storeflows('init', {store: 'my-shop', key: 'pk_...', endpoint: 'https://<ApiUrl>', consent_required: true})
 *   storeflows('track', 'product_viewed', {product: {product_id: 'p-1', name: 'Venise dress'}})
 *   storeflows('identify', {email: 'ana@example.com'})
 *   storeflows('subscribe', {email: 'ana@example.com', consent_text: 'Yes, send me news.', source: 'footer'})
 *   storeflows('notifyMe', {email: 'ana@example.com', product: {product_id: 'p-1', variant_id: 'v-2', name: 'Venise dress'}})
 *   storeflows('consent', true)   // or false: forget the visitor id, send nothing more
 *
 * Events go to POST <endpoint>/collect/<store> in batches, as text/plain (no CORS preflight),
 * by fetch(keepalive) a moment after they happen and by sendBeacon when the page is hidden.
 * With consent_required (the default), nothing is stored in the browser and nothing is sent
 * until storeflows('consent', true); calls made before are held in memory only. A Storeflows
 * email's link carries sf_t=<contact token>: it is taken out of the address bar at once and
 * sent as an identify, which the endpoint checks.
 */
(function (w, d) {
  "use strict";
  var KEY = "sf_vid", TOKEN = "sf_t", FLUSH_MS = 1500, MAX_EVENTS = 20, MAX_BYTES = 15000, HELD = 50;
  var held = (w.storeflows && w.storeflows.q) || [];
  var cfg = null, consent = null, visitor = null, buffer = [], timer = null;
  var script = d.currentScript;

  function id() {
    var bytes = new Uint8Array(12), out = "";
    (w.crypto || w.msCrypto).getRandomValues(bytes);
    for (var i = 0; i < bytes.length; i++) out += ("0" + bytes[i].toString(16)).slice(-2);
    return out;
  }

  function allowed() { return cfg && (!cfg.consent_required || consent === true); }

  // --- the anonymous visitor id: first-party, localStorage with a cookie as fallback -------
  function readVisitor() {
    try { var kept = w.localStorage.getItem(KEY); if (kept) return kept; } catch (e) { /* storage blocked */ }
    var match = d.cookie.match(new RegExp("(?:^|; )" + KEY + "=([A-Za-z0-9_-]{8,64})"));
    return match ? match[1] : null;
  }
  function keepVisitor(value) {
    try { w.localStorage.setItem(KEY, value); } catch (e) { /* storage blocked: the cookie holds it */ }
    d.cookie = KEY + "=" + value + "; path=/; max-age=31536000; SameSite=Lax" + (location.protocol === "https:" ? "; Secure" : "");
  }
  function forgetVisitor() {
    try { w.localStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
    d.cookie = KEY + "=; path=/; max-age=0";
    visitor = null;
  }
  function visitorId() {
    if (!visitor) { visitor = readVisitor() || "v_" + id(); keepVisitor(visitor); }
    return visitor;
  }

  // --- sending -----------------------------------------------------------------------------
  function push(type, fields) {
    var event = {};
    for (var name in fields) if (Object.prototype.hasOwnProperty.call(fields, name)) event[name] = fields[name];
    event.type = type; event.id = id(); event.occurred_at = new Date().toISOString();
    if (!allowed()) {  // held in memory only, until consent (or dropped on refusal)
      if (cfg && consent !== false && buffer.length < HELD) buffer.push(event);
      return;
    }
    buffer.push(event);
    if (buffer.length >= MAX_EVENTS) flush(false);
    else if (!timer) timer = setTimeout(function () { flush(false); }, FLUSH_MS);
  }

  function flush(beacon) {
    if (timer) { clearTimeout(timer); timer = null; }
    if (!allowed() || !buffer.length) return;
    var vid = visitorId();
    while (buffer.length) {
      var batch = [], body = "";
      while (buffer.length && batch.length < MAX_EVENTS) {
        batch.push(buffer[0]);
        var next = JSON.stringify({key: cfg.key, visitor_id: vid, consent: consent === true, events: batch});
        if (next.length > MAX_BYTES && batch.length > 1) { batch.pop(); break; }
        body = next; buffer.shift();
        if (next.length > MAX_BYTES) break;  // one event alone over the limit: the endpoint says 413
      }
      send(body, batch, beacon);
    }
  }

  function send(body, batch, beacon) {
    var url = cfg.endpoint + "/collect/" + encodeURIComponent(cfg.store);
    if (beacon && navigator.sendBeacon && navigator.sendBeacon(url, body)) return;
    if (!w.fetch) return;
    w.fetch(url, {method: "POST", body: body, keepalive: true, credentials: "omit",
                  headers: {"content-type": "text/plain"}})
      .then(function (response) { if (response.status >= 500) retry(batch); })
      .catch(function () { retry(batch); });
  }

  // A lost request is sent once more with the same ids: the endpoint counts an event once.
  function retry(batch) {
    var again = batch.filter(function (event) { return !event.retried; });
    again.forEach(function (event) { event.retried = true; });
    if (again.length) { buffer = again.concat(buffer); setTimeout(function () { flush(false); }, FLUSH_MS * 4); }
  }

  // --- the calls -----------------------------------------------------------------------------
  function pageUrl() { return String(location.href).slice(0, 2000); }

  function takeToken() {
    var params = new URLSearchParams(location.search), token = params.get(TOKEN);
    if (!token) return null;
    params.delete(TOKEN);
    var query = params.toString();
    if (w.history && history.replaceState) {
      history.replaceState(history.state, "", location.pathname + (query ? "?" + query : "") + location.hash);
    }
    return token;
  }

  var calls = {
    init: function (options) {
      var endpoint = options.endpoint || (script && script.src ? new URL(script.src).origin : "");
      cfg = {store: options.store, key: options.key, endpoint: endpoint.replace(/\/+$/, ""),
             consent_required: options.consent_required !== false};
      var token = takeToken();  // out of the address bar whatever the consent: it is nobody's to keep
      if (token) push("identify", {token: token});
      push("page_viewed", {page: {url: pageUrl(), title: String(d.title || "").slice(0, 500) || undefined}});
    },
    track: function (type, fields) { push(type, fields || {}); },
    identify: function (fields) { push("identify", {customer: {email: fields.email}}); },
    subscribe: function (fields) {
      push("subscription_requested", {customer: {email: fields.email}, consent_text: fields.consent_text,
                                      source: fields.source || "browser"});
    },
    // "Notify me" on a sold-out product: a back-in-stock request for the typed address.
    notifyMe: function (fields) {
      push("back_in_stock_requested", {customer: {email: fields.email}, product: fields.product});
    },
    consent: function (given) {
      consent = given === true;
      if (consent) { flush(false); } else { buffer = []; forgetVisitor(); }
    }
  };

  function storeflows(name) {
    var call = calls[name];
    if (!call) return;
    if (name !== "init" && !cfg) { held.push(arguments); return; }
    call.apply(null, Array.prototype.slice.call(arguments, 1));
  }

  w.storeflows = storeflows;
  var pending = held; held = [];
  for (var i = 0; i < pending.length; i++) storeflows.apply(null, pending[i]);
  while (held.length && cfg) { var more = held; held = []; for (var j = 0; j < more.length; j++) storeflows.apply(null, more[j]); }

  // Hidden pages may never come back (tab closed, app switched): send what is left now.
  w.addEventListener("pagehide", function () { flush(true); });
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flush(true); });
})(window, document);
