// The compose form: sends the bulletin to the API as JSON (the same call as integrations)
// and opens it; the API's checks (recipients for the marking, CAP values) say what is wrong.
import { t, api, errorText, recipients } from "./vigie.js";

const form = document.getElementById("bulletin-form");
if (form) form.addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const error = document.getElementById("bulletin-error");
  error.textContent = t("working");
  const texts = (name) => {
    const out = {};
    for (const lang of ["fr", "en"]) {
      const value = form[name + "_" + lang].value.trim();
      if (value) out[lang] = value;
    }
    return out;
  };
  const now = new Date();
  const expires = new Date(now.getTime() + Number(form.expires_days.value || 7) * 86400000);
  const body = {
    title: texts("title"),
    text: texts("text"),
    instruction: texts("instruction"),
    marking: form.marking.value,
    recipients: recipients(form),
    urgency: form.urgency.value,
    severity: form.severity.value,
    certainty: form.certainty.value,
    response_type: form.response_type.value,
    status: form.status.value,
    effective: now.toISOString().replace(/\.\d+Z$/, "Z"),
    expires: expires.toISOString().replace(/\.\d+Z$/, "Z"),
  };
  // Where it applies: the area drawn on the map (map.js) and the sites picked, if any.
  const area = window.vigieArea && window.vigieArea();
  if (area) body.area = area;
  if (form.sites) body.sites = [...form.sites.selectedOptions].map((o) => o.value);
  const result = await api("POST", "/api/v1/bulletins", body);
  if (result.ok) location.href = "/bulletins/" + encodeURIComponent(result.data.id);
  else error.textContent = errorText(result);
});
