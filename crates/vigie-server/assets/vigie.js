// Shared by every page: translated strings, the JSON API helper, a DOM builder, and the service
// worker that keeps pages usable offline.
const stringsEl = document.getElementById("vigie-strings");
const strings = stringsEl ? JSON.parse(stringsEl.textContent) : {};
export const t = (key) => strings[key] || key;

// Calls the API; resolves to {ok, status, data}; a network failure gives status 0.
export async function api(method, url, body, contentType) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    if (contentType) {
      init.headers["Content-Type"] = contentType;
      init.body = body;
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    return { ok: false, status: 0, data: null };
  }
  let data = null;
  const text = await response.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  return { ok: response.ok, status: response.status, data };
}

// The message a person reads for a failed call.
// The recipients ticked in a form's `recipients.html` fieldsets, as the API takes them.
export function recipients(form) {
  const checked = (name) => [...form.querySelectorAll(`input[name="${name}"]:checked`)].map((c) => c.value);
  return { communities: checked("community"), orgs: checked("org"), users: checked("user") };
}

export function errorText(result) {
  if (result.status === 0) return t("offline");
  const err = result.data && result.data.error;
  return err ? err.message : t("error_generic") + " (" + result.status + ")";
}

export function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}

if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});

// The page the service worker shows for a page it cannot reach offline (sw.js), kept in the
// language of the pages the user reads now; fetched again only when that language changes.
export const OFFLINE_CACHE = "offline-page";
async function keepOfflinePage() {
  const lang = document.documentElement.lang;
  const cache = await caches.open(OFFLINE_CACHE);
  const held = await cache.match("/offline");
  if (held && (await held.text()).includes('<html lang="' + lang + '"')) return;
  const response = await fetch("/offline?lang=" + encodeURIComponent(lang));
  if (response.ok) await cache.put("/offline", response);
}
if ("caches" in window && navigator.onLine) keepOfflinePage().catch(() => {});
