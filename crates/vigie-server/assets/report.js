// The report form, phone first: a report is sent to the API as JSON; without a network it is
// kept on the device (IndexedDB) and sent when the network returns, as the assessment does.
import { t, api, errorText, el, recipients } from "./vigie.js";

const db = new Promise((resolve, reject) => {
  const open = indexedDB.open("vigie-reports", 1);
  open.onupgradeneeded = () => open.result.createObjectStore("reports", { keyPath: "key", autoIncrement: true });
  open.onsuccess = () => resolve(open.result);
  open.onerror = () => reject(open.error);
});
async function store(mode, work) {
  const d = await db;
  return new Promise((resolve, reject) => {
    const request = work(d.transaction("reports", mode).objectStore("reports"));
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}
const kept = () => store("readonly", (s) => s.getAll());

async function showKept() {
  const all = await kept();
  document.getElementById("queued-section").hidden = !all.length;
  document.getElementById("queued-list").replaceChildren(...all.map((r) => el("li", { text: r.body.observed_at + " · " + r.body.text.slice(0, 80) })));
}

// Sends a report, then its photos (kept as they were taken; the server removes their metadata).
async function send(body, photos) {
  const result = await api("POST", "/api/v1/field-reports", body);
  if (!result.ok) return result;
  for (const photo of photos || []) {
    const sent = await api("POST", "/api/v1/field-reports/" + encodeURIComponent(result.data.id) + "/photos", photo, photo.type || "image/jpeg");
    if (!sent.ok) return { ...sent, report: result.data };
  }
  return result;
}

// Sends what is kept, oldest first; stops at the first network failure.
async function flush() {
  let sent = 0;
  for (const entry of await kept()) {
    const result = await send(entry.body, entry.photos);
    if (result.status === 0 && !result.report) break;
    // Sent, or refused for good (the error is the report's, not the network's): either way
    // it leaves the queue; a refusal is shown.
    await store("readwrite", (s) => s.delete(entry.key));
    if (result.ok) sent += 1;
    else document.getElementById("report-status").textContent = errorText(result);
  }
  if (sent) document.getElementById("report-status").textContent = t("report_synced") + " " + sent;
  await showKept();
}

const form = document.getElementById("report-form");
if (form) {
  const now = new Date();
  form.observed_at.value = new Date(now.getTime() - now.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
  const status = document.getElementById("report-status");
  document.getElementById("r-gps").addEventListener("click", () => {
    if (!navigator.geolocation) { status.textContent = t("gps_failed"); return; }
    navigator.geolocation.getCurrentPosition(
      (p) => document.dispatchEvent(new CustomEvent("vigie:place", { detail: { lat: p.coords.latitude, lon: p.coords.longitude } })),
      () => { status.textContent = t("gps_failed"); },
      { enableHighAccuracy: true, timeout: 10000 },
    );
  });
  document.addEventListener("vigie:place", (e) => {
    form.lat.value = e.detail.lat.toFixed(6);
    form.lon.value = e.detail.lon.toFixed(6);
  });
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const lat = Number(form.lat.value), lon = Number(form.lon.value);
    if (form.lat.value === "" || form.lon.value === "" || !Number.isFinite(lat) || !Number.isFinite(lon)) { status.textContent = t("report_place_required"); return; }
    const body = {
      kind: form.kind.value,
      observed_at: new Date(form.observed_at.value).toISOString().replace(/\.\d+Z$/, "Z"),
      location: { lon, lat },
      text: form.text.value.trim(),
      marking: form.marking.value,
      recipients: recipients(form),
    };
    const photos = [...form.photos.files];
    status.textContent = t("working");
    const result = await send(body, photos);
    if (result.ok) { location.href = "/field-reports#report-" + encodeURIComponent(result.data.id); return; }
    if (result.status === 0 && !result.report) {
      await store("readwrite", (s) => s.add({ body, photos }));
      status.textContent = t("report_queued");
      form.text.value = "";
      form.photos.value = "";
      await showKept();
      return;
    }
    status.textContent = errorText(result);
  });
  window.addEventListener("online", () => flush());
  if (navigator.onLine) flush(); else showKept();
}
