// The on-site assessment: one domain at a time, each answer saved as soon as it is given.
// Answers and photos go through a queue kept in IndexedDB, so that nothing typed is lost when
// the network drops; the queue is sent again when the network returns. An answer someone else
// changed meanwhile comes back as a conflict (409 answer_conflict) for the assessor to resolve.
import { t, api, errorText, el } from "./vigie.js";

function assessmentPage(root) {
  const id = root.dataset.id;
  const lang = root.dataset.lang;
  const base = "/api/v1/assessments/" + encodeURIComponent(id);

  // --- The queue (IndexedDB) -----------------------------------------------------------
  const db = new Promise((resolve, reject) => {
    const open = indexedDB.open("vigie-offline", 1);
    open.onupgradeneeded = () => open.result.createObjectStore("queue", { keyPath: "key", autoIncrement: true });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  async function tx(mode, work) {
    const d = await db;
    return new Promise((resolve, reject) => {
      const store = d.transaction("queue", mode).objectStore("queue");
      const request = work(store);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }
  const queued = async () => (await tx("readonly", (s) => s.getAll())).filter((e) => e.assessment === id);
  const dequeue = (key) => tx("readwrite", (s) => s.delete(key));
  async function enqueue(entry) {
    entry.assessment = id;
    if (entry.kind === "answer") {
      // A newer answer to the same question replaces a queued one, keeping the version the
      // assessor started from, so that a change made by someone else is still detected.
      for (const old of await queued()) {
        if (old.kind === "answer" && old.question === entry.question) {
          entry.body.base_version = old.body.base_version;
          await dequeue(old.key);
        }
      }
    }
    await tx("readwrite", (s) => s.add(entry));
  }

  // --- State ---------------------------------------------------------------------------
  let methodology = null;
  let assessment = null;
  let questions = [];          // applicable questions, in methodology order
  let domains = [];            // domains that have applicable questions
  let current = 0;             // index into domains
  const pending = {};          // question id → queued answer body (not yet on the server)
  const pendingPhotos = {};    // question id → number of queued photos
  const conflicts = [];        // {question, mine, theirs}
  let position = null;         // last GPS fix, when the assessor allowed it

  const text = (x) => (x && (x.text || x.label || x.name || x.title)) || "";
  const status = document.getElementById("net-status");
  function showNet(kind, message) {
    status.className = "net " + kind;
    status.textContent = message;
  }

  function answerOf(qid) {
    return pending[qid] || (assessment.answers || {})[qid] || null;
  }

  function progress() {
    const done = questions.filter((q) => { const a = answerOf(q.id); return a && a.answer; }).length;
    const bar = document.getElementById("a-progress");
    bar.max = questions.length || 1;
    bar.value = done;
    document.getElementById("a-progress-label").textContent = done + " / " + questions.length + " " + t("answered");
  }

  function renderTabs() {
    const nav = document.getElementById("a-domains");
    nav.replaceChildren();
    domains.forEach((d, i) => {
      const qs = questions.filter((q) => q.domain === d.id);
      const done = qs.filter((q) => { const a = answerOf(q.id); return a && a.answer; }).length;
      nav.append(el("button", { type: "button", "aria-current": i === current ? "step" : null, onclick: () => { current = i; render(); document.getElementById("a-questions").focus(); } },
        (text(d) || d.id) + " (" + done + "/" + qs.length + ")"));
    });
    document.getElementById("a-prev").disabled = current === 0;
    document.getElementById("a-next").disabled = current >= domains.length - 1;
  }

  function questionState(qid) {
    if (conflicts.some((c) => c.question === qid)) return ["conflict", t("q_conflict")];
    if (pending[qid] || pendingPhotos[qid]) return ["queued", navigator.onLine ? t("q_sending") : t("q_queued")];
    const a = (assessment.answers || {})[qid];
    return a ? ["saved", t("q_saved")] : ["", ""];
  }

  // Only a draft is answered, and only by those who may write it; the others read it.
  const editable = () => assessment.status === "draft" && root.dataset.canWrite === "1";

  function renderQuestion(q) {
    const a = answerOf(q.id) || {};
    const readOnly = !editable();
    const name = "a-" + q.id;
    const answers = el("div", { class: "answers" });
    const options = (q.answers || []).map((o) => [o.id, (o.grade !== undefined ? o.grade + " – " : "") + text(o)]);
    if (q.allows_na) options.push(["na", t("not_applicable")]);
    for (const [value, label] of options) {
      const input = el("input", { type: "radio", name, value, id: name + "-" + value, checked: a.answer === value, disabled: readOnly });
      input.addEventListener("change", () => save(q.id));
      answers.append(el("label", { for: name + "-" + value }, input, el("span", { text: label })));
    }
    const note = el("textarea", { id: "note-" + q.id, rows: 2, readonly: readOnly });
    note.value = a.note || "";
    note.addEventListener("change", () => { if (answerOf(q.id)) save(q.id); });
    const photo = el("input", { type: "file", id: "photo-" + q.id, accept: "image/*", capture: "environment" });
    photo.addEventListener("change", () => addPhoto(q.id, photo));
    const photos = el("div", { class: "photos" });
    const photoIds = new Set([...(a.photos || []), ...(assessment.photos || []).filter((p) => p.question_id === q.id).map((p) => p.id)]);
    for (const pid of photoIds) photos.append(el("img", { src: "/api/v1/photos/" + encodeURIComponent(pid), alt: t("photo_of") + " " + q.id, width: 96, height: 72, loading: "lazy" }));
    if (pendingPhotos[q.id]) photos.append(el("span", { text: pendingPhotos[q.id] + " " + t("photos_waiting") }));
    const [kind, label] = questionState(q.id);
    const help = Array.isArray(q.guidance) ? q.guidance.join(" ") : q.guidance;
    return el("fieldset", { class: "question", id: "q-" + q.id, "data-question": q.id },
      el("legend", { text: text(q) || q.id }),
      help ? el("p", { text: help }) : null,
      answers,
      el("label", { for: "note-" + q.id, text: t("note") }), note,
      readOnly ? null : el("label", { for: "photo-" + q.id, text: t("add_photo") }), readOnly ? null : photo, photos,
      el("p", { class: "state " + kind, role: "status", text: label }));
  }

  function renderConflicts() {
    const box = document.getElementById("a-conflicts");
    box.replaceChildren();
    for (const c of conflicts) {
      const q = questions.find((x) => x.id === c.question) || { id: c.question, answers: [] };
      const label = (ans) => ans === "na" ? t("not_applicable") : text((q.answers || []).find((o) => o.id === ans)) || ans;
      const describe = (x) => label(x.answer) + (x.note ? " – « " + x.note + " »" : "");
      box.append(el("section", { class: "conflict", role: "alert", "data-conflict": c.question },
        el("h2", { text: t("conflict_title") + ": " + (text(q) || q.id) }),
        el("p", {}, el("strong", { text: t("conflict_theirs") + " " }), describe(c.theirs), c.theirs.updated_at_ms ? " (" + new Date(c.theirs.updated_at_ms).toLocaleString(lang) + ")" : ""),
        el("p", {}, el("strong", { text: t("conflict_mine") + " " }), describe(c.mine)),
        el("div", { class: "actions" },
          el("button", { type: "button", onclick: () => resolve(c, true), text: t("keep_mine") }),
          el("button", { type: "button", class: "secondary", onclick: () => resolve(c, false), text: t("keep_theirs") }))));
    }
  }

  function render() {
    // The page is redrawn after each answer: keep the keyboard focus where it was.
    const focused = document.activeElement && document.activeElement.id;
    const box = document.getElementById("a-questions");
    box.replaceChildren();
    const domain = domains[current];
    if (!domain) { box.append(el("p", { text: t("no_questions") })); return; }
    box.append(el("h2", { text: text(domain) || domain.id }));
    for (const q of questions.filter((x) => x.domain === domain.id)) box.append(renderQuestion(q));
    renderTabs();
    renderConflicts();
    progress();
    renderSubmit();
    const again = focused && document.getElementById(focused);
    if (again) again.focus();
  }

  function renderSubmit() {
    const wrap = document.getElementById("a-submit-wrap");
    wrap.replaceChildren();
    if (assessment.status !== "draft") {
      wrap.append(el("p", { text: t("status") + ": " + t("status_" + assessment.status) }), el("p", { class: "state", text: t("read_only") }));
      return;
    }
    if (!editable()) {
      wrap.append(el("p", { class: "state", text: t("read_only_role") }));
      return;
    }
    const out = el("p", { role: "status" });
    wrap.append(el("button", { type: "button", id: "a-submit", onclick: async () => {
      if (Object.keys(pending).length || conflicts.length) { out.textContent = t("submit_wait"); return; }
      // Unanswered questions count as "nothing in place": the assessor confirms knowing how many.
      const unanswered = questions.filter((q) => { const a = answerOf(q.id); return !(a && a.answer); }).length;
      if (unanswered > 0 && !confirm(t("confirm_submit_incomplete").replace("{n}", unanswered).replace("{applicable}", questions.length))) return;
      const r = await api("POST", base + "/transition", { to: "submitted" });
      if (r.ok) { assessment = Object.assign(assessment, r.data || { status: "submitted" }); render(); }
      else out.textContent = errorText(r);
    }, text: t("submit_assessment") }), out);
  }

  // --- Saving --------------------------------------------------------------------------
  async function save(qid) {
    const checked = document.querySelector('input[name="a-' + qid + '"]:checked');
    if (!checked) return;
    const note = document.getElementById("note-" + qid).value;
    const stored = (assessment.answers || {})[qid];
    const body = { answer: checked.value, note, observed_at_ms: Date.now(), gps: position, base_version: stored ? stored.version : 0 };
    pending[qid] = Object.assign({}, stored || {}, body);
    await enqueue({ kind: "answer", question: qid, body });
    render();
    flush();
  }

  async function addPhoto(qid, input) {
    const file = input.files[0];
    if (!file) return;
    pendingPhotos[qid] = (pendingPhotos[qid] || 0) + 1;
    await enqueue({ kind: "photo", question: qid, blob: file, type: file.type || "image/jpeg" });
    render();
    flush();
  }

  function resolve(c, mine) {
    conflicts.splice(conflicts.indexOf(c), 1);
    assessment.answers[c.question] = c.theirs;
    if (mine) {
      const body = Object.assign({}, c.mine, { base_version: c.theirs.version });
      pending[c.question] = Object.assign({}, c.theirs, body);
      enqueue({ kind: "answer", question: c.question, body }).then(flush);
    }
    render();
  }

  let flushing = false;
  async function flush() {
    // Taken before the first await: two flushes at once would send an entry twice.
    if (flushing) return;
    flushing = true;
    let sent = 0;
    let entries = [];
    try {
      entries = await queued();
      if (!entries.length) return;
      for (const entry of entries) {
        let r;
        if (entry.kind === "answer") {
          r = await api("PUT", base + "/answers/" + encodeURIComponent(entry.question), entry.body);
        } else {
          r = await api("POST", base + "/photos?question=" + encodeURIComponent(entry.question) + "&keep_location=false", entry.blob, entry.type);
        }
        if (r.status === 0 || r.status === 503) {
          showNet("offline", t("offline"));
          return;
        }
        await dequeue(entry.key);
        sent++;
        if (entry.kind === "answer") {
          delete pending[entry.question];
          if (r.ok) assessment.answers[entry.question] = r.data;
          else if (r.status === 409 && r.data && r.data.error && r.data.error.code === "answer_conflict") {
            // One conflict per question: answering it again meanwhile replaces "mine".
            const at = conflicts.findIndex((c) => c.question === entry.question);
            conflicts.splice(at < 0 ? conflicts.length : at, at < 0 ? 0 : 1, { question: entry.question, mine: entry.body, theirs: r.data.error.details.current });
          } else showNet("offline", errorText(r));
        } else {
          pendingPhotos[entry.question] = Math.max(0, (pendingPhotos[entry.question] || 1) - 1);
          if (r.ok) assessment.photos = (assessment.photos || []).concat([r.data]);
          else showNet("offline", errorText(r));
        }
      }
      if (status.classList.contains("offline") || status.dataset.wasOffline) {
        showNet("synced", t("synced"));
        delete status.dataset.wasOffline;
      }
    } finally {
      flushing = false;
      // Refreshes the copy the service worker keeps, for a reload without network.
      if (sent) api("GET", base);
      // Redrawn only when something was in the queue: a redraw would drop a note being typed.
      if (entries.length) render();
    }
  }

  window.addEventListener("offline", () => { status.dataset.wasOffline = "1"; showNet("offline", t("offline")); render(); });
  window.addEventListener("online", () => flush());
  setInterval(() => { if (navigator.onLine) flush(); }, 10000);

  // GPS only when the browser has already been allowed, or the assessor asks for it.
  function watchPosition() {
    navigator.geolocation.watchPosition((p) => {
      position = { lat: p.coords.latitude, lon: p.coords.longitude, accuracy_m: Math.round(p.coords.accuracy) };
    }, () => {}, { enableHighAccuracy: true, maximumAge: 60000 });
  }
  async function setUpGps() {
    if (!("geolocation" in navigator)) return;
    const granted = navigator.permissions ? (await navigator.permissions.query({ name: "geolocation" }).catch(() => null)) : null;
    if (granted && granted.state === "granted") { watchPosition(); return; }
    const button = el("button", { type: "button", class: "secondary", text: t("use_gps"), onclick: () => { watchPosition(); button.remove(); } });
    document.getElementById("a-progress").parentElement.after(button);
  }

  async function start() {
    const [m, a] = await Promise.all([api("GET", "/api/v1/methodology?lang=" + lang), api("GET", base)]);
    if (!m.ok || !a.ok) {
      document.getElementById("a-questions").replaceChildren(el("p", { class: "error", text: errorText(m.ok ? a : m) }));
      return;
    }
    methodology = m.data;
    assessment = a.data;
    assessment.answers = assessment.answers || {};
    // The category the assessment was opened with chooses the questions.
    const category = assessment.site && assessment.site.category;
    const site = await api("GET", "/api/v1/sites/" + encodeURIComponent(assessment.site_id));
    if (site.ok) document.getElementById("a-title").textContent = t("assessment_of") + " " + site.data.name;
    questions = (methodology.questions || []).filter((q) => !category || !q.applies_to || !q.applies_to.length || q.applies_to.includes(category) || q.applies_to.includes("all"));
    domains = (methodology.domains || []).filter((d) => questions.some((q) => q.domain === d.id));
    // Answers given offline before a reload are still in the queue: show them.
    for (const e of await queued()) {
      if (e.kind === "answer") pending[e.question] = Object.assign({}, assessment.answers[e.question] || {}, e.body);
      else pendingPhotos[e.question] = (pendingPhotos[e.question] || 0) + 1;
    }
    const fromHash = Number((location.hash.match(/d=(\d+)/) || [])[1]);
    if (fromHash >= 0 && fromHash < domains.length) current = fromHash;
    document.getElementById("a-prev").addEventListener("click", () => { current = Math.max(0, current - 1); render(); window.scrollTo(0, 0); });
    document.getElementById("a-next").addEventListener("click", () => { current = Math.min(domains.length - 1, current + 1); render(); window.scrollTo(0, 0); });
    render();
    setUpGps();
    if (!navigator.onLine) showNet("offline", t("offline"));
    flush();
  }
  document.addEventListener("DOMContentLoaded", start);
}

const root = document.getElementById("assessment");
if (root) assessmentPage(root);
