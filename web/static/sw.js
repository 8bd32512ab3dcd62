// The service worker: keeps the app shell (the build's files, listed here by vite.config.js) in a cache named
// after this build, so the app opens without a network; never touches the relay (/rpc, /payloads, /api).

const SHELL = ["","index.html","assets/index-DssI8Gos.css","assets/index-UG8fWRNk.js","assets/strength-G7_3vZGX.js","manifest.webmanifest","icons/icon-192.png","icons/icon-512.png"];
const CACHE = "pamchain-shell-0a71dfc19a2bd7ad";
// Small files that change with the deployment or the build: the network first, the cache when it fails.
const FRESH_FIRST = new Set(["", "index.html", "config.json", "manifest.webmanifest"]);

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll([...SHELL, "config.json"]))
      .then(() => self.skipWaiting()),
  );
});

// A new build replaces the old one at once: its cache is dropped, the open pages are taken over.
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((names) =>
        Promise.all(names.filter((n) => n.startsWith("pamchain-shell-") && n !== CACHE).map((n) => caches.delete(n))),
      )
      .then(() => self.clients.claim()),
  );
});

/** The request's path inside the app's scope ("" for the page itself), or null when it is not the app's. */
function inScope(request) {
  const scope = self.registration.scope;
  const url = new URL(request.url);
  url.search = "";
  url.hash = "";
  return url.href.startsWith(scope) ? url.href.slice(scope.length) : null;
}

async function freshFirst(request, key) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(key, response.clone());
    return response;
  } catch (exc) {
    const cached = await cache.match(key);
    if (cached) return cached;
    throw exc;
  }
}

async function cacheFirst(request, key) {
  const cache = await caches.open(CACHE);
  const cached = await cache.match(key);
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok) await cache.put(key, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const path = inScope(request);
  if (path === null) return;
  if (request.mode === "navigate" || path === "index.html") {
    event.respondWith(freshFirst(request, "index.html"));
  } else if (FRESH_FIRST.has(path)) {
    event.respondWith(freshFirst(request, path));
  } else if (SHELL.includes(path)) {
    event.respondWith(cacheFirst(request, path)); // hashed or versioned names: a cached copy is right
  }
});
