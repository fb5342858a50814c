// PRECACHE ({version, files: {path: hash}}) is written above this line by the server.
// Versioned caches: install fills the new one, activate drops the old ones. Only GETs of the
// app shell are answered from the cache; the API always goes to the network.
const CACHE = `gocua-shell-${PRECACHE.version}`;
const BASE = new URL('./', self.location).pathname; // "/app/"

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    // index.html is the shell itself, kept as '' (every navigation is answered with it): its
    // hash stays in PRECACHE for the version, but fetching it twice cost the first visit 1 KB.
    const files = Object.keys(PRECACHE.files).filter((p) => p !== 'index.html');
    const urls = ['', ...files].map((p) => BASE + p);
    // 'no-cache' revalidates each file (ETag): never stale, and what the page itself just
    // loaded comes back as a bodiless 304 instead of being downloaded twice.
    await cache.addAll(urls.map((u) => new Request(u, { cache: 'no-cache' })));
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith('gocua-shell-') && key !== CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

// The page asks the waiting worker to take over only when no form is open.
self.addEventListener('message', (event) => {
  if (event.data === 'skip-waiting') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== self.location.origin
      || !url.pathname.startsWith(BASE)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const key = event.request.mode === 'navigate' ? BASE : url.pathname;
    const hit = await cache.match(key);
    return hit || fetch(event.request);
  })());
});
