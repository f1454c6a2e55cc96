// The site page: its assessment list with the form that starts one, and the vehicle-study button.
import { t, api, errorText, el } from "./vigie.js";

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
});
