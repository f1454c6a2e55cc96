// Shared by every page: translated strings, the JSON API helper, the site page's assessment
// list and vehicle-study button, and the service worker that keeps pages usable offline.
"use strict";
window.Vigie = (function () {
  const stringsEl = document.getElementById("vigie-strings");
  const strings = stringsEl ? JSON.parse(stringsEl.textContent) : {};
  const t = (key) => strings[key] || key;

  // Calls the API; resolves to {ok, status, data}; a network failure gives status 0.
  async function api(method, url, body, contentType) {
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
    } catch (e) {
      return { ok: false, status: 0, data: null };
    }
    let data = null;
    const text = await response.text();
    if (text) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    return { ok: response.ok, status: response.status, data };
  }

  // The message a person reads for a failed call.
  function errorText(result) {
    if (result.status === 0) return t("offline");
    const err = result.data && result.data.error;
    return err ? err.message : t("error_generic") + " (" + result.status + ")";
  }

  function el(tag, attrs, ...children) {
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

  async function siteAssessments() {
    const list = document.getElementById("assessment-list");
    if (!list) return;
    const site = list.dataset.site;
    const result = await api("GET", "/api/v1/sites/" + encodeURIComponent(site) + "/assessments");
    list.replaceChildren();
    if (!result.ok) {
      list.append(el("li", { text: result.status === 404 ? t("assessments_unavailable") : errorText(result) }));
    } else if (!result.data.items.length) {
      list.append(el("li", { text: t("no_assessments") }));
    } else {
      for (const a of result.data.items) {
        const when = a.created_at_ms ? new Date(a.created_at_ms).toISOString().slice(0, 10) : "";
        list.append(el("li", {},
          el("a", { href: "/assessments/" + a.id, text: when + " · " + t("status_" + a.status) + " · " + t("threat") + " " + a.threat_level }),
          " · ", el("a", { href: "/assessments/" + a.id + "/results", text: t("results") })));
      }
    }
    const form = document.getElementById("start-assessment");
    if (form) form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const status = document.getElementById("start-status");
      status.textContent = t("working");
      const body = { threat_level: Number(form.threat_level.value) };
      if (form.occupancy) {
        if (!(Number(form.occupancy.value) >= 1)) { status.textContent = t("occupancy_required"); form.occupancy.focus(); return; }
        body.occupancy = Number(form.occupancy.value);
      }
      const made = await api("POST", "/api/v1/sites/" + encodeURIComponent(site) + "/assessments", body);
      if (made.ok) location.href = "/assessments/" + made.data.id;
      else status.textContent = errorText(made);
    });
  }

  function hvmButton() {
    const button = document.getElementById("run-hvm");
    if (!button) return;
    button.addEventListener("click", async () => {
      const status = document.getElementById("hvm-status");
      button.disabled = true;
      status.textContent = t("hvm_running");
      const result = await api("POST", "/api/v1/sites/" + encodeURIComponent(button.dataset.site) + "/hvm", {});
      if (result.ok) location.reload();
      else {
        status.textContent = errorText(result);
        button.disabled = false;
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    siteAssessments();
    hvmButton();
    if ("serviceWorker" in navigator) navigator.serviceWorker.register("/sw.js").catch(() => {});
  });

  return { t, api, errorText, el };
})();
