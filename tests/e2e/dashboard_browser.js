// The browser half of test_dashboard.sh: node dashboard_browser.js BASE GROUP CONSUMER_PID SHOT
//
// Opens souk-lag's dashboard in headless Debian chromium (playwright-core) while the
// group GROUP lags, and checks, pass by pass, that what the page shows equals the JSON
// API: the page's pass number picks the GET /lag document this script fetched itself
// for that pass. Then kills the consumer (SIGKILL to CONSUMER_PID) and waits for the badge
// to leave OK and for a partition to be STOP, the page equal to the API all along. Any request the page makes elsewhere
// than BASE fails the test (the page must be self-contained). Saves a screenshot at SHOT.
"use strict";
const assert = require("node:assert/strict");
const { chromium } = require("playwright-core");

const [BASE, GROUP, CONSUMER_PID, SHOT] = process.argv.slice(2);
const docs = new Map(); // pass -> the GET /lag document of that pass

function show(v) { return v === null || v === undefined ? "-" : String(v); }
const sleep = ms => new Promise(r => setTimeout(r, ms));

// Fetches /lag every 200 ms (the server makes a pass every second) into docs.
let polling = true;
async function poll() {
  while (polling) {
    const r = await fetch(BASE + "/lag");
    if (r.ok) {
      const doc = await r.json();
      docs.set(doc.pass, doc);
    }
    await sleep(200);
  }
}

// What the page shows for GROUP, the backlog and the pass it rendered.
async function shown(page) {
  return page.evaluate(group => {
    const s = [...document.querySelectorAll("section.group")].find(x => x.dataset.group === group);
    const text = (root, field) => root.querySelector(`[data-field="${field}"]`).textContent;
    const backlog = {};
    for (const dd of document.querySelectorAll("#backlog [data-field]"))
      backlog[dd.dataset.field] = dd.textContent;
    return {
      pass: Number(document.body.dataset.pass),
      group: s && {
        status: text(s, "status"),
        badgeClass: s.querySelector(".badge").className,
        total_lag: text(s, "total_lag"),
        rows: [...s.querySelectorAll("tbody tr")].map(tr => {
          const row = {topic: tr.dataset.topic, partition: tr.dataset.partition};
          for (const td of tr.querySelectorAll("td")) row[td.dataset.field] = td.textContent;
          return row;
        }),
        chartPoints: [...s.querySelectorAll("svg.chart polyline")].map(
          l => l.getAttribute("points").split(" ").filter(Boolean).length),
      },
      backlog,
    };
  }, GROUP);
}

// Waits for the page to show a pass this script has the document of, and asserts they
// agree. Returns [what the page shows, the API's group].
async function compare(page) {
  for (let i = 0; i < 100; i++) {
    const view = await shown(page);
    const doc = docs.get(view.pass);
    if (view.group && doc) {
      const api = doc.groups.find(g => g.group === GROUP);
      assert.ok(api, `pass ${view.pass}: the API has no group ${GROUP}`);
      assert.equal(view.group.status, api.status, `pass ${view.pass}: badge vs API status`);
      assert.equal(view.group.badgeClass, "badge " + api.status);
      assert.equal(view.group.total_lag, show(api.total_lag), "total lag");
      assert.equal(view.group.rows.length, api.partitions.length, "partition rows");
      for (const p of api.partitions) {
        const row = view.group.rows.find(r => r.topic === p.topic && r.partition === String(p.partition));
        assert.ok(row, `no row for ${p.topic}/${p.partition}`);
        for (const f of ["current_offset", "log_end_offset", "lag", "lag_seconds", "pg_offset",
                         "status", "rule", "consumer_id"])
          assert.equal(row[f], show(p[f]), `pass ${view.pass} ${p.topic}/${p.partition} ${f}`);
      }
      const b = doc.backlog;
      const flat = Object.assign({}, b, {payments_stuck_created: b.payments_stuck.created,
                                         payments_stuck_authorized: b.payments_stuck.authorized});
      for (const [f, v] of Object.entries(view.backlog))
        assert.equal(v, show(flat[f]), `pass ${view.pass} backlog ${f}`);
      return [view, api];
    }
    await sleep(100);
  }
  throw new Error("the page never showed a pass the API answered");
}

async function main() {
  const poller = poll();
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  try {
    const page = await browser.newPage({viewport: {width: 1280, height: 900}});
    const foreign = [];
    page.on("request", req => { if (!req.url().startsWith(BASE)) foreign.push(req.url()); });
    const errors = [];
    page.on("pageerror", e => errors.push(String(e)));
    await page.goto(BASE + "/", {waitUntil: "load"});

    // While the consumer lags: passes compared until two of them showed a backlog
    // with a member holding every partition (the member joins a few seconds in).
    const passes = new Set(), lagging = new Set();
    let last;
    for (const t0 = Date.now(); lagging.size < 2 && Date.now() - t0 < 30000;) {
      const [view, api] = await compare(page);
      if (!passes.has(view.pass))
        console.log(`pass ${view.pass}: ${api.status}, ` + api.partitions.map(
          p => `${p.current_offset}/${p.log_end_offset} ${p.status}`).join(", "));
      passes.add(view.pass);
      last = api;
      if (api.total_lag > 0 && api.partitions.every(p => p.consumer_id !== null))
        lagging.add(view.pass);
      await sleep(300);
    }
    assert.ok(lagging.size >= 2,
              "never saw the group lag with a member holding its partitions: " + JSON.stringify(last));
    assert.equal(last.status, "OK", "the lagging group is not OK before the kill");
    console.log(`while lagging: ${passes.size} passes compared, ${lagging.size} with lag and members`);

    // The consumer is killed: its member stays until the session timeout (6 s) with
    // the offsets still (STALL), then no member holds the partitions (STOP); the badge
    // leaves OK and follows the API all along.
    process.kill(Number(CONSUMER_PID), "SIGKILL");
    const killed = Date.now();
    let view, api, left = 0;
    do {
      [view, api] = await compare(page);
      if (api.status !== "OK" && !left) left = Date.now() - killed;
      if (api.partitions.some(p => p.status === "STOP")) break;
      await sleep(300);
    } while (Date.now() - killed < 60000);
    assert.ok(left, "the badge stayed OK after the consumer stopped");
    assert.equal(api.status, "ERR");
    assert.equal(view.group.status, "ERR");
    assert.ok(api.partitions.some(p => p.status === "STOP"), "no partition STOP: " + JSON.stringify(api));
    console.log(`after the kill: badge left OK after ${left} ms, a partition STOP after ` +
                `${Date.now() - killed} ms (pass ${view.pass}, total lag ${api.total_lag})`);
    assert.ok(view.group.chartPoints.every(n => n >= 2), "charts without points");

    await page.screenshot({path: SHOT, fullPage: true});
    console.log(`screenshot: ${SHOT}`);
    assert.deepEqual(foreign, [], "requests outside souk-lag");
    assert.deepEqual(errors, [], "script errors on the page");
  } finally {
    polling = false;
    await browser.close();
    await poller;
  }
}

main().catch(e => { console.error(e); process.exit(1); });
