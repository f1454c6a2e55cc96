// Vigie's service worker: keeps the pages, scripts and the assessment data the assessor last
// saw, so that the on-site form opens and works when the network drops. Answers typed offline
// are queued by the page itself (IndexedDB) and sent when the network returns.
const CACHE = "vigie-__VERSION__";
const ASSETS = ["__ASSETS__"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("vigie-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

// The page for a page that cannot be reached offline, in the user's language; the pages put it
// there (vigie.js), under a name the clean-up of old versions leaves alone.
const OFFLINE_CACHE = "offline-page";
function offlinePage() {
  return caches.open(OFFLINE_CACHE)
    .then((cache) => cache.match("/offline"))
    .then((hit) => hit || new Response("You are offline. / Vous êtes hors ligne.", { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } }));
}

// Only reads are cached; the API's writes go to the network (the page queues them when offline).
function cacheable(request, url) {
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (url.pathname.startsWith("/assets/")) return true;
  if (url.pathname.startsWith("/assessments/")) return true;
  // The report form: a report is filed from the place, network or not.
  if (url.pathname === "/field-reports/new") return true;
  if (url.pathname === "/api/v1/methodology" || url.pathname.startsWith("/api/v1/assessments/")) return true;
  if (url.pathname.startsWith("/api/v1/photos/")) return true;
  // The assessed site (its category chooses the questions).
  if (/^\/api\/v1\/sites\/[^/]+$/.test(url.pathname)) return true;
  return false;
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const navigation = event.request.mode === "navigate";
  if (!cacheable(event.request, url)) {
    // Any other page: the network, or the offline page rather than the browser's error.
    if (navigation && event.request.method === "GET") event.respondWith(fetch(event.request).catch(() => offlinePage()));
    return;
  }
  if (url.pathname.startsWith("/assets/")) {
    // Asset paths carry their content hash: the cached copy is always right.
    event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)));
    return;
  }
  // Network first, so that the assessor sees others' answers; the cache when offline.
  event.respondWith(
    fetch(event.request)
      .then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(event.request, copy));
        }
        return response;
      })
      .catch(() => caches.match(event.request).then((hit) => hit || (navigation ? offlinePage() : new Response(JSON.stringify({ error: { code: "offline", message: "offline" } }), { status: 503, headers: { "Content-Type": "application/json" } }))))
  );
});
