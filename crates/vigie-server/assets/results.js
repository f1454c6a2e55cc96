// The results of an assessment (bars per scenario, the 5×5 risk matrix, the protective
// measures index against peers, what-if toggles, the action plan) and the dashboard.
import { t, api, errorText, el, recipients } from "./vigie.js";

const SVG = "http://www.w3.org/2000/svg";
const BAND_COLOURS = { low: "#1a9850", moderate: "#e6b400", medium: "#e6b400", high: "#f46d43", very_high: "#d73027", critical: "#a50026" };
const bandColour = (band) => BAND_COLOURS[band] || "#6b7785";
const bandText = (band) => (t("band_" + band) !== "band_" + band ? t("band_" + band) : band);
// Cell colour of the version 2026.1 matrix by likelihood × consequence.
const cellColour = (r) => (r >= 15 ? "#f4a6a6" : r >= 10 ? "#fcc99b" : r >= 5 ? "#fde9a6" : "#cfe9d3");
// From version 2026.2 risk is threat × vulnerability × consequence (1–125); 2026.1 gave
// likelihood × consequence (1–25). A report says which by carrying `threat`.
const isProduct = (report) => (report.scenarios || []).some((s) => s.threat !== undefined && s.threat !== null);
const maxRisk = (report) => (isProduct(report) ? 125 : 25);
const fill = (text, values) => Object.entries(values).reduce((out, [k, v]) => out.replaceAll("{" + k + "}", String(v)), text);

function svg(tag, attrs, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) if (v !== null && v !== undefined) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

let methodology = { scenarios: [], questions: [], domains: [], risk_bands: [] };
const scenarioName = (s) => s.name || ((methodology.scenarios.find((x) => x.id === s.id) || {}).name) || s.id;
const bandName = (id) => ((methodology.risk_bands || []).find((b) => b.id === id) || {}).name || id || "–";
const questionText = (id) => ((methodology.questions.find((q) => q.id === id) || {}).text) || id;
function measure(id) {
  for (const q of methodology.questions) for (const m of q.measures || []) if (m.id === id) return m;
  return null;
}
const measureLabel = (id) => (measure(id) || {}).label || id;

// One line of an explanation, in words.
function contributionText(c) {
  const pts = " → " + c.points + " " + t("points");
  if (c.kind === "answer") return questionText(c.question) + ": " + t("grade") + " " + c.grade + (c.answer ? "" : " (" + t("unanswered") + ")") + ", " + t("weight") + " " + c.weight + (c.counted === false ? " (" + t("not_counted") + ")" : "") + pts;
  if (c.kind === "factor") return t("factor") + " " + c.factor + " = " + c.value + ", " + t("weight") + " " + c.weight + " %" + pts;
  if (c.kind === "weakest_link") return t("weakest_link") + ": " + questionText(c.question) + " (" + t("grade") + " " + c.grade + ")" + pts;
  if (c.kind === "domain") return t("domain") + " " + c.domain + pts;
  return JSON.stringify(c);
}

function explanation(title, contributions) {
  const list = el("ul", {});
  for (const c of contributions || []) list.append(el("li", { text: contributionText(c) }));
  return el("details", {}, el("summary", { text: title }), (contributions || []).length ? list : el("p", { text: t("no_explanation") }));
}

function bars(report) {
  const scenarios = report.scenarios || [];
  // Sized for a phone: the chart is drawn at about the width it is shown.
  const row = 30;
  const width = 400;
  const left = 150;
  const product = isProduct(report);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${scenarios.length * row + 30}`, role: "img", "aria-labelledby": "bars-title" }, svg("title", { id: "bars-title" }, t(product ? "bars_title_tvc" : "bars_title")));
  scenarios.forEach((s, i) => {
    const y = i * row + 6;
    const risk = s.risk || 0;
    const w = Math.max(2, ((width - left - 60) * risk) / maxRisk(report));
    const name = scenarioName(s);
    chart.append(svg("text", { x: 2, y: y + 16, "font-size": 12 }, name.length > 22 ? name.slice(0, 21) + "…" : name, svg("title", {}, name)));
    chart.append(svg("rect", { x: left, y, width: w, height: 20, fill: bandColour(s.risk_band), rx: 2 }));
    chart.append(svg("text", { x: left + w + 6, y: y + 15, "font-size": 12 }, s.risk === null || s.risk === undefined ? "–" : String(risk)));
  });
  chart.append(svg("text", { x: 2, y: scenarios.length * row + 24, "font-size": 11, fill: "#4a5560" }, t(product ? "risk_scale_tvc" : "risk_scale")));
  const box = document.getElementById("r-bars");
  box.replaceChildren(el("div", { class: "bars" }, chart));
  for (const s of scenarios) {
    const factors = product
      ? t("threat") + " " + (s.threat ?? "–") + " × " + t("vulnerability") + " " + (s.vulnerability_band ?? "–") + " × " + t("consequence") + " " + (s.consequence ?? "–")
      : t("likelihood") + " " + (s.likelihood ?? "–") + " × " + t("consequence") + " " + (s.consequence ?? "–");
    const summary = scenarioName(s) + ": " + t("risk") + " " + (s.risk ?? "–") + " (" + bandName(s.risk_band) + ")" + (s.provisional ? ", " + t("provisional_short") : "") + " = " + factors + "; " + t("vulnerability") + " " + s.vulnerability + " / 100";
    box.append(explanation(summary, s.contributions));
  }
}

// The 5 × 5 grid of the report's risk formula. Version 2026.1: likelihood × consequence, cells
// coloured by their risk. From 2026.2: threat against vulnerability band; the consequence is the
// third factor, so each marker takes its scenario's band colour and the cells stay plain.
const MATRIX_AXES = {
  likelihoodConsequence: {
    title: "matrix_title", x: "likelihood", y: "consequence", at: (s) => [s.likelihood, s.consequence],
    cell: (x, y) => cellColour(x * y), marker: () => ({ fill: "#17324d", text: "#fff" }),
    legend: (s) => s.likelihood + " × " + s.consequence,
  },
  threatVulnerability: {
    title: "matrix_title_tvc", x: "vulnerability_factor", y: "threat", at: (s) => [s.vulnerability_band, s.threat],
    cell: () => "#eef1f4", marker: (s) => ({ fill: bandColour(s.risk_band), stroke: "#17324d", text: "#000" }),
    legend: (s) => s.threat + " × " + s.vulnerability_band + " × " + s.consequence + " = " + s.risk + ", " + bandName(s.risk_band),
  },
};

function matrix(report) {
  const axes = isProduct(report) ? MATRIX_AXES.threatVulnerability : MATRIX_AXES.likelihoodConsequence;
  const size = 5;
  const cell = 56;
  const pad = 44;
  const chart = svg("svg", { viewBox: `0 0 ${pad + size * cell + 10} ${size * cell + pad + 10}`, role: "img", "aria-labelledby": "mx-title", width: 360 }, svg("title", { id: "mx-title" }, t(axes.title)));
  for (let x = 1; x <= size; x++) for (let y = 1; y <= size; y++) {
    chart.append(svg("rect", { x: pad + (x - 1) * cell, y: (size - y) * cell, width: cell, height: cell, fill: axes.cell(x, y), stroke: "#fff" }));
  }
  for (let i = 1; i <= size; i++) {
    chart.append(svg("text", { x: pad + (i - 0.5) * cell, y: size * cell + 16, "text-anchor": "middle", "font-size": 12 }, String(i)));
    chart.append(svg("text", { x: pad - 10, y: (size - i + 0.5) * cell + 4, "text-anchor": "end", "font-size": 12 }, String(i)));
  }
  chart.append(svg("text", { x: pad + (size * cell) / 2, y: size * cell + 36, "text-anchor": "middle", "font-size": 12 }, t(axes.x)));
  chart.append(svg("text", { x: 12, y: (size * cell) / 2, "font-size": 12, transform: `rotate(-90 12 ${(size * cell) / 2})`, "text-anchor": "middle" }, t(axes.y)));
  const placed = {};
  const legend = el("ol", {});
  (report.scenarios || []).forEach((s, i) => {
    const [col, row] = axes.at(s);
    if (!col || !row) return;
    const key = col + "," + row;
    const n = (placed[key] = (placed[key] || 0) + 1) - 1;
    const x = pad + (col - 1) * cell + 14 + (n % 3) * 15;
    const y = (size - row) * cell + 14 + Math.floor(n / 3) * 15;
    const look = axes.marker(s);
    chart.append(svg("circle", { cx: x, cy: y, r: 7, fill: look.fill, stroke: look.stroke }, svg("title", {}, scenarioName(s))));
    chart.append(svg("text", { x, y: y + 4, "text-anchor": "middle", "font-size": 10, fill: look.text }, String(i + 1)));
    legend.append(el("li", { text: scenarioName(s) + " (" + axes.legend(s) + ")" }));
  });
  document.getElementById("r-matrix").replaceChildren(el("div", { class: "matrix" }, chart), legend);
}

// How much of the assessment is answered, the methodology it was scored with, and a warning
// when the figures are provisional.
function completeness(report, level) {
  const c = report.completeness || {};
  const parts = [el("p", { id: "r-answered", text: fill(t("completeness"), { answered: c.answered ?? 0, applicable: c.applicable ?? 0, na: c.not_applicable ?? 0, unanswered: c.unanswered ?? 0 }) }),
    el("p", { class: "state", text: t("methodology_version") + " " + report.methodology_version })];
  // The level scored with: an authority's decision in force for the site says so, with its reason.
  if (level) {
    const text = level.source === "authority" ? fill(t("level_by_authority"), { level: level.level, reason: level.reason || "" }) : fill(t("level_of_assessment"), { level: level.level });
    parts.push(el("p", { id: "r-threat-level" }, el("a", { href: "/threat-levels", text })));
  }
  if (report.provisional) parts.unshift(el("p", { id: "r-provisional", class: "warning", role: "note" }, el("strong", { text: t("provisional") })));
  document.getElementById("r-completeness").replaceChildren(el("div", { class: "card" }, ...parts));
}

function pmi(data) {
  const report = data.report;
  const box = document.getElementById("r-pmi-body");
  const value = report.protective_measures_index;
  const parts = [el("p", {}, el("strong", { class: "big", text: (value ?? "–") + " / 100" }))];
  if (data.peer_percentile !== null && data.peer_percentile !== undefined) {
    parts.push(el("p", { text: t("peer_percentile").replace("{p}", Math.round(data.peer_percentile)).replace("{n}", data.peers ?? "?") }));
  } else parts.push(el("p", { text: t("no_peers") }));
  parts.push(explanation(t("pmi_explained"), report.protective_measures_contributions));
  for (const d of report.domains || []) {
    const name = ((methodology.domains.find((x) => x.id === d.id) || {}).name) || d.id;
    parts.push(explanation(name + ": " + (d.protective_measures_index ?? "–") + " / 100", d.contributions));
  }
  box.replaceChildren(...parts);
}

function whatIf(report) {
  const box = document.getElementById("r-whatif");
  const out = el("div", { id: "whatif-out", role: "status", "aria-live": "polite" });
  const list = el("div", {});
  // The action form's measure list; absent when the caller only reads the plan.
  const select = document.getElementById("ac-measure") || el("select", {});
  const seen = new Set();
  for (const a of report.actions || []) {
    if (seen.has(a.measure)) continue;
    seen.add(a.measure);
    const m = measure(a.measure) || {};
    const label = a.label || measureLabel(a.measure);
    const id = "wi-" + a.measure.replace(/\W/g, "_");
    const box = el("input", { type: "checkbox", id, value: a.measure });
    box.addEventListener("change", run);
    list.append(el("label", { for: id, class: "check" }, box, " " + label + (m.cost_label ? " · " + m.cost_label : "") + (m.openness_label ? " · " + m.openness_label : "")));
    if (a.question_text) list.append(el("p", { class: "state", text: a.question_text }));
    select.append(el("option", { value: a.measure, "data-question": a.question, text: label }));
  }
  if (!seen.size) list.append(el("p", { text: t("no_measures") }));
  box.replaceChildren(list, out);
  const id = document.getElementById("results").dataset.id;
  async function run() {
    const measures = [...list.querySelectorAll("input:checked")].map((i) => i.value);
    if (!measures.length) { out.replaceChildren(); return; }
    const r = await api("POST", "/api/v1/assessments/" + encodeURIComponent(id) + "/what-if", { measures, lang: document.getElementById("results").dataset.lang });
    if (!r.ok) { out.textContent = errorText(r); return; }
    const after = (r.data.after && r.data.after.scenarios) || [];
    const table = el("table", {}, el("thead", {}, el("tr", {}, el("th", { scope: "col", text: t("scenario") }), el("th", { scope: "col", class: "num", text: t("risk_now") }), el("th", { scope: "col", class: "num", text: t("risk_after") }))));
    const body = el("tbody", {});
    const deltas = (r.data.deltas && r.data.deltas.scenarios) || [];
    for (const s of (r.data.before && r.data.before.scenarios) || []) {
      const a = after.find((x) => x.id === s.id) || {};
      const d = deltas.find((x) => x.id === s.id) || {};
      const why = d.decided_by ? el("span", { class: "state decided-by", text: " (" + fill(t("decided_by"), { question: questionText(d.decided_by) }) + ")" }) : "";
      body.append(el("tr", { "data-scenario": s.id }, el("td", {}, scenarioName(s), why), el("td", { class: "num", text: String(s.risk ?? "–") }), el("td", { class: "num", text: String(a.risk ?? "–") })));
    }
    table.append(body);
    const dp = r.data.deltas && r.data.deltas.protective_measures_index;
    out.replaceChildren(table, el("p", { text: t("pmi_change") + " " + (dp > 0 ? "+" : "") + (dp ?? 0) }));
  }
}

const STATUSES = ["open", "in_progress", "done", "cancelled"];
// An action's owner: the user's email (from the form's list of the organisation's users)
// and the owner written as text, whichever are given.
function ownerText(a) {
  const option = a.owner_user_id && document.querySelector('#ac-owner-user option[value="' + CSS.escape(a.owner_user_id) + '"]');
  return [option ? option.textContent : null, a.owner].filter(Boolean).join(" · ") || "–";
}
async function plan(id) {
  const box = document.getElementById("r-plan-body");
  const r = await api("GET", "/api/v1/assessments/" + encodeURIComponent(id) + "/actions");
  if (!r.ok) { box.textContent = errorText(r); return; }
  const p = r.data;
  const parts = [];
  const g = p.progress || {};
  const worst = (list) => Math.max(0, ...(list || []).map((s) => s.risk || 0));
  const bar = el("progress", { max: 100, value: g.percent_done ?? 0, "aria-label": t("progress") });
  parts.push(el("p", {}, t("progress") + ": ", bar, " " + (g.percent_done ?? 0) + " % (" + (g.done ?? 0) + " / " + ((g.total ?? 0) - (g.cancelled ?? 0)) + ")"));
  parts.push(el("p", { text: t("worst_risk_now") + ": " + worst(p.risk_now) + " · " + t("worst_risk_after") + ": " + worst(p.risk_after_pending_actions) }));
  const rows = el("tbody", {});
  for (const a of (p.actions || []).slice().sort((x, y) => String(x.due_date || "9").localeCompare(String(y.due_date || "9")))) {
    const select = el("select", { "aria-label": t("status") + ": " + a.title, disabled: document.getElementById("results").dataset.canWrite !== "1" });
    for (const s of STATUSES) select.append(el("option", { value: s, selected: a.status === s, text: t("action_" + s) }));
    select.addEventListener("change", async () => {
      const fields = ["title", "owner", "due_date", "evidence", "question_id", "scenario_id", "measure_id", "version"];
      const body = Object.fromEntries(fields.filter((f) => a[f] !== null && a[f] !== undefined).map((f) => [f, a[f]]));
      body.status = select.value;
      const u = await api("PUT", "/api/v1/actions/" + encodeURIComponent(a.id), body);
      if (!u.ok) alert(errorText(u));
      plan(id);
    });
    // A threat level's checklist action says where it came from.
    const origin = a.threat_level_id ? el("span", { class: "state", text: " · " + t("from_threat_level") }) : null;
    rows.append(el("tr", {}, el("td", {}, a.title, origin), el("td", { text: ownerText(a) }), el("td", { text: a.due_date || "–" }), el("td", {}, select)));
  }
  parts.push(el("div", { class: "scroll" }, el("table", { id: "plan-table" }, el("thead", {}, el("tr", {}, ...[t("action"), t("owner"), t("due"), t("status")].map((h) => el("th", { scope: "col", text: h })))), rows)));
  box.replaceChildren(...parts);
}

const day = (ms) => (ms ? new Date(ms).toISOString().slice(0, 10) : "–");

// The status, who may move it on, and the buttons for the moves the caller's role allows
// (draft → submitted by its owners; submitted → validated by an authority who did not
// submit it, or back to draft; draft or validated → archived). The API checks again.
function lifecycle(root, assessment, report) {
  const box = document.getElementById("r-lifecycle");
  const canWrite = root.dataset.canWrite === "1";
  const canValidate = root.dataset.canValidate === "1";
  const a = assessment;
  const c = (report && report.completeness) || {};
  const unanswered = c.unanswered ?? 0;
  const parts = [el("p", {}, t("status") + ": ", el("strong", { id: "r-state", "data-status": a.status, text: t("status_" + a.status) }))];
  if (a.submitted_at_ms) parts.push(el("p", { text: t("submitted_on") + " " + day(a.submitted_at_ms) }));
  if (a.validated_at_ms) parts.push(el("p", { text: t("validated_on") + " " + day(a.validated_at_ms) }));
  if (a.due_at_ms) parts.push(el("p", { id: "r-due", text: t("reassess_by") + " " + day(a.due_at_ms) }));
  const reasonGiven = a.summary && a.summary.incomplete_reason;
  if (reasonGiven) parts.push(el("p", { id: "r-reason-given", class: "warning", text: t("incomplete_reason_given") + " " + reasonGiven }));
  const out = el("p", { role: "alert", class: "error" });
  const buttons = el("div", { class: "actions" });
  // Validating with unanswered questions needs a reason, which the assessment keeps.
  const reasonBox = el("div", { id: "r-reason-box" });
  let reason = null;
  const move = (to, label, secondary) => buttons.append(el("button", { type: "button", class: secondary ? "secondary" : null, "data-to": to, text: label, onclick: async () => {
    if (to === "archived" && !confirm(t("confirm_archive"))) return;
    if (to === "submitted" && unanswered > 0 && !confirm(fill(t("confirm_submit_incomplete"), { n: unanswered, applicable: c.applicable ?? 0 }))) return;
    out.textContent = "";
    const body = { to };
    if (to === "validated" && reason) body.reason = reason.value;
    const r = await api("POST", "/api/v1/assessments/" + encodeURIComponent(a.id) + "/transition", body);
    if (!r.ok) { out.textContent = errorText(r); if (reason) reason.focus(); return; }
    lifecycle(root, r.data, report);
  } }));
  const submittedByMe = a.submitted_by === root.dataset.user && root.dataset.admin !== "1";
  if (a.status === "draft" && canWrite) move("submitted", t("submit_assessment"));
  if (a.status === "submitted" && canValidate && !submittedByMe) {
    if (unanswered > 0) {
      reason = el("textarea", { id: "r-reason", rows: 3, maxlength: 4000 });
      reasonBox.append(el("label", { for: "r-reason", text: fill(t("incomplete_reason"), { n: unanswered }) }), reason);
    }
    move("validated", t("validate"));
  }
  if (a.status === "submitted" && canValidate && submittedByMe) parts.push(el("p", { class: "state", text: t("four_eyes") }));
  if (a.status === "submitted" && (canWrite || canValidate)) move("draft", t("send_back"), true);
  if ((a.status === "draft" && canWrite) || (a.status === "validated" && (canWrite || canValidate))) move("archived", t("archive"), true);
  if (a.status !== "draft") parts.push(el("p", { class: "state", text: t("read_only") }));
  box.replaceChildren(...parts, reasonBox, buttons, out);
}

// The library passages next to each weak answer (grade 3 or 4), most relevant first.
async function guidance(assessment, lang) {
  const box = document.getElementById("r-guidance");
  const weak = [];
  for (const [qid, stored] of Object.entries(assessment.answers || {})) {
    const q = methodology.questions.find((x) => x.id === qid);
    const answer = q && (q.answers || []).find((o) => o.id === stored.answer);
    if (answer && answer.grade >= 3) weak.push([q, answer]);
  }
  if (!weak.length) { box.replaceChildren(el("p", { text: t("no_weak_answers") })); return; }
  weak.sort((x, y) => y[1].grade - x[1].grade);
  const items = await Promise.all(weak.map(async ([q, answer], i) => {
    const r = await api("GET", "/api/v1/library/related?limit=2&lang=" + lang + "&question=" + encodeURIComponent(q.id));
    const hits = (r.ok && r.data.results) || [];
    const passages = hits.length ? el("ul", { class: "plain" }, ...hits.map((h) => el("li", { class: "passage", lang: h.language, "data-passage": h.passage_id },
      el("strong", { text: h.document_title }),
      h.heading ? el("p", { class: "state", text: h.heading }) : null,
      snippet(h.snippet),
      el("a", { href: "/library?q=" + encodeURIComponent(h.heading || h.document_title), text: t("search_library") }))))
      : el("p", { text: r.ok ? t("no_passages") : errorText(r) });
    return el("details", { class: "guidance", "data-question": q.id, open: i < 3 },
      el("summary", { text: (q.text || q.id) + " · " + t("answer_given") + ": " + answer.grade + " – " + (answer.label || answer.text || answer.id) }), passages);
  }));
  box.replaceChildren(...items);
}

async function results(root) {
  const id = root.dataset.id;
  const lang = root.dataset.lang;
  const status = document.getElementById("r-status");
  const [m, s, a] = await Promise.all([api("GET", "/api/v1/methodology?lang=" + lang), api("GET", "/api/v1/assessments/" + encodeURIComponent(id) + "/score?lang=" + lang), api("GET", "/api/v1/assessments/" + encodeURIComponent(id))]);
  if (m.ok) methodology = m.data;
  if (!s.ok) { status.textContent = errorText(s); return; }
  status.textContent = "";
  if (a.ok) { lifecycle(root, a.data, s.data.report); guidance(a.data, lang); }
  completeness(s.data.report, s.data.threat_level);
  bars(s.data.report);
  matrix(s.data.report);
  pmi(s.data);
  whatIf(s.data.report);
  plan(id);
  const form = document.getElementById("action-form");
  if (form) form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const error = document.getElementById("ac-error");
    error.textContent = "";
    if (!form.title.value.trim()) { error.textContent = t("action_title_required"); return; }
    const body = { title: form.title.value.trim(), status: "open" };
    if (form.owner.value.trim()) body.owner = form.owner.value.trim();
    if (form.owner_user_id.value) body.owner_user_id = form.owner_user_id.value;
    if (form.due_date.value) body.due_date = form.due_date.value;
    const chosen = form.measure_id.selectedOptions[0];
    if (chosen && chosen.value) { body.measure_id = chosen.value; body.question_id = chosen.dataset.question; }
    const r = await api("POST", "/api/v1/assessments/" + encodeURIComponent(id) + "/actions", body);
    if (!r.ok) { error.textContent = errorText(r); return; }
    form.reset();
    plan(id);
  });
}

async function dashboard() {
  const r = await api("GET", "/api/v1/dashboard");
  const fail = (id) => document.getElementById(id).replaceChildren(el("p", { text: r.status === 404 ? t("assessments_unavailable") : errorText(r) }));
  if (!r.ok) { ["d-mine-body", "d-bands-body", "d-due-body", "d-actions-body"].forEach(fail); return; }
  const d = r.data;
  const bands = Array.isArray(d.sites_by_risk_band) ? d.sites_by_risk_band.map((b) => [b.band || b.id, b.count ?? (b.sites || []).length]) : Object.entries(d.sites_by_risk_band || {}).map(([k, v]) => [k, Array.isArray(v) ? v.length : v]);
  const total = Math.max(1, ...bands.map(([, n]) => n));
  const chart = svg("svg", { viewBox: `0 0 360 ${bands.length * 30 + 6}`, role: "img", "aria-label": t("dash_bands_chart") });
  bands.forEach(([band, n], i) => {
    chart.append(svg("text", { x: 2, y: i * 30 + 20, "font-size": 13 }, bandText(band)));
    chart.append(svg("rect", { x: 120, y: i * 30 + 5, width: Math.max(2, (200 * n) / total), height: 20, fill: bandColour(band) }));
    chart.append(svg("text", { x: 126 + (200 * n) / total, y: i * 30 + 20, "font-size": 13 }, String(n)));
  });
  // Each assessed site in its band, with its highest risk and when it is next assessed.
  const siteRows = el("tbody", {});
  for (const s of (d.sites || []).slice().sort((x, y) => (y.max_risk ?? 0) - (x.max_risk ?? 0))) {
    siteRows.append(el("tr", { "data-site": s.site_id }, el("td", {}, el("a", { href: "/assessments/" + s.assessment_id + "/results", text: s.site_name || s.site_id })),
      el("td", {}, el("span", { class: "band", style: "border-left: 1em solid " + bandColour(s.max_risk_band) }, " " + bandText(s.max_risk_band))),
      el("td", { class: "num", text: String(s.max_risk ?? "–") + (s.provisional ? " (" + t("provisional_short") + ")" : "") }),
      el("td", { class: "num", text: s.completeness ? s.completeness.answered + s.completeness.not_applicable + " / " + s.completeness.applicable : "–" }),
      el("td", { text: day(s.due_at_ms) })));
  }
  // The map colours each assessed site by its band (map.js), whichever script runs first.
  const siteBands = Object.fromEntries((d.sites || []).map((s) => [s.site_id, { colour: bandColour(s.max_risk_band), label: bandText(s.max_risk_band) }]));
  window.vigieSiteBands = siteBands;
  document.dispatchEvent(new CustomEvent("vigie:site-bands", { detail: siteBands }));
  const siteTable = el("div", { class: "scroll" }, el("table", { id: "d-sites" }, el("thead", {}, el("tr", {}, ...[t("site"), t("band"), t("max_risk"), t("answered_col"), t("reassess_by")].map((h) => el("th", { scope: "col", text: h })))), siteRows));
  document.getElementById("d-bands-body").replaceChildren(...(bands.length ? [el("div", { class: "bars" }, chart), siteTable] : [el("p", { text: t("none") })]));
  const due = el("ul", { class: "plain" });
  for (const x of d.reassessments_due || []) due.append(el("li", {}, el("a", { href: "/sites/" + x.site_id, text: x.site_name || x.site_id }), " · " + day(x.due_at_ms) + (x.overdue ? " · " + t("overdue") : "")));
  document.getElementById("d-due-body").replaceChildren((d.reassessments_due || []).length ? due : el("p", { text: t("none") }));
  const rows = el("tbody", {});
  // Every readable site is on the page's map; the API names only the assessed ones.
  const mapData = document.getElementById("map-data");
  const names = Object.fromEntries((mapData ? JSON.parse(mapData.textContent).sites : []).map((s) => [s.id, s.name]));
  for (const s of d.sites || []) names[s.site_id] = s.site_name;
  for (const a of (d.pending_actions || []).slice().sort((x, y) => String(x.due_date || "9").localeCompare(String(y.due_date || "9")))) {
    rows.append(el("tr", {}, el("td", { text: a.due_date || "–" }), el("td", {}, a.assessment_id ? el("a", { href: "/assessments/" + a.assessment_id + "/results", text: a.title }) : a.title), el("td", {}, names[a.site_id] ? el("a", { href: "/sites/" + a.site_id, text: names[a.site_id] }) : ""), el("td", { text: a.owner || "–" }), el("td", { text: t("action_" + a.status) })));
  }
  const mine = el("tbody", {});
  for (const a of d.my_actions || []) {
    mine.append(el("tr", {}, el("td", { text: a.due_date || "–" }), el("td", {}, el("a", { href: "/assessments/" + a.assessment_id + "/results", text: a.title })), el("td", {}, names[a.site_id] ? el("a", { href: "/sites/" + a.site_id, text: names[a.site_id] }) : ""), el("td", { text: t("action_" + a.status) })));
  }
  document.getElementById("d-mine-body").replaceChildren((d.my_actions || []).length ? el("div", { class: "scroll" }, el("table", { id: "d-mine-table" }, el("thead", {}, el("tr", {}, ...[t("due"), t("action"), t("site"), t("status")].map((h) => el("th", { scope: "col", text: h })))), mine)) : el("p", { text: t("none") }));
  document.getElementById("d-actions-body").replaceChildren((d.pending_actions || []).length ? el("div", { class: "scroll" }, el("table", {}, el("thead", {}, el("tr", {}, ...[t("due"), t("action"), t("site"), t("owner"), t("status")].map((h) => el("th", { scope: "col", text: h })))), rows)) : el("p", { text: t("none") }));
}

// A snippet arrives as escaped HTML with hits in <mark>: only the marks become elements.
function snippet(html) {
  const decode = document.createElement("textarea");
  const out = el("p", {});
  let inMark = false;
  for (const part of String(html).split(/(<mark>|<\/mark>)/)) {
    if (part === "<mark>") { inMark = true; continue; }
    if (part === "</mark>") { inMark = false; continue; }
    decode.innerHTML = part;
    out.append(inMark ? el("mark", { text: decode.value }) : decode.value);
  }
  return out;
}

async function library(list) {
  const q = new URLSearchParams(location.search).get("q");
  if (!q) return;
  const status = document.getElementById("l-status");
  status.textContent = t("working");
  // Every language: the library matches an English query to French passages and back.
  const r = await api("GET", "/api/v1/library/search?limit=20&q=" + encodeURIComponent(q));
  if (!r.ok) { status.textContent = r.status === 404 ? t("library_unavailable") : errorText(r); return; }
  const hits = r.data.results || [];
  status.textContent = hits.length + " " + t("library_hits");
  list.replaceChildren(...hits.map((h) => el("li", { lang: h.language },
    el("h2", { text: h.document_title }),
    h.heading ? el("p", { class: "state", text: h.heading + (h.marking ? " · " + h.marking : "") }) : null,
    snippet(h.snippet),
    el("a", { href: "/library/documents/" + encodeURIComponent(h.document_id) + "#p-" + encodeURIComponent(h.passage_id), text: t("in_context") }))));
}

// The upload form: the file goes to the library API in base64, read by the same parsers as
// `vigie library ingest`; a refusal shows its reason.
function uploadForm(form) {
  const status = document.getElementById("up-status");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = form.file.files[0];
    if (!file) return;
    status.textContent = t("upload_working");
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const body = {
      filename: file.name, content_base64: btoa(binary), language: form.language.value, marking: form.marking.value,
      recipients: recipients(form),
    };
    if (form.title.value.trim()) body.title = form.title.value.trim();
    const r = await api("POST", "/api/v1/library/documents", body);
    if (!r.ok) { status.textContent = errorText(r); return; }
    status.textContent = t("upload_done").replace("{title}", r.data.title).replace("{passages}", r.data.passages);
    const link = el("a", { href: "/library/documents/" + encodeURIComponent(r.data.document_id), text: r.data.title });
    status.append(" ", link);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  const list = document.getElementById("l-results");
  if (list) library(list);
  const upload = document.getElementById("upload-form");
  if (upload) uploadForm(upload);
  const root = document.getElementById("results");
  if (root) results(root);
  if (document.getElementById("dashboard")) dashboard();
});
