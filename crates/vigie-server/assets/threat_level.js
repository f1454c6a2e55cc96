// The threat-level form: posts the decision to the API as JSON (the same call as integrations),
// with the area drawn on the map (map.js) unless the whole jurisdiction is chosen, and the
// checklist actions' titles in the page's language.
import { t, api, errorText } from "./vigie.js";

const form = document.getElementById("level-form");
if (form) form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const status = document.getElementById("level-status");
  const reason = form.reason.value.trim();
  if (!reason) { status.textContent = t("reason_required"); form.reason.focus(); return; }
  const body = { level: Number(form.level.value), reason };
  if (form.effective.value) body.effective = new Date(form.effective.value).toISOString().replace(/\.\d+Z$/, "Z");
  if (form.scope.value === "area") {
    const area = window.vigieArea && window.vigieArea();
    if (!area) { status.textContent = t("area_required"); return; }
    body.area = area;
  }
  status.textContent = t("working");
  const result = await api("POST", "/api/v1/threat-levels?lang=" + document.documentElement.lang, body);
  if (!result.ok) { status.textContent = errorText(result); return; }
  const d = result.data;
  status.textContent = t("level_set") + " " + [d.sites, d.actions_created, d.actions_closed].join(" · ");
  // The page lists the new decision and the checklists it made.
  location.reload();
});
