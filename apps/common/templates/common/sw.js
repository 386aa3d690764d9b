// ExampleApp's service worker (apps/common/web.py): the page and this build's files, offline.
const CACHE = "exampleapp-web-" + {{ version|safe }};
const FILES = {{ files|safe }};
const SHELL = new Request("/", { headers: { Accept: "text/html" } });
// Where this build's hashed files live (under /static/ or on STATIC_HOST): chunks loaded on
// demand (the readers' engines and their workers) are kept the first time they are fetched, so a
// reader opened once opens offline too; they go with this build's cache.
const ASSETS = FILES.length ? FILES[0].slice(0, FILES[0].lastIndexOf("/") + 1) : null;

function keep(request) {
  return caches.match(request).then(
    (kept) =>
      kept ||
      fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(CACHE).then((cache) => cache.put(request, copy));
        }
        return response;
      }),
  );
}

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([SHELL, ...FILES])).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((key) => key.startsWith("exampleapp-web-") && key !== CACHE).map((key) => caches.delete(key))))
      .then(() => self.clients.claim()),
  );
});
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (request.mode === "navigate" && url.origin === self.location.origin && url.pathname === "/") {
    // The network first (a new deployment shows at once), the kept page when offline.
    event.respondWith(
      fetch(request)
        .then((response) => {
          if (response.ok) caches.open(CACHE).then((cache) => cache.put(SHELL, response.clone()));
          return response;
        })
        .catch(() => caches.match(SHELL, { ignoreVary: true })),
    );
  } else if (FILES.includes(url.href) || FILES.includes(url.pathname)) {
    // Hashed names never change content: the kept copy is the file.
    event.respondWith(caches.match(request).then((kept) => kept || fetch(request)));
  } else if (ASSETS && (url.href.startsWith(ASSETS) || url.pathname.startsWith(ASSETS))) {
    event.respondWith(keep(request));
  }
});
