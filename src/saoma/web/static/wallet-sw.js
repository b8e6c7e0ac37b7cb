/* The wallet works offline once opened: its page and assets come from this cache when the
   network is gone, so the payment code can still be shown. API calls are never cached. */
"use strict";
const CACHE = "saoma-wallet-v3";
const SHELL = [
  "/wallet", "/static/saoma.css", "/static/saoma.js", "/static/wallet.js", "/static/scan.js",
  "/static/code128.js", "/static/disputes.js", "/static/access.js", "/static/frozen.js",
  "/static/bills.js",
  "/static/wallet-pinpad.js", "/static/wallet-extras.js", "/static/wallet-coupons.js",
  "/static/vendor/jsQR.js", "/static/vendor/qrcode.js", "/static/icon.svg",
  "/manifest.webmanifest",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (!SHELL.includes(url.pathname)) return;
  // Network first (fresh after an upgrade), the cache when offline.
  event.respondWith(fetch(event.request).then((response) => {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(event.request, copy));
    return response;
  }).catch(() => caches.match(event.request)));
});
