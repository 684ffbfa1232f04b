// The auction page (PROTOCOL.md): one WebSocket to /ws/{auctionId}, the public state rendered as it
// changes, and for a bidder the turn form. Reconnects with jittered backoff; keeps the highest `seq`
// it has shown, so a state that arrives twice or late is never shown over a newer one.
import { ServerClock } from "./clock.js";
import { display, formatKopiyky, parseKopiyky, parseRatio } from "./money.js";
import { language, setLanguage, t } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const path = location.pathname.split("/").filter(Boolean);
const auctionId = decodeURIComponent(path[1] ?? "");
const params = new URLSearchParams(location.search);
const hasLink = params.has("key_for_bid");

const page = {
  clock: new ServerClock(),
  socket: null,
  attempts: 0,
  seq: -1,
  auction: null,
  role: "observer",
  me: null,            // {number, label, coefficient}
  pending: null,       // the acknowledged pending bid's amount text, this turn
  requestCounter: 0,
  shownStage: null,
  linkRejected: false,
};

// MARK: - Connection

function connect() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = hasLink ? `?key_for_bid=${encodeURIComponent(params.get("key_for_bid"))}&hash=${encodeURIComponent(params.get("hash") ?? "")}` : "";
  const socket = new WebSocket(`${scheme}//${location.host}/ws/${encodeURIComponent(auctionId)}${query}`);
  page.socket = socket;
  setConnection(page.attempts === 0 ? "connecting" : "reconnecting");
  socket.addEventListener("open", () => {
    page.attempts = 0;
    setConnection("connected");
    syncClock();
    // Ask again from the last seq shown: anything missed while away comes back, nothing twice.
    if (page.seq >= 0) send({ type: "resync", sinceSeq: page.seq });
  });
  socket.addEventListener("message", (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch { return; }
    receive(message);
  });
  socket.addEventListener("close", () => {
    if (page.socket !== socket) return;
    setConnection("reconnecting");
    // Jittered exponential backoff: 0.5 s doubling to 30 s, each wait 50-100 % of the step.
    const step = Math.min(30000, 500 * 2 ** page.attempts);
    page.attempts += 1;
    setTimeout(connect, step * (0.5 + Math.random() / 2));
  });
}

function send(message) {
  if (page.socket?.readyState === WebSocket.OPEN) page.socket.send(JSON.stringify(message));
}

/** Five pings 150 ms apart; again every minute and after every reconnect. */
function syncClock() {
  page.clock.reset();
  for (let i = 0; i < 5; i += 1) setTimeout(() => send({ type: "ping", clientTime: Date.now() }), i * 150);
}
setInterval(syncClock, 60000);

function receive(message) {
  switch (message.type) {
    case "welcome":
      page.role = message.role;
      page.me = message.bidder ?? null;
      page.clock.add(Date.now(), message.serverTime);
      renderRole();
      break;
    case "state":
      if (typeof message.seq !== "number" || message.seq < page.seq) return;
      page.seq = message.seq;
      page.auction = message.auction;
      render();
      break;
    case "pong":
      page.clock.add(message.clientTime, message.serverTime);
      break;
    case "pendingBid":
      page.pending = message.amount;
      showBidStatus(t("pending", { amount: display(message.amount, language()) }), "ok");
      renderBidPanel();
      break;
    case "bidAccepted":
      page.pending = message.amount;
      showBidStatus(t("pending", { amount: display(message.amount, language()) }), "ok");
      renderBidPanel();
      break;
    case "bidCancelled":
      page.pending = null;
      showBidStatus(t("cancelled"), "ok");
      renderBidPanel();
      break;
    case "bidRejected":
      showBidStatus(t(`err_${message.code}`), "error");
      break;
    case "error":
      if (message.code === "invalid_token") {
        page.linkRejected = true;
        $("link-problem").textContent = t("wrongLink");
        $("link-problem").hidden = false;
      } else if (message.code === "unavailable") {
        showBidStatus(t("err_unavailable"), "error");
      }
      break;
  }
}

function setConnection(state) {
  const element = $("connection");
  element.dataset.state = state;
  element.textContent = t(state);
}

// MARK: - Rendering

function render() {
  const auction = page.auction;
  if (!auction) return;
  const lang = language();
  $("tender-id").textContent = auction.tenderID ?? auction.tenderId;
  $("title").textContent = (lang === "en" && auction.title_en) ? auction.title_en : (auction.title ?? t("auction"));
  $("entity").textContent = auction.procuringEntity?.name ?? "";
  $("value").textContent = `${display(auction.value.amount, lang)} ${auction.value.currency}`;
  $("step").textContent = `${display(auction.minimalStep.amount, lang)} ${auction.minimalStep.currency}`;
  $("step-label").textContent = t(rising() ? "stepIncrease" : "stepReduction");
  $("status").textContent = t(`status_${auction.status}`);
  renderStages();
  renderResults();
  renderBidPanel();
  renderRole();
  tick();
}

function rising() { return page.auction?.awardCriteria === "highestCost"; }
function isMEAT() { return page.auction?.initialBids?.some((bid) => bid.normalizedAmount !== undefined); }
function label(number) {
  const bidder = page.auction?.bidders.find((b) => b.number === number);
  const text = bidder?.name ?? `${t("bidder")} ${number}`;
  return page.me?.number === number ? `${text} (${t("you")})` : text;
}
function timeText(ms) {
  return ms ? new Date(ms).toLocaleTimeString(language() === "en" ? "en-GB" : "uk-UA") : "";
}
function priceText(entry) {
  if (!entry) return "";
  const lang = language();
  if (entry.amount !== undefined && entry.normalizedAmount !== undefined) {
    return `${display(entry.amount, lang)} (${t("normalized")} ${display(entry.normalizedAmount, lang)})`;
  }
  if (entry.normalizedAmount !== undefined) return `${display(entry.normalizedAmount, lang)} (${t("normalized")})`;
  return entry.amount !== undefined ? display(entry.amount, lang) : "";
}

function renderRole() {
  $("role").textContent = page.me ? t("bidderRole", { label: `${t("bidder")} ${page.me.number}` }) : t("observer");
  document.body.dataset.role = page.me ? "bidder" : "observer";
}

function row(cells, classes = []) {
  const tr = document.createElement("tr");
  for (const name of classes) tr.classList.add(name);
  for (const cell of cells) {
    const td = document.createElement("td");
    td.textContent = cell;
    tr.append(td);
  }
  return tr;
}

/** The protocol's columns: MEAT auctions show the full price, the coefficient and the normalised
 * price side by side, so that the ranking can be checked by hand. */
function stageColumns() {
  return isMEAT()
    ? ["stage", "bidder", "price", "coefficient", "normalizedPrice", "time", "bidTime"]
    : ["stage", "bidder", "price", "time", "bidTime"];
}

/** The bidder's MEAT coefficient as a decimal (4 places at most), the exact fraction in its title. */
function coefficientText(number) {
  const exact = page.auction?.bidders.find((b) => b.number === number)?.coefficient;
  if (!exact) return "";
  const [numerator, denominator] = parseRatio(exact);
  return String(Number((numerator / denominator).toFixed(4))).replace(".", language() === "en" ? "." : ",");
}

/** A bid's server time to the millisecond: the order of bids is decided at that grain. */
function bidTimeText(ms) {
  if (!ms) return "";
  return `${timeText(ms)}.${String(ms % 1000).padStart(3, "0")}`;
}

/** One row of the protocol: `cells` by column name. */
function protocolRow(cells, classes) {
  const tr = row(stageColumns().map((column) => cells[column] ?? ""), classes);
  const coefficient = stageColumns().indexOf("coefficient");
  if (coefficient >= 0 && cells.exactCoefficient) tr.children[coefficient].title = cells.exactCoefficient;
  return tr;
}

function renderStages() {
  const auction = page.auction;
  const meat = isMEAT();
  const head = $("stages-head");
  const columns = stageColumns();
  if (head.dataset.columns !== columns.join()) {
    head.dataset.columns = columns.join();
    head.replaceChildren(...columns.map((column) => {
      const th = document.createElement("th");
      th.dataset.i18n = column;
      th.textContent = t(column);
      return th;
    }));
  }
  const body = $("stages").querySelector("tbody");
  body.replaceChildren();
  const priceCells = (entry, bidder) => meat
    ? {
      price: entry.amount !== undefined ? display(entry.amount, language()) : "",
      coefficient: coefficientText(bidder),
      exactCoefficient: page.auction.bidders.find((b) => b.number === bidder)?.coefficient,
      normalizedPrice: entry.normalizedAmount !== undefined ? display(entry.normalizedAmount, language()) : "",
    }
    : { price: priceText(entry) };
  body.append(protocolRow({ stage: t("initial") }, ["section"]));
  for (const bid of auction.initialBids) {
    const mine = page.me?.number === bid.bidder;
    body.append(protocolRow({ bidder: label(bid.bidder), ...priceCells(bid, bid.bidder), time: timeText(bid.time) }, mine ? ["mine"] : []));
  }
  auction.stages.forEach((stage, index) => {
    const cells = { time: timeText(stage.start) };
    const classes = [];
    if (stage.type === "pause") {
      cells.stage = t("pause", { round: stage.round ?? 1 });
      classes.push("section");
    } else if (stage.type === "bids") {
      cells.stage = t("round", { round: stage.round });
      cells.bidder = label(stage.bidder);
      if (stage.amount !== undefined || stage.normalizedAmount !== undefined) Object.assign(cells, priceCells(stage, stage.bidder));
      if (stage.changed) {
        cells.price = [cells.price, t("changed")].filter(Boolean).join(" • ");
        classes.push("changed");
      }
      cells.bidTime = bidTimeText(stage.time);
      if (page.me?.number === stage.bidder) classes.push("mine");
    } else {
      cells.stage = t(stage.type);
      classes.push("section");
    }
    if (index === auction.currentStage) classes.push("current");
    const tr = protocolRow(cells, classes);
    tr.dataset.stage = String(index);
    if (index === auction.currentStage) tr.setAttribute("aria-current", "step");
    body.append(tr);
  });
  if (page.shownStage !== auction.currentStage) {
    page.shownStage = auction.currentStage;
    body.querySelector("tr.current")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }
}

function renderResults() {
  const auction = page.auction;
  const final = auction.status === "finished" || auction.status === "announced";
  $("results-heading").textContent = t(final ? "final" : "standing");
  const list = $("results");
  list.replaceChildren();
  for (const result of auction.results) {
    const item = document.createElement("li");
    const coefficient = coefficientText(result.bidder);
    item.textContent = `${label(result.bidder)} — ${priceText(result)}` + (coefficient ? ` (${t("coefficient")} ${coefficient})` : "");
    if (page.me?.number === result.bidder) item.classList.add("mine");
    list.append(item);
  }
  // The record's head (docs/AUDIT.md): anyone holding the audit document can check it against this.
  $("record").hidden = !auction.chainHead;
  $("chain-head").textContent = auction.chainHead ?? "";
  // The whole record, replayed by the service from its log; the same document is on the tender.
  $("audit-link").href = `/api/v1/auctions/${encodeURIComponent(auctionId)}/audit`;
}

// MARK: - The turn form

/** The stage index of my running turn, or null. */
function myTurn() {
  const auction = page.auction;
  if (!auction || !page.me || auction.status !== "active") return null;
  const stage = auction.stages[auction.currentStage];
  if (stage?.type !== "bids" || stage.bidder !== page.me.number) return null;
  const now = page.clock.now();
  return stage.end && now >= stage.end ? null : auction.currentStage;
}

/** My standing full price in kopiyky: my last ended turn's amount, or my initial bid. */
function ownPrice() {
  const auction = page.auction;
  const [numerator, denominator] = parseRatio(page.me?.coefficient);
  const full = (entry) => {
    if (entry.amount !== undefined) return parseKopiyky(entry.amount);
    if (entry.normalizedAmount !== undefined) return Math.round(parseKopiyky(entry.normalizedAmount) * numerator / denominator);
    return null;
  };
  let price = null;
  const initial = auction.initialBids.find((bid) => bid.bidder === page.me.number);
  if (initial) price = full(initial);
  for (const stage of auction.stages) {
    if (stage.type === "bids" && stage.bidder === page.me.number && (stage.amount !== undefined || stage.normalizedAmount !== undefined)) {
      price = full(stage) ?? price;
    }
  }
  return price;
}

let lastTurn = null;

function renderBidPanel() {
  const turn = myTurn();
  const panel = $("bid-panel");
  if (turn === null) {
    // Between turns nothing is pending: a turn's bid is published or gone when it ends.
    panel.hidden = true;
    page.pending = null;
    lastTurn = null;
    return;
  }
  if (lastTurn !== turn) {
    lastTurn = turn;
    panel.hidden = false;
    $("amount").value = "";
    $("amount").focus();
  }
  panel.hidden = false;
  const own = ownPrice();
  const step = parseKopiyky(page.auction.minimalStep.amount);
  const lang = language();
  if (own !== null) {
    const limit = rising() ? own + step : own - step;
    $("limit").dataset.limit = formatKopiyky(limit);
    $("limit").textContent = t(rising() ? "limitUp" : "limitDown", {
      limit: display(formatKopiyky(limit), lang), own: display(formatKopiyky(own), lang), step: display(formatKopiyky(step), lang),
    });
  }
  $("place").textContent = t(page.pending ? "replace" : "place");
  $("cancel").hidden = !page.pending;
  const meat = $("meat-info");
  if (page.me?.coefficient && own !== null) {
    const [numerator, denominator] = parseRatio(page.me.coefficient);
    const typed = parseKopiyky($("amount").value) ?? own;
    meat.textContent = t("meat", {
      coefficient: page.me.coefficient,
      normalized: display(formatKopiyky(Math.round(typed * denominator / numerator)), lang),
      full: display(formatKopiyky(typed), lang),
    });
    meat.hidden = false;
  } else {
    meat.hidden = true;
  }
}

function showBidStatus(text, kind) {
  const element = $("bid-status");
  element.textContent = text;
  element.dataset.kind = kind;
}

/** Other bidders whose standing price equals `kopiyky` (a tie the bidder may not want). */
function tiedWith(kopiyky) {
  const auction = page.auction;
  const standing = new Map();
  for (const bid of auction.initialBids) standing.set(bid.bidder, bid.amount);
  for (const stage of auction.stages) if (stage.type === "bids" && stage.amount !== undefined) standing.set(stage.bidder, stage.amount);
  return [...standing.entries()].filter(([number, amount]) => number !== page.me.number && parseKopiyky(amount) === kopiyky).map(([n]) => n);
}

$("amount").addEventListener("input", () => {
  const kopiyky = parseKopiyky($("amount").value);
  const ties = kopiyky === null || !page.auction ? [] : tiedWith(kopiyky);
  $("tie-warning").hidden = ties.length === 0;
  $("tie-warning").textContent = ties.length ? t("tie", { label: label(ties[0]) }) : "";
  renderBidPanel();
});

$("bid-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const text = $("amount").value.trim();
  const kopiyky = parseKopiyky(text);
  if (kopiyky === null) { showBidStatus(t("err_invalid_amount"), "error"); return; }
  const own = ownPrice();
  if (own) {
    const percent = Math.round(Math.abs(kopiyky - own) * 100 / own);
    if (percent >= 30 && !window.confirm(t("confirmBig", { percent }))) return;
  }
  page.requestCounter += 1;
  showBidStatus(t("sending"), "pending");
  send({ type: "bid", amount: formatKopiyky(kopiyky), requestId: `web-${Date.now()}-${page.requestCounter}` });
});

$("cancel").addEventListener("click", () => {
  page.requestCounter += 1;
  send({ type: "cancel", requestId: `web-${Date.now()}-${page.requestCounter}` });
});

// MARK: - The countdown

/** What the countdown counts to now: [label key, target time ms]. */
function countdownTarget() {
  const auction = page.auction;
  if (!auction) return null;
  const stages = auction.stages;
  if (auction.status === "finished" || auction.status === "announced" || auction.status === "cancelled" || auction.status === "rescheduled") {
    return ["finishedCount", null];
  }
  if (auction.status === "scheduled" || auction.currentStage < 0) return ["toStart", stages[0]?.start];
  const current = stages[auction.currentStage];
  if (page.me && current.type === "bids" && current.bidder === page.me.number) return ["toTurnEnd", current.end];
  // Turns of later rounds have no bidder until their pause: only a numbered turn is "mine".
  const nextMine = page.me ? stages.findIndex((s, i) => i > auction.currentStage && s.type === "bids" && s.bidder === page.me.number) : -1;
  const preAnnouncement = stages.findIndex((s) => s.type === "preAnnouncement");
  if (current.type === "pause") {
    const next = stages[auction.currentStage + 1];
    if (page.me && nextMine === auction.currentStage + 1) return ["toYourTurn", next.start];
    return ["toNextRound", next?.start];
  }
  if (current.type === "bids") {
    if (nextMine >= 0) return ["toYourTurn", stages[nextMine].start];
    if (auction.currentStage + 1 === preAnnouncement) return ["toResults", current.end];
    return ["toTurnOfOther", current.end];
  }
  return ["toResults", null];
}

function tick() {
  const target = countdownTarget();
  if (!target) return;
  const [key, at] = target;
  $("countdown-label").textContent = t(key);
  let text = "";
  if (at) {
    const left = Math.max(0, at - page.clock.now());
    const seconds = Math.floor(left / 1000);
    text = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}.${Math.floor((left % 1000) / 100)}`;
  }
  $("countdown").textContent = text || "—";
  // Screen readers hear the countdown when its meaning changes and at 60, 30, 10 and 5 seconds,
  // not ten times a second.
  const seconds = at ? Math.ceil(Math.max(0, at - page.clock.now()) / 1000) : null;
  const spoken = $("countdown-spoken");
  if (spoken.dataset.key !== key || [60, 30, 10, 5].includes(seconds) && spoken.dataset.seconds !== String(seconds)) {
    spoken.dataset.key = key;
    spoken.dataset.seconds = String(seconds);
    spoken.textContent = `${t(key)}${text ? ": " + text.split(".")[0] : ""}`;
  }
  document.title = `${text ? text.split(".")[0] + " · " : ""}${page.auction.tenderID ?? t("auction")}`;
  // A turn can end between states: hide the form at the deadline itself.
  if (!$("bid-panel").hidden && myTurn() === null) renderBidPanel();
}
setInterval(tick, 100);

// MARK: - Start

$("language").addEventListener("change", (event) => {
  setLanguage(event.target.value);
  localStorage.setItem("auction-language", event.target.value);
  setConnection($("connection").dataset.state);
  if (page.linkRejected) $("link-problem").textContent = t("wrongLink");
  render();
});
const saved = localStorage.getItem("auction-language") ?? new URLSearchParams(location.search).get("lang");
if (saved) $("language").value = saved;
setLanguage($("language").value);
setConnection("connecting");
connect();
