// The national picture: the hub's latest capability snapshot on a schematic map of the
// rescue departments, polled every second (a bodiless 304 while the snapshot is the same).
// Figures come from the API only; nothing here computes a figure of its own.
"use strict";

const POLL_MS = 1000;
// Older than this, the data on the page is called out of date (the hub's snapshot
// interval is seconds; a lost leader or a broken connection shows here).
const STALE_AFTER_S = 30;
const TILE = { w: 150, h: 86, gap: 6 };

const LABELS = {
  fi: {
    title: "Pelastustoimen kansallinen tilannekuva",
    map: "Pelastuslaitokset kartalla: väri kertoo kuormituksen",
    schematic: "Kaaviokartta: laitosten alueet ruutuina suunnilleen sijaintinsa mukaan, ei rajoja.",
    snapshot: (seq, age) => `tilannekuva ${seq}, ${age} sitten`,
    not_ready: "Hubi ei ole valmis: tilannekuvaa ei ole vielä julkaistu.",
    unreachable: "Hubiin ei saada yhteyttä: näkyvä tieto voi olla vanhaa.",
    old_data: (age) => `Tilannekuva on vanha (${age}): tieto voi olla vanhentunutta.`,
    unauthorized: "Rajapinta vaatii tunnisteen (PELASTUS_HUB_API_TOKEN).",
    token: "API-tunniste",
    use_token: "Käytä",
    strain: "kuormitus",
    units: "yksiköitä",
    available: "vapaana",
    committed: "tehtävällä",
    out_of_service: "poissa käytöstä",
    crew_available: "miehistöä vapaana",
    open_incidents: "avoimia tehtäviä",
    urgent: "kiireellisiä (A, B)",
    by_urgency: "kiireellisyysluokittain",
    stale: "VANHENTUNUT",
    stale_note: "Laitokselta ei ole tullut tietoa: luvut voivat olla vanhoja.",
    stale_departments: "vanhentuneita laitoksia",
    readiness: "Valmius",
    stations: "asemia",
    firefighters: "palomiehiä",
    officers: "päällystöä",
    ems: "ensihoitajia",
    volunteers_available: "sopimuspalokuntalaisia vapaana",
    kpi: "Toimintavalmius (kiireelliset tehtävät)",
    hour: "viimeisin tunti",
    day: "viimeisin vuorokausi",
    incidents: "tehtäviä",
    responded: "tavoitettu",
    median: "mediaani",
    p90: "90 %",
    target_met: "tavoitteessa",
    risk_class: "riskiluokka",
    target: "tavoite",
    no_kpi: "ei kiireellisiä tehtäviä",
    final: "lopullinen",
    open_window: "kesken",
    last_event: "viimeisin tapahtuma",
    pick: "Valitse laitos kartalta.",
    national: "Koko maa",
    show_exercise: "Näytä harjoitusliikenne",
    exercise: "Harjoitus – ei todellista valmiutta",
    no_exercise: "Ei harjoitusliikennettä.",
    department: "laitos",
    legend_low: "kuormitus 0 %",
    legend_high: "100 %",
    never: "ei koskaan",
  },
  sv: {
    title: "Räddningsväsendets nationella lägesbild",
    map: "Räddningsverken på kartan: färgen visar belastningen",
    schematic: "Schematisk karta: verkens områden som rutor ungefär där de ligger, inga gränser.",
    snapshot: (seq, age) => `lägesbild ${seq}, för ${age} sedan`,
    not_ready: "Hubben är inte redo: ingen lägesbild har publicerats ännu.",
    unreachable: "Ingen förbindelse med hubben: uppgifterna kan vara gamla.",
    old_data: (age) => `Lägesbilden är gammal (${age}): uppgifterna kan vara föråldrade.`,
    unauthorized: "Gränssnittet kräver en nyckel (PELASTUS_HUB_API_TOKEN).",
    token: "API-nyckel",
    use_token: "Använd",
    strain: "belastning",
    units: "enheter",
    available: "lediga",
    committed: "på uppdrag",
    out_of_service: "ur bruk",
    crew_available: "besättning ledig",
    open_incidents: "öppna uppdrag",
    urgent: "brådskande (A, B)",
    by_urgency: "per brådskandeklass",
    stale: "FÖRÅLDRAD",
    stale_note: "Inga uppgifter från räddningsverket: siffrorna kan vara gamla.",
    stale_departments: "föråldrade räddningsverk",
    readiness: "Beredskap",
    stations: "stationer",
    firefighters: "brandmän",
    officers: "befäl",
    ems: "prehospital personal",
    volunteers_available: "avtalsbrandkårister lediga",
    kpi: "Insatsberedskap (brådskande uppdrag)",
    hour: "senaste timmen",
    day: "senaste dygnet",
    incidents: "uppdrag",
    responded: "nådda",
    median: "median",
    p90: "90 %",
    target_met: "inom målet",
    risk_class: "riskklass",
    target: "mål",
    no_kpi: "inga brådskande uppdrag",
    final: "slutlig",
    open_window: "pågår",
    last_event: "senaste händelse",
    pick: "Välj ett räddningsverk på kartan.",
    national: "Hela landet",
    show_exercise: "Visa övningstrafik",
    exercise: "Övning – ingen verklig beredskap",
    no_exercise: "Ingen övningstrafik.",
    department: "räddningsverk",
    legend_low: "belastning 0 %",
    legend_high: "100 %",
    never: "aldrig",
  },
  en: {
    title: "National picture of the rescue services",
    map: "Rescue departments on the map: colour shows strain",
    schematic: "Schematic map: each department's area as a tile placed roughly where it lies, no boundaries.",
    snapshot: (seq, age) => `snapshot ${seq}, ${age} ago`,
    not_ready: "The hub is not ready: no snapshot has been published yet.",
    unreachable: "The hub cannot be reached: what is shown may be old.",
    old_data: (age) => `The snapshot is old (${age}): the figures may be out of date.`,
    unauthorized: "The API needs a token (PELASTUS_HUB_API_TOKEN).",
    token: "API token",
    use_token: "Use",
    strain: "strain",
    units: "units",
    available: "available",
    committed: "committed",
    out_of_service: "out of service",
    crew_available: "crew available",
    open_incidents: "open incidents",
    urgent: "urgent (A, B)",
    by_urgency: "by urgency",
    stale: "STALE",
    stale_note: "Nothing heard from the department: its figures may be old.",
    stale_departments: "stale departments",
    readiness: "Readiness",
    stations: "stations",
    firefighters: "firefighters",
    officers: "officers",
    ems: "EMS staff",
    volunteers_available: "volunteers available",
    kpi: "Response times (urgent incidents)",
    hour: "latest hour",
    day: "latest day",
    incidents: "incidents",
    responded: "responded",
    median: "median",
    p90: "90th pct",
    target_met: "within target",
    risk_class: "risk class",
    target: "target",
    no_kpi: "no urgent incidents",
    final: "final",
    open_window: "open",
    last_event: "latest event",
    pick: "Pick a department on the map.",
    national: "All of Finland",
    show_exercise: "Show exercise traffic",
    exercise: "Exercise – not real capability",
    no_exercise: "No exercise traffic.",
    department: "department",
    legend_low: "strain 0 %",
    legend_high: "100 %",
    never: "never",
  },
};

const state = {
  lang: localStorage.getItem("pelastus-hub.lang") || "fi",
  token: sessionStorage.getItem("pelastus-hub.token") || "",
  tiles: null,
  names: {},
  snapshot: null,
  etag: null,
  receivedAt: 0, // this browser's clock when the snapshot arrived
  serverAge: 0, // the snapshot's age then, by the hub's clock (Date header)
  problem: null,
  selected: null,
  kpis: {},
};

const t = (key) => LABELS[state.lang][key];
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";

function headers(extra = {}) {
  return state.token ? { ...extra, Authorization: `Bearer ${state.token}` } : extra;
}

function shortName(code) {
  const tile = state.tiles.tiles[code];
  return tile ? tile[state.lang] : code;
}

function fullName(code) {
  const names = state.names[code];
  if (!names) return shortName(code);
  if (state.lang === "sv") return names.name_sv;
  if (state.lang === "en") return `${shortName(code)} (${names.name_fi})`;
  return names.name_fi;
}

function percent(share) {
  return share === null || share === undefined ? "–" : `${Math.round(share * 100)} %`;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) {
    const rest = whole % 60;
    return rest ? `${Math.floor(whole / 60)} min ${rest} s` : `${whole / 60} min`;
  }
  return `${Math.floor(whole / 3600)} h ${Math.round((whole % 3600) / 60)} min`;
}

// Strain 0 (all available) green, through yellow, to 1 (all committed) red.
function strainColour(strain) {
  const s = Math.max(0, Math.min(1, strain || 0));
  return `hsl(${Math.round(130 * (1 - s))}, 62%, ${Math.round(70 - 12 * s)}%)`;
}

function snapshotAge() {
  if (!state.snapshot) return null;
  return state.serverAge + (Date.now() - state.receivedAt) / 1000;
}

async function poll() {
  try {
    const response = await fetch("/api/v1/capability", {
      headers: headers(state.etag ? { "If-None-Match": state.etag } : {}),
      cache: "no-store",
    });
    if (response.status === 401) {
      state.problem = "unauthorized";
    } else if (response.status === 503) {
      state.problem = "not_ready";
    } else if (response.status === 304) {
      state.problem = null;
    } else if (response.ok) {
      const snapshot = await response.json();
      const served = Date.parse(response.headers.get("Date") || "") || Date.now();
      state.serverAge = Math.max(0, (served - Date.parse(snapshot.generated_at)) / 1000);
      state.receivedAt = Date.now();
      state.etag = response.headers.get("ETag");
      state.snapshot = snapshot;
      state.problem = null;
      if (state.selected) loadKpis(state.selected);
    } else {
      state.problem = "unreachable";
    }
  } catch (error) {
    state.problem = "unreachable";
  }
  render();
}

async function loadKpis(code) {
  const found = {};
  for (const kind of ["hour", "day"]) {
    try {
      const response = await fetch(
        `/api/v1/kpi?department=${encodeURIComponent(code)}&window=${kind}`,
        { headers: headers(), cache: "no-store" },
      );
      found[kind] = response.ok ? await response.json() : null;
    } catch (error) {
      found[kind] = null;
    }
  }
  state.kpis[code] = found;
  renderPanel();
}

function render() {
  renderLabels();
  renderStatus();
  renderNational();
  renderTiles();
  renderPanel();
  renderExercise();
}

function renderLabels() {
  document.documentElement.lang = state.lang;
  document.title = t("title");
  for (const node of document.querySelectorAll("[data-label]")) node.textContent = t(node.dataset.label);
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
  }
  $("map-title").textContent = t("map");
}

function renderStatus() {
  const banner = $("banner");
  const age = snapshotAge();
  let message = null;
  if (state.problem === "unauthorized") message = t("unauthorized");
  else if (state.problem === "not_ready") message = t("not_ready");
  else if (state.problem === "unreachable") message = t("unreachable");
  else if (age !== null && age > STALE_AFTER_S) message = t("old_data")(duration(age));
  banner.hidden = message === null;
  banner.textContent = message || "";
  banner.dataset.problem = state.problem || (message ? "old_data" : "");
  $("token-form").hidden = state.problem !== "unauthorized";
  const line = $("snapshot");
  if (state.snapshot) {
    line.textContent = t("snapshot")(state.snapshot.sequence, duration(age));
    line.dataset.sequence = state.snapshot.sequence;
  } else {
    line.textContent = "";
  }
}

function figure(value, label) {
  const item = document.createElement("div");
  const number = document.createElement("b");
  number.textContent = value;
  const caption = document.createElement("span");
  caption.textContent = label;
  item.append(number, caption);
  return item;
}

function renderNational() {
  const section = $("national");
  section.replaceChildren();
  if (!state.snapshot) return;
  const n = state.snapshot.national;
  section.append(
    figure(t("national"), ""),
    figure(percent(n.strain), t("strain")),
    figure(n.units, t("units")),
    figure(n.available, t("available")),
    figure(n.committed, t("committed")),
    figure(n.out_of_service, t("out_of_service")),
    figure(n.incidents.open, t("open_incidents")),
    figure(n.stale_departments.length, t("stale_departments")),
  );
  section.dataset.units = n.units;
}

function svgNode(name, attributes = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  return node;
}

function tilePlaces(codes) {
  // Listed departments at their place; any other below the map, in code order.
  const places = {};
  let extra = 0;
  for (const code of codes) {
    const tile = state.tiles.tiles[code];
    if (tile) places[code] = tile.at;
    else places[code] = [extra % state.tiles.columns, state.tiles.rows + Math.floor(extra++ / state.tiles.columns)];
  }
  return places;
}

function renderTiles() {
  const svg = $("tiles");
  for (const old of svg.querySelectorAll("g.tile, defs")) old.remove();
  if (!state.snapshot) return;
  const departments = state.snapshot.departments;
  const codes = Object.keys(departments).sort();
  const places = tilePlaces(codes);
  const rows = Math.max(...Object.values(places).map(([, row]) => row)) + 1;
  svg.setAttribute("viewBox", `0 0 ${state.tiles.columns * (TILE.w + TILE.gap)} ${rows * (TILE.h + TILE.gap)}`);
  const defs = svgNode("defs");
  const hatch = svgNode("pattern", { id: "stale-hatch", width: 8, height: 8, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" });
  hatch.append(svgNode("rect", { width: 8, height: 8, fill: "#d5d9de" }), svgNode("line", { x1: 0, y1: 0, x2: 0, y2: 8, stroke: "#9aa3ad", "stroke-width": 3 }));
  defs.append(hatch);
  svg.append(defs);
  for (const code of codes) {
    const view = departments[code];
    const [column, row] = places[code];
    const x = column * (TILE.w + TILE.gap);
    const y = row * (TILE.h + TILE.gap);
    const group = svgNode("g", { class: "tile", tabindex: 0, role: "button" });
    group.classList.toggle("stale", view.stale);
    group.classList.toggle("selected", code === state.selected);
    Object.assign(group.dataset, {
      department: code,
      units: view.units,
      available: view.available,
      committed: view.committed,
      outOfService: view.out_of_service,
      strain: view.strain,
      stale: view.stale,
      openIncidents: view.incidents.open,
    });
    const fill = view.stale ? "url(#stale-hatch)" : strainColour(view.strain);
    group.append(svgNode("rect", { class: "area", x, y, width: TILE.w, height: TILE.h, rx: 6, fill }));
    group.append(svgNode("title", {}, `${fullName(code)}: ${t("strain")} ${percent(view.strain)}`));
    group.append(svgNode("text", { class: "name", x: x + 8, y: y + 17 }, shortName(code)));
    group.append(svgNode("text", { class: "figure", x: x + 8, y: y + 35 }, `${t("strain")} ${percent(view.strain)}`));
    group.append(svgNode("text", { class: "figure", x: x + 8, y: y + 51 }, `${view.available}/${view.units} ${t("available")}`));
    const urgency = view.incidents.by_urgency;
    const urgent = svgNode("text", { class: "figure", x: x + 8, y: y + 67 }, `${t("open_incidents")} ${view.incidents.open}`);
    const urgentShown = ["A", "B"].filter((level) => urgency[level]).map((level) => `${level}${urgency[level]}`);
    if (urgentShown.length) urgent.append(svgNode("tspan", { class: "urgent" }, `  ${urgentShown.join(" ")}`));
    group.append(urgent);
    if (view.stale) group.append(svgNode("text", { class: "flag", x: x + 8, y: y + 81 }, t("stale")));
    group.addEventListener("click", () => select(code));
    group.addEventListener("keydown", (event) => { if (event.key === "Enter") select(code); });
    svg.append(group);
  }
  renderLegend();
}

function renderLegend() {
  const legend = $("legend");
  const swatch = (style, label) => {
    const item = document.createElement("li");
    const box = document.createElement("i");
    box.style.background = style;
    item.append(box, label);
    return item;
  };
  legend.replaceChildren(
    swatch(strainColour(0), t("legend_low")),
    swatch(strainColour(0.5), "50 %"),
    swatch(strainColour(1), t("legend_high")),
    swatch("repeating-linear-gradient(45deg, #d5d9de, #d5d9de 3px, #9aa3ad 3px, #9aa3ad 5px)", t("stale")),
  );
}

function select(code) {
  state.selected = code;
  history.replaceState(null, "", `#${code}`);
  renderTiles();
  renderPanel();
  loadKpis(code);
}

function list(rows) {
  const dl = document.createElement("dl");
  for (const [label, value, key] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = label;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (key) dd.dataset.field = key;
    dl.append(dt, dd);
  }
  return dl;
}

function heading(level, text) {
  const node = document.createElement(level);
  node.textContent = text;
  return node;
}

function kpiTable(result) {
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const label of [t("risk_class"), t("incidents"), t("median"), t("p90"), t("target"), t("target_met")]) {
    head.append(heading("th", label));
  }
  const body = table.createTBody();
  for (const [risk, figures] of Object.entries(result.by_risk_class)) {
    if (!figures.incidents) continue;
    const row = body.insertRow();
    for (const value of [risk, figures.incidents, duration(figures.median_seconds), duration(figures.p90_seconds),
      figures.target_seconds ? duration(figures.target_seconds) : "–", percent(figures.met_share)]) {
      row.insertCell().textContent = value;
    }
  }
  return table;
}

function renderKpi(panel, kind, result) {
  panel.append(heading("h3", `${t("kpi")}, ${t(kind)}`));
  if (!result) {
    panel.append(list([["", t("no_kpi")]]));
    return;
  }
  panel.append(list([
    [`${result.window.start.slice(0, 16).replace("T", " ")} UTC`, result.final ? t("final") : t("open_window")],
    [t("urgent"), result.urgent_incidents, `kpi-${kind}-urgent`],
    [t("responded"), result.responded],
    [t("median"), duration(result.median_seconds)],
    [t("p90"), duration(result.p90_seconds)],
    [t("target_met"), percent(result.target_met_share), `kpi-${kind}-met`],
  ]));
  if (result.urgent_incidents) panel.append(kpiTable(result));
}

function renderPanel() {
  const panel = $("panel");
  panel.replaceChildren();
  const code = state.selected;
  const view = code && state.snapshot ? state.snapshot.departments[code] : null;
  if (!view) {
    panel.append(heading("p", t("pick")));
    return;
  }
  panel.dataset.department = code;
  panel.append(heading("h2", fullName(code)));
  if (view.stale) {
    const note = heading("p", t("stale_note"));
    note.className = "stale-note";
    panel.append(note);
  }
  panel.append(list([
    [t("units"), view.units, "units"],
    [t("available"), view.available, "available"],
    [t("committed"), view.committed, "committed"],
    [t("out_of_service"), view.out_of_service, "out_of_service"],
    [t("crew_available"), view.crew_available, "crew_available"],
    [t("strain"), percent(view.strain), "strain"],
    [t("open_incidents"), view.incidents.open, "open_incidents"],
    [t("urgent"), view.incidents.by_urgency.A + view.incidents.by_urgency.B],
    [t("by_urgency"), ["A", "B", "C", "D"].map((level) => `${level} ${view.incidents.by_urgency[level]}`).join(" · "), "by_urgency"],
    [t("last_event"), view.last_event_time ? new Date(view.last_event_time).toLocaleString(state.lang) : t("never")],
  ]));
  const ready = view.readiness;
  panel.append(heading("h3", t("readiness")));
  panel.append(list([
    [t("stations"), ready.stations, "stations"],
    [t("firefighters"), ready.firefighters],
    [t("officers"), ready.officers],
    [t("ems"), ready.ems],
    [t("volunteers_available"), ready.volunteers_available],
  ]));
  const kpis = state.kpis[code] || {};
  renderKpi(panel, "hour", kpis.hour);
  renderKpi(panel, "day", kpis.day);
}

function renderExercise() {
  const section = $("exercise");
  const shown = $("show-exercise").checked;
  section.hidden = !shown;
  section.replaceChildren();
  if (!shown || !state.snapshot) return;
  section.append(heading("h2", t("exercise")));
  const departments = (state.snapshot.exercise || { departments: {} }).departments;
  const codes = Object.keys(departments).sort();
  if (!codes.length) {
    section.append(heading("p", t("no_exercise")));
    return;
  }
  const table = document.createElement("table");
  const head = table.createTHead().insertRow();
  for (const label of [t("department"), t("units"), t("available"), t("committed"), t("strain"), t("open_incidents")]) {
    head.append(heading("th", label));
  }
  const body = table.createTBody();
  for (const code of codes) {
    const view = departments[code];
    const row = body.insertRow();
    row.dataset.department = code;
    for (const value of [shortName(code), view.units, view.available, view.committed, percent(view.strain), view.incidents.open]) {
      row.insertCell().textContent = value;
    }
  }
  section.append(table);
}

async function start() {
  const params = new URLSearchParams(location.search);
  if (LABELS[params.get("lang")]) state.lang = params.get("lang");
  state.tiles = await (await fetch("/page/tiles.json")).json();
  for (const button of document.querySelectorAll("[data-lang]")) {
    button.addEventListener("click", () => {
      state.lang = button.dataset.lang;
      localStorage.setItem("pelastus-hub.lang", state.lang);
      render();
    });
  }
  $("show-exercise").checked = params.get("exercise") === "1";
  $("show-exercise").addEventListener("change", renderExercise);
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("pelastus-hub.token", state.token);
    loadNames().then(poll);
  });
  if (location.hash.length > 1) state.selected = decodeURIComponent(location.hash.slice(1));
  await loadNames();
  await poll();
  if (state.selected) loadKpis(state.selected);
  setInterval(poll, POLL_MS);
  setInterval(renderStatus, 1000); // the age goes on while the snapshot stays the same
}

async function loadNames() {
  try {
    const response = await fetch("/api/v1/departments", { headers: headers() });
    if (!response.ok) return;
    for (const names of (await response.json()).departments) state.names[names.code] = names;
  } catch (error) {
    // The map draws with the short names; the full ones come with the next try.
  }
}

start();
