// The chat page. Plain JavaScript, no build step, nothing from elsewhere.
// Safety rule: data from the server (titles, article text, answers, quotes) only ever reaches the
// page as text nodes; elements are made with createElement, never from HTML strings.

const KEY_STORAGE = "pressroom.apiKey";
const STALL_MS = 45000; // the server sends a keep-alive every 15 s; silence this long = dropped
const STAGE_TEXT = {
  searching: "Searching the articles…",
  reading: "Reading the best passages…",
  rewriting: "Working out the follow-up…",
};
// What each server timing measures, in words (the API's timings_ms keys are internal names).
const STAGE_NAMES = {
  embed_query: "understanding the question",
  dense_search: "searching by meaning",
  lexical_search: "searching by keywords",
  fuse: "combining both searches",
  rescore: "ranking the passages",
  retrieve: "finding passages, in all",
  read: "reading the best passages",
  rewrite: "working out the follow-up",
  conversation: "keeping the conversation",
  queue: "waiting for other questions to finish",
};
const HINT = "Enter to send · Shift+Enter for a new line";
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

const $ = (id) => document.getElementById(id);
const ui = {
  thread: $("thread"),
  threadScroll: $("thread-scroll"),
  welcome: $("welcome"),
  welcomeEmpty: $("welcome-empty"),
  composer: $("composer"),
  question: $("question"),
  send: $("send"),
  hint: $("composer-hint"),
  newChat: $("new-chat"),
  libraryButton: $("library-button"),
  docCount: $("doc-count"),
  articleView: $("article-view"),
  articleBack: $("article-back"),
  articleLibrary: $("article-library"),
  articleContext: $("article-context"),
  articleTitle: $("article-title"),
  articleMeta: $("article-meta"),
  articleBody: $("article-body"),
  library: $("library"),
  libraryHeading: $("library-heading"),
  libraryStatus: $("library-status"),
  docList: $("doc-list"),
  uploadForm: $("upload-form"),
  uploadFile: $("upload-file"),
  pasteForm: $("paste-form"),
  pasteTitle: $("paste-title"),
  pasteText: $("paste-text"),
  keyNote: $("key-note"),
  forgetKey: $("forget-key"),
  keyDialog: $("key-dialog"),
  keyForm: $("key-form"),
  keyInput: $("key-input"),
  keyError: $("key-error"),
  keyCancel: $("key-cancel"),
  announcer: $("announcer"),
};

const state = {
  conversationId: null,
  controller: null, // AbortController of the question being answered
  docs: new Map(), // id -> Promise of the full document
  openToken: 0,
  returnTo: null, // the citation button that opened the article
  turns: [],
  threshold: null, // the server's abstention threshold (GET /healthz), once known
};

// ---------------------------------------------------------------------------------- helpers

/** An element with attributes and children; strings become text nodes, never markup. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.toLowerCase().startsWith("on")) throw new Error("use addEventListener");
    if (name === "class") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

const ASTRAL = /[\uD800-\uDBFF][\uDC00-\uDFFF]/;

/** The JavaScript (UTF-16) index of a code-point offset, as the server counts characters. */
function jsIndex(text, codePoints) {
  if (!ASTRAL.test(text)) return Math.min(codePoints, text.length);
  let i = 0;
  for (let n = 0; n < codePoints && i < text.length; n += 1) {
    const c = text.charCodeAt(i);
    i += c >= 0xd800 && c <= 0xdbff && i + 1 < text.length ? 2 : 1;
  }
  return i;
}

function announce(message) {
  ui.announcer.textContent = "";
  window.setTimeout(() => { ui.announcer.textContent = message; }, 30);
}

function scrollBehavior() {
  return reducedMotion ? "auto" : "smooth";
}

function plural(n, word) {
  return `${n.toLocaleString()} ${word}${n === 1 ? "" : "s"}`;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") {
      const details = Array.isArray(body.detail)
        ? body.detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ")
        : "";
      return details ? `${body.error} (${details})` : body.error;
    }
  } catch {
    // not JSON
  }
  return `The server answered ${response.status} ${response.statusText}.`.trim();
}

// ------------------------------------------------------------------------------ API key

function storedKey() {
  try {
    return window.sessionStorage.getItem(KEY_STORAGE);
  } catch {
    return null;
  }
}

function setKey(key) {
  try {
    if (key) window.sessionStorage.setItem(KEY_STORAGE, key);
    else window.sessionStorage.removeItem(KEY_STORAGE);
  } catch {
    // storage disabled: the key lives until the next prompt
  }
  ui.keyNote.hidden = !key;
}

/** Ask for the API key; resolves to the key, or null when the person cancels. */
function promptForKey(message) {
  return new Promise((resolve) => {
    const opener = document.activeElement;
    ui.keyError.hidden = !message;
    ui.keyError.textContent = message || "";
    ui.keyInput.value = "";
    const finish = (key) => {
      ui.keyForm.removeEventListener("submit", onSubmit);
      ui.keyCancel.removeEventListener("click", onCancel);
      ui.keyDialog.removeEventListener("cancel", onCancel);
      if (ui.keyDialog.open) ui.keyDialog.close();
      if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
      resolve(key);
    };
    const onSubmit = (event) => {
      event.preventDefault();
      const key = ui.keyInput.value.trim();
      if (/^[\x21-\x7e]+$/.test(key)) {
        finish(key);
      } else {
        ui.keyError.textContent = "An API key is made of plain letters, digits and symbols.";
        ui.keyError.hidden = false;
        ui.keyInput.focus();
      }
    };
    const onCancel = (event) => {
      event.preventDefault();
      finish(null);
    };
    ui.keyForm.addEventListener("submit", onSubmit);
    ui.keyCancel.addEventListener("click", onCancel);
    ui.keyDialog.addEventListener("cancel", onCancel);
    ui.keyDialog.showModal();
    ui.keyInput.focus();
  });
}

/** fetch with the session's API key; on 401 asks for a key and tries again. */
async function request(url, init = {}) {
  for (let attempt = 0; ; attempt += 1) {
    const headers = new Headers(init.headers || {});
    const key = storedKey();
    if (key) headers.set("Authorization", `Bearer ${key}`);
    const response = await fetch(url, { ...init, headers });
    if (response.status !== 401 || attempt >= 3) return response;
    if (key) setKey(null);
    const fresh = await promptForKey(key ? "That key was not accepted. Check it and try again." : "");
    if (!fresh) return response;
    setKey(fresh);
  }
}

// --------------------------------------------------------------------------- the stream

/** Read Server-Sent Events from a fetch response, calling onEvent(name, data) for each. */
async function readEvents(response, onEvent, controller) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let heldCR = "";
  let timer = 0;
  const arm = () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => controller.abort(new DOMException("stalled", "TimeoutError")),
      STALL_MS);
  };
  arm();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      arm();
      let text = heldCR + decoder.decode(value, { stream: true });
      heldCR = text.endsWith("\r") ? "\r" : "";
      if (heldCR) text = text.slice(0, -1);
      buffer += text.replace(/\r\n?/g, "\n");
      let cut = buffer.indexOf("\n\n");
      while (cut !== -1) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = parseEvent(block);
        if (event) onEvent(event.name, event.data);
        cut = buffer.indexOf("\n\n");
      }
    }
  } finally {
    window.clearTimeout(timer);
  }
}

function parseEvent(block) {
  let name = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  try {
    return { name, data: JSON.parse(data.join("\n")) };
  } catch {
    return null;
  }
}

// ------------------------------------------------------------------------------- asking

function setBusy(busy) {
  // While answering, the button stops the answer (a short label: the box keeps its width).
  ui.send.textContent = busy ? "Stop" : "Ask";
  ui.send.classList.toggle("stop", busy);
  ui.send.setAttribute("aria-label", busy ? "Stop answering" : "Ask");
  ui.composer.setAttribute("aria-busy", String(busy));
  if (!busy) ui.hint.textContent = HINT;
}

function stopAnswer() {
  const turn = state.turns[state.turns.length - 1];
  if (!state.controller || !turn) return;
  turn.stopped = true;
  state.controller.abort();
}

function autogrow() {
  ui.question.style.height = "auto";
  ui.question.style.height = `${Math.min(ui.question.scrollHeight, 200)}px`;
}

function reveal(node) {
  node.scrollIntoView({ block: "nearest", behavior: scrollBehavior() });
}

/** Whether a card is too tall to show whole: then its top is shown, not its end. */
function isTall(node) {
  const visible = window.matchMedia("(min-width: 900px)").matches
    ? ui.threadScroll.clientHeight : window.innerHeight - 160;
  return node.getBoundingClientRect().height > visible * 0.9;
}

function submitQuestion() {
  const question = ui.question.value.trim();
  if (state.controller) {
    const text = "Still answering the previous question: wait for it, or press Stop.";
    ui.hint.textContent = text;
    announce(text);
    return;
  }
  if (!question) return;
  ui.question.value = "";
  autogrow();
  const turn = addTurn(question);
  ask(turn, { question, conversation_id: state.conversationId });
}

function addTurn(question) {
  ui.welcome.hidden = true;
  const reply = el("div", { class: "reply", tabindex: "-1" });
  const item = el("li", { class: "turn" },
    el("p", { class: "bubble" }, el("span", { class: "visually-hidden" }, "You asked: "), question),
    reply);
  ui.thread.append(item);
  const turn = { item, reply, question, body: null, card: null, tall: false, cancelled: false };
  state.turns.push(turn);
  return turn;
}

async function ask(turn, body) {
  turn.body = body;
  turn.stopped = false;
  const controller = new AbortController();
  state.controller = controller;
  setBusy(true);
  const status = el("p", { class: "status" },
    el("span", { class: "pulse", "aria-hidden": "true" }),
    el("span", { class: "status-text" }, "Sending your question…"));
  turn.reply.replaceChildren(status);
  reveal(turn.item);
  const started = performance.now();
  let answer = null;
  let failure = null; // { message, retry }
  let done = false;
  let reached = false; // whether the server answered at all
  try {
    const response = await request("/v1/ask/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
      body: JSON.stringify(body),
      signal: controller.signal,
    });
    reached = true;
    if (response.status === 404 && body.conversation_id) {
      // The server no longer has this conversation (expired or deleted): start a fresh one.
      if (state.conversationId === body.conversation_id) setConversation(null);
      turn.body = { ...body, conversation_id: null };
      failure = { message: "This conversation has expired on the server. Retry to ask the "
        + "question again as the start of a new conversation.", retry: true };
    } else if (!response.ok) {
      const retry = ![400, 413, 422].includes(response.status);
      failure = { message: await errorMessage(response), retry };
    } else {
      await readEvents(response, (name, data) => {
        if (name === "stage") {
          const text = STAGE_TEXT[data.stage] || `${String(data.stage)}…`;
          status.lastChild.textContent = text;
          announce(text);
        } else if (name === "answer") {
          answer = data;
          status.remove();
          renderAnswer(turn, data);
        } else if (name === "timings" && answer) {
          renderTimings(turn, data, performance.now() - started);
        } else if (name === "error") {
          failure = { message: String(data.error || "The question could not be answered."),
            retry: true };
        } else if (name === "done") {
          done = true;
        }
      }, controller);
    }
  } catch (error) {
    if (turn.cancelled) return;
    const stalled = controller.signal.aborted && !turn.stopped;
    failure = {
      message: turn.stopped ? "Stopped before the answer arrived. Retry to ask again."
        : stalled ? "No answer arrived for a long time, so the request was stopped."
        : reached ? "The connection to the server was lost before the answer arrived."
          : "The server could not be reached. Check that it is running, then retry.",
      retry: true,
    };
    if (!(error instanceof DOMException)) console.warn(error);
  } finally {
    if (state.controller === controller) {
      state.controller = null;
      setBusy(false);
    }
  }
  if (turn.cancelled) return;
  if (answer) {
    if (answer.conversation_id) setConversation(answer.conversation_id);
    return;
  }
  if (!failure && turn.stopped) {
    failure = { message: "Stopped before the answer arrived. Retry to ask again.", retry: true };
  }
  if (!failure) {
    failure = {
      message: done ? "The server finished without an answer."
        : "The answer stream was cut off before the answer arrived.",
      retry: true,
    };
  }
  status.remove();
  renderError(turn, failure);
}

function renderError(turn, failure) {
  const card = el("div", { class: "error-card", role: "alert" },
    el("p", { class: "error-title" }, "No answer this time"),
    el("p", { class: "error-text" }, failure.message));
  if (failure.retry) {
    const retry = el("button", { type: "button", class: "button" }, "Retry");
    retry.addEventListener("click", () => {
      if (state.controller) return;
      turn.reply.focus({ preventScroll: true });
      ask(turn, turn.body);
    });
    card.append(retry);
  }
  turn.reply.replaceChildren(card);
  reveal(card);
}

/** The band of an answer's confidence, relative to the server's threshold `t`: "low" within
 * 10 points above the cut-off, "high" from halfway between it and 100% (and at least 60%). */
function confidenceLevel(confidence, t) {
  const cut = t ?? 0.25;
  if (confidence < cut + 0.1) return "low";
  return confidence >= Math.max(0.6, cut + (1 - cut) / 2) ? "high" : "medium";
}

function confidenceMeter(confidence) {
  const value = Math.max(0, Math.min(1, Number(confidence) || 0));
  const percent = Math.round(value * 100);
  const fill = el("span", { class: "confidence-fill" });
  fill.style.width = `${percent}%`;
  // The reader's confidence is calibrated: about how often answers this confident are exactly
  // right. Its most confident answers sit near 70%.
  const cutoff = state.threshold === null ? "" :
    ` Answers below ${Math.round(state.threshold * 100)}% are not given.`;
  const explanation = `About how often answers this confident are exactly right.${cutoff}`;
  return el("p", { class: `confidence ${confidenceLevel(value, state.threshold)}`, title: explanation },
    el("span", { class: "confidence-label" }, "Confidence"),
    el("span", { class: "confidence-bar", "aria-hidden": "true" }, fill),
    el("span", { class: "confidence-value" }, `${percent}%`),
    el("span", { class: "visually-hidden" }, ` ${explanation}`));
}

function quoteWithAnswer(citation) {
  const quote = el("span", { class: "quote" });
  const { quote: text, start, answer_start: as, answer_end: ae } = citation;
  if (as !== null && ae !== null && as >= start && ae > as && ae <= citation.end) {
    const a = jsIndex(text, as - start);
    const b = jsIndex(text, ae - start);
    quote.append(text.slice(0, a), el("strong", { class: "answer-span" }, text.slice(a, b)),
      text.slice(b));
  } else {
    quote.append(text);
  }
  return quote;
}

function citationButton(citation, number, turn) {
  // The accessible name is the button's own text, so a screen reader hears the quote itself.
  const button = el("button", { type: "button", class: "citation", "data-citation": number },
  el("span", { class: "chip", "aria-hidden": "true" }, String(number)),
  el("span", { class: "visually-hidden" }, `Source ${number}: `),
  el("span", { class: "citation-text" },
    quoteWithAnswer(citation),
    el("span", { class: "citation-title" }, citation.title)),
  el("span", { class: "visually-hidden" }, ". Opens it in the article."));
  button.addEventListener("click", () => {
    // Dragging across the quote selects it (to copy); only a plain click opens the article.
    if (String(window.getSelection() || "").trim()) return;
    openCitation(citation, number, button, turn);
  });
  return button;
}

/** A link that opens the article at this citation's span: `#source=DOC:START-END[:A-B]`. */
function sourceLink(citation) {
  let hash = `#source=${encodeURIComponent(citation.document_id)}:${citation.start}-${citation.end}`;
  if (citation.answer_start !== null && citation.answer_end !== null) {
    hash += `:${citation.answer_start}-${citation.answer_end}`;
  }
  return new URL(window.location.pathname + hash, window.location.origin).href;
}

function citationItem(citation, number, turn) {
  const link = el("a", { class: "permalink", href: sourceLink(citation),
    "aria-label": `Link to source ${number}` }, "Link");
  const item = el("li", {}, citationButton(citation, number, turn), link);
  // A quote from a photo caption says so: a caption is not the report.
  if (citation.block === "caption") item.append(el("span", { class: "block-tag" }, "photo caption"));
  return item;
}

/** What the answer's date words mean: "late August" -> "Aug 2014"; a range as "from – to". */
function dateMeaning(date) {
  if (date.value) return formatDate(date.value);
  return `${formatDate(date.first)} – ${formatDate(date.last)}`;
}

/** The answer and its sources as plain text, with a link to each cited span. */
function answerAsText(question, data) {
  const lines = [`Q: ${question}`,
    `A: ${typeof data.answer === "string" ? data.answer : "The articles do not say."}`];
  data.citations.forEach((c, i) => {
    lines.push(`[${i + 1}] “${c.quote}” — ${c.title}`, `    ${sourceLink(c)}`);
  });
  for (const alt of data.disagreement || []) {
    lines.push(`Other reports say: ${alt.answer}` + (alt.published ? ` (${alt.published})` : ""));
  }
  return lines.join("\n");
}

function copyButton(turn, data) {
  const button = el("button", { type: "button", class: "button small copy" }, "Copy");
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(answerAsText(turn.question, data));
      button.textContent = "Copied";
      announce("Answer and sources copied.");
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => { button.textContent = "Copy"; }, 2000);
  });
  return button;
}

/** "2023-08-14" as "14 Aug 2023", "2023-08" as "Aug 2023" (a year alone as given). */
function formatDate(iso) {
  const parts = String(iso).split("-").map(Number);
  if (parts.length < 2 || parts.length > 3 || parts.some(Number.isNaN)) return String(iso);
  const day = new Date(Date.UTC(parts[0], parts[1] - 1, parts[2] || 1));
  const style = { month: "short", year: "numeric", timeZone: "UTC" };
  if (parts.length === 3) style.day = "numeric";
  return day.toLocaleDateString("en-GB", style);
}

// Where a competing value stands (the API's `disagreement[].status`).
const STATUS_WORDS = {
  superseded: "an earlier version, since updated",
  corrected: "since corrected",
  earlier: "an earlier report",
  unsettled: "not settled",
};

/** What other articles say instead: each value, its dates and status, and its sources. */
function disagreementSection(turn, data, numbered) {
  const section = el("section", { class: "disagreement", "aria-label": "Other reports disagree" },
    el("h2", { class: "sources-heading" }, "Other reports say otherwise"));
  let number = numbered;
  for (const alt of data.disagreement) {
    const status = STATUS_WORDS[alt.status] || alt.status;
    const when = alt.published ? `${formatDate(alt.published)} · ` : "";
    const list = el("ol", { class: "citations", start: String(number + 1) });
    for (const citation of alt.citations) {
      number += 1;
      list.append(citationItem(citation, number, turn));
    }
    section.append(el("p", { class: "alternative" },
      el("strong", {}, alt.answer), el("span", { class: "alternative-status" }, ` (${when}${status})`)),
    list);
  }
  return section;
}

function renderAnswer(turn, data) {
  const answered = typeof data.answer === "string";
  // The source pane must not keep showing an earlier question's article beside a new answer.
  if (!ui.articleView.hidden) showLibrary(false);
  const card = el("section", { class: answered ? "answer-card" : "answer-card abstain",
    "aria-label": `${answered ? "Answer to" : "Not in the articles"}: ${turn.question}` });
  if (answered) {
    card.append(el("p", { class: "eyebrow" }, "Answer"),
      el("p", { class: "answer-text" }, data.answer));
  } else {
    card.append(el("p", { class: "eyebrow" }, "Not in the articles"),
      el("p", { class: "abstain-text" }, data.citations.length
        ? "The articles do not seem to answer this. These passages came closest:"
        : "The library has nothing to search yet."));
  }
  const asked = (data.question || "").trim().toLowerCase();
  const searched = (data.standalone_question || "").trim();
  if (searched && searched.toLowerCase() !== asked) {
    card.append(el("p", { class: "searched" }, "Understood as ", el("q", {}, searched)));
  }
  // An abstention has no answer to be confident in: no meter (a "13%" there only confused).
  // (a turn restored from the server has no confidence recorded)
  if (answered && typeof data.confidence === "number") card.append(confidenceMeter(data.confidence));
  if (data.notice) card.append(el("p", { class: "notice" }, data.notice));
  if (answered && data.date && (data.date.value || data.date.first)) {
    card.append(el("p", { class: "answer-date" }, `“${data.date.text}”: ${dateMeaning(data.date)}`));
  }
  if (answered && data.as_of) {
    card.append(el("p", { class: "as-of" }, `As reported on ${formatDate(data.as_of)}`));
  }
  if (answered && (data.also_reported_by || []).length) {
    card.append(el("p", { class: "also-reported" }, "Also reported by: " + data.also_reported_by
      .map((s) => s.title + (s.published ? ` (${formatDate(s.published)})` : "")).join("; ")));
  }
  // The answer's own sources, then the other articles that say the same, numbered on.
  const cited = [...data.citations, ...(answered ? data.agreement || [] : [])];
  if (cited.length) {
    if (answered) {
      const agree = cited.length > 1 && (data.agreement || []).length
        ? ` · ${new Set(cited.map((c) => c.document_id)).size} articles agree` : "";
      card.append(el("h2", { class: "sources-heading" },
        (cited.length === 1 ? "Source" : "Sources") + agree));
    }
    const list = el("ol", { class: "citations" });
    cited.forEach((citation, i) => {
      list.append(citationItem(citation, i + 1, turn));
    });
    card.append(list);
  }
  if (answered && data.disagreement && data.disagreement.length) {
    card.append(disagreementSection(turn, data, cited.length));
  }
  card.append(copyButton(turn, data));
  turn.reply.replaceChildren(card);
  turn.card = card;
  turn.tall = isTall(card);
  const sources = plural(data.citations.length, answered ? "source" : "nearby passage");
  announce(answered
    ? `Answer: ${data.answer}. Confidence ${Math.round(data.confidence * 100)} percent. ${sources}.`
    : `Not in the articles. ${sources}.`);
  // A tall answer shows from its question down (the question must not scroll away).
  if (turn.tall) turn.item.scrollIntoView({ block: "start", behavior: scrollBehavior() });
  else reveal(card);
}

function renderTimings(turn, data, clientMs) {
  if (!turn.card) return;
  const list = el("dl", { class: "timings-list" });
  for (const [stage, ms] of Object.entries(data.timings_ms || {})) {
    list.append(el("dt", {}, STAGE_NAMES[stage] || stage.replace(/_/g, " ")),
      el("dd", {}, `${Math.round(ms)} ms`));
  }
  if (typeof data.total_ms === "number") {
    list.append(el("dt", {}, "server total"), el("dd", {}, `${Math.round(data.total_ms)} ms`));
  }
  const details = el("details", { class: "timings" },
    el("summary", {}, `Answered in ${(clientMs / 1000).toFixed(2)} s`), list);
  turn.card.append(details);
  if (!turn.tall) reveal(details);
}

function newChat() {
  if (state.controller) state.controller.abort();
  cancelTurns();
  ui.thread.replaceChildren();
  setConversation(null);
  state.controller = null;
  setBusy(false);
  ui.welcome.hidden = false;
  showLibrary(false);
  ui.question.value = "";
  autogrow();
  ui.question.focus();
  announce("New chat started.");
}

/** Turns of this chat: "New chat" marks them cancelled so late answers are dropped. */
function cancelTurns() {
  for (const turn of state.turns) turn.cancelled = true;
  state.turns = [];
}

// ------------------------------------------------------------------------ article viewer

function getDocument(id) {
  if (!state.docs.has(id)) {
    const promise = fetch(`/v1/documents/${encodeURIComponent(id)}`).then(async (response) => {
      if (!response.ok) throw new Error(await errorMessage(response));
      return response.json();
    });
    promise.catch(() => state.docs.delete(id));
    state.docs.set(id, promise);
  }
  return state.docs.get(id);
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function showArticleView() {
  ui.library.hidden = true;
  ui.articleView.hidden = false;
}

function showLibrary(focus) {
  ui.articleView.hidden = true;
  ui.library.hidden = false;
  setActiveCitation(null);
  state.returnTo = null;
  if (focus) {
    ui.libraryHeading.focus({ preventScroll: true });
    ui.library.scrollIntoView({ block: "start", behavior: scrollBehavior() });
  }
}

function setActiveCitation(button) {
  for (const b of document.querySelectorAll(".citation[aria-current]")) {
    b.removeAttribute("aria-current");
  }
  if (button) button.setAttribute("aria-current", "true");
}

function renderMeta(doc) {
  const parts = [];
  if (doc.published) parts.push(doc.published);
  parts.push(plural(doc.characters ?? doc.text.length, "character"));
  ui.articleMeta.replaceChildren(parts.join(" · "));
  const href = doc.url ? safeUrl(doc.url) : null;
  if (href) {
    ui.articleMeta.append(" · ",
      el("a", { href, rel: "noopener noreferrer nofollow", target: "_blank" }, "original"));
  }
}

/** Put the article text in the viewer, the evidence in a <mark>, the answer in it in <strong>. */
function renderArticle(doc, citation) {
  const text = doc.text;
  ui.articleTitle.textContent = doc.title;
  renderMeta(doc);
  if (!citation) {
    ui.articleBody.replaceChildren(text);
    return null;
  }
  let start = jsIndex(text, citation.start);
  let end = jsIndex(text, citation.end);
  let shift = 0; // code points -> UTF-16 for the answer, relative to the evidence
  if (text.slice(start, end) !== citation.quote) {
    // The stored text changed since the answer: find the quote itself if we can.
    const found = text.indexOf(citation.quote);
    if (found === -1) {
      ui.articleBody.replaceChildren(text);
      return null;
    }
    shift = found - start;
    start = found;
    end = found + citation.quote.length;
  }
  const mark = el("mark", { class: "evidence", tabindex: "-1" });
  const { answer_start: as, answer_end: ae } = citation;
  if (as !== null && ae !== null && as >= citation.start && ae <= citation.end && ae > as) {
    const a = jsIndex(text, as) + shift;
    const b = jsIndex(text, ae) + shift;
    mark.append(text.slice(start, a), el("strong", { class: "answer-span" }, text.slice(a, b)),
      text.slice(b, end));
  } else {
    mark.append(text.slice(start, end));
  }
  ui.articleBody.replaceChildren(text.slice(0, start), mark, text.slice(end));
  return mark;
}

async function openCitation(citation, number, button, turn) {
  const token = ++state.openToken;
  showArticleView();
  setActiveCitation(button);
  state.returnTo = button;
  ui.articleBack.hidden = false;
  ui.articleContext.replaceChildren(`Source [${number}] for `, el("q", {}, turn.question));
  ui.articleTitle.textContent = citation.title;
  ui.articleMeta.textContent = "";
  ui.articleBody.replaceChildren(el("p", { class: "loading" }, "Opening the article…"));
  let doc;
  try {
    doc = await getDocument(citation.document_id);
  } catch (error) {
    if (token !== state.openToken) return;
    ui.articleBody.replaceChildren(el("p", { class: "error-text" },
      `This article could not be opened: ${error.message}`));
    ui.articleTitle.focus();
    return;
  }
  if (token !== state.openToken) return;
  const mark = renderArticle(doc, citation);
  const target = mark || ui.articleTitle;
  target.scrollIntoView({ block: "center", behavior: scrollBehavior() });
  target.focus({ preventScroll: true });
  announce(`Opened ${doc.title}. The cited sentence is highlighted.`);
}

async function openDocument(id, opener) {
  const token = ++state.openToken;
  showArticleView();
  setActiveCitation(null);
  state.returnTo = opener;
  ui.articleBack.hidden = true;
  ui.articleContext.textContent = "From the library";
  ui.articleBody.replaceChildren(el("p", { class: "loading" }, "Opening the article…"));
  try {
    const doc = await getDocument(id);
    if (token !== state.openToken) return;
    renderArticle(doc, null);
  } catch (error) {
    if (token !== state.openToken) return;
    ui.articleBody.replaceChildren(el("p", { class: "error-text" }, error.message));
  }
  ui.articleView.scrollIntoView({ block: "start", behavior: scrollBehavior() });
  ui.articleTitle.focus({ preventScroll: true });
}

function backToAnswer() {
  const target = state.returnTo;
  if (target && ui.library.contains(target)) showLibrary(false); // opened from the library
  if (target && target.isConnected) {
    target.scrollIntoView({ block: "center", behavior: scrollBehavior() });
    target.focus({ preventScroll: true });
  } else {
    ui.question.focus();
  }
}

// ------------------------------------------------------------------------------- library

async function loadLibrary() {
  let docs;
  try {
    const response = await fetch("/v1/documents");
    if (!response.ok) throw new Error(await errorMessage(response));
    docs = await response.json();
  } catch (error) {
    ui.libraryStatus.textContent = `The library could not be loaded: ${error.message}`;
    return;
  }
  ui.docCount.textContent = `(${docs.length})`;
  ui.welcomeEmpty.hidden = docs.length > 0;
  ui.docList.replaceChildren(...docs.map(documentItem));
  if (!docs.length) ui.docList.append(el("li", { class: "doc-empty" }, "No articles yet."));
}

function documentItem(doc) {
  const open = el("button", { type: "button", class: "doc-title" }, doc.title);
  open.addEventListener("click", () => openDocument(doc.id, open));
  const meta = [plural(doc.passages, "passage"), plural(doc.characters, "character")];
  if (doc.published) meta.push(doc.published);
  const remove = el("button", { type: "button", class: "button small danger",
    "aria-label": `Delete ${doc.title}` }, "Delete");
  remove.addEventListener("click", () => deleteDocument(doc));
  return el("li", { class: "doc" },
    el("div", { class: "doc-main" }, open, el("span", { class: "meta" }, meta.join(" · "))),
    remove);
}

function libraryMessage(message) {
  ui.libraryStatus.textContent = message;
}

async function deleteDocument(doc) {
  if (!window.confirm(`Delete “${doc.title}” from the library?`)) return;
  let response;
  try {
    response = await request(`/v1/documents/${encodeURIComponent(doc.id)}`, { method: "DELETE" });
  } catch {
    libraryMessage("The server could not be reached; nothing was deleted.");
    return;
  }
  let message;
  if (response.status === 204 || response.status === 404) {
    state.docs.delete(doc.id);
    message = `Deleted “${doc.title}”.`;
  } else {
    message = `Not deleted: ${await errorMessage(response)}`;
  }
  await loadLibrary();
  libraryMessage(message);
  ui.libraryHeading.focus();
}

async function addDocument(init, form) {
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  libraryMessage("Adding the article… (it is split into passages and indexed)");
  try {
    const response = await request("/v1/documents", { method: "POST", ...init });
    if (response.ok) {
      const added = await response.json();
      form.reset();
      await loadLibrary();
      libraryMessage(added.created
        ? `Added “${added.title}” (${plural(added.passages, "passage")}).`
        : `“${added.title}” was already in the library.`);
      return true;
    }
    libraryMessage(`Not added: ${await errorMessage(response)}`);
  } catch {
    libraryMessage("The server could not be reached; nothing was added.");
  } finally {
    submit.disabled = false;
  }
  return false;
}

// --------------------------------------------------------------------------------- wiring

ui.composer.addEventListener("submit", (event) => {
  event.preventDefault();
  if (event.submitter === ui.send && state.controller) stopAnswer(); else submitQuestion();
});
ui.question.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
    event.preventDefault();
    submitQuestion();
  }
});
ui.question.addEventListener("input", autogrow);
ui.newChat.addEventListener("click", newChat);
ui.libraryButton.addEventListener("click", () => showLibrary(true));
ui.articleLibrary.addEventListener("click", () => showLibrary(true));
ui.articleBack.addEventListener("click", backToAnswer);
ui.articleView.addEventListener("keydown", (event) => {
  if (event.key === "Escape") {
    event.preventDefault();
    backToAnswer();
  }
});
ui.forgetKey.addEventListener("click", () => {
  setKey(null);
  libraryMessage("The API key was forgotten.");
  ui.libraryHeading.focus();
});
ui.uploadForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const file = ui.uploadFile.files[0];
  if (!file) {
    libraryMessage("Choose a file to upload first.");
    ui.uploadFile.focus();
    return;
  }
  const body = new FormData();
  body.append("file", file, file.name);
  addDocument({ body }, ui.uploadForm);
});
ui.pasteForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const title = ui.pasteTitle.value.trim();
  const text = ui.pasteText.value;
  if (!title || !text.trim()) {
    libraryMessage("An article needs both a title and its text.");
    (title ? ui.pasteText : ui.pasteTitle).focus();
    return;
  }
  addDocument({ headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ title, text }) }, ui.pasteForm);
});

// ------------------------------------------------------------------------ conversations

/** Keep the conversation's id in the page's URL (?c=ID): a reload or a shared link opens it. */
function setConversation(id) {
  state.conversationId = id;
  const url = new URL(window.location.href);
  if (id) url.searchParams.set("c", id); else url.searchParams.delete("c");
  window.history.replaceState(null, "", url);
}

/** The conversation named in the URL, its turns shown again; an expired one is explained. */
async function restoreConversation() {
  const id = new URL(window.location.href).searchParams.get("c");
  if (!id) return;
  let response;
  try {
    response = await request(`/v1/conversations/${encodeURIComponent(id)}`);
  } catch {
    return;
  }
  if (!response.ok) {
    setConversation(null);
    ui.welcome.hidden = false;
    ui.welcome.append(el("p", { class: "welcome-empty notice", role: "status" },
      response.status === 404
        ? "That conversation has expired or was deleted; questions now start a new one."
        : "That conversation could not be opened."));
    return;
  }
  const conversation = await response.json();
  setConversation(conversation.id);
  for (const saved of conversation.turns) {
    const turn = addTurn(saved.question);
    renderAnswer(turn, saved);
  }
  announce(`Conversation restored: ${plural(conversation.turns.length, "earlier question")}.`);
}

async function loadThreshold() {
  try {
    const response = await fetch("/healthz");
    if (response.ok) state.threshold = Number((await response.json()).abstain_threshold);
  } catch {
    // the meter then explains itself without the cut-off
  }
}

/** `#source=DOC:START-END[:A-B]` (a link to a cited span): open that article there. */
async function openLinkedSource() {
  const match = /^#source=([^:]+):(\d+)-(\d+)(?::(\d+)-(\d+))?$/.exec(window.location.hash);
  if (!match) return;
  const [, id, start, end, as, ae] = match;
  const token = ++state.openToken;
  showArticleView();
  setActiveCitation(null);
  ui.articleBack.hidden = true;
  ui.articleContext.textContent = "A linked source";
  ui.articleBody.replaceChildren(el("p", { class: "loading" }, "Opening the article…"));
  let doc;
  try {
    doc = await getDocument(decodeURIComponent(id));
  } catch (error) {
    if (token !== state.openToken) return;
    ui.articleBody.replaceChildren(el("p", { class: "error-text" },
      `This article could not be opened: ${error.message}`));
    return;
  }
  if (token !== state.openToken) return;
  const citation = { start: Number(start), end: Number(end),
    quote: doc.text.slice(jsIndex(doc.text, Number(start)), jsIndex(doc.text, Number(end))),
    answer_start: as === undefined ? null : Number(as),
    answer_end: ae === undefined ? null : Number(ae) };
  const mark = renderArticle(doc, citation);
  (mark || ui.articleTitle).scrollIntoView({ block: "center", behavior: scrollBehavior() });
  (mark || ui.articleTitle).focus({ preventScroll: true });
}

window.addEventListener("hashchange", openLinkedSource);

setKey(storedKey());
loadThreshold();
loadLibrary();
restoreConversation();
openLinkedSource();
ui.question.focus();
