/* The diner's page: every step that needs the payer goes through the wallet's bridge; the
   prices and the total are the server's, from its menu. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const yuan = (fen) => "¥" + Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");
  const STATES = { unpaid: "waiting for payment", paid: "paid, cooking", served: "served" };
  let session = "";
  let menu = [];
  let table = "";
  const cart = new Map(); // dish id -> quantity
  let polling = null;

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ session }, body || {})),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || "refused");
    return answer;
  }

  const say = (text) => { $("out").textContent = text; };
  const total = () => menu.reduce((sum, d) => sum + d.price * (cart.get(d.id) || 0), 0);

  function dishItem(d) {
    const count = document.createElement("output");
    count.id = `n-${d.id}`;
    count.textContent = "0";
    const step = (by, word) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "qty";
      b.textContent = by > 0 ? "+" : "−";
      b.setAttribute("aria-label", `${word} ${d.name}`);
      b.addEventListener("click", () => {
        const n = Math.max(0, Math.min(20, (cart.get(d.id) || 0) + by));
        if (n) cart.set(d.id, n); else cart.delete(d.id);
        count.textContent = String(n);
        drawCart();
      });
      return b;
    };
    const li = document.createElement("li");
    li.className = "dish";
    const img = document.createElement("img");
    img.src = d.picture;
    img.alt = "";
    const text = document.createElement("div");
    text.innerHTML = "<strong></strong> <span lang=\"zh-CN\"></span><div class=\"muted\"></div>";
    text.querySelector("strong").textContent = d.name;
    text.querySelector("span").textContent = d.name_zh;
    text.querySelector("div").textContent = yuan(d.price);
    const counter = document.createElement("div");
    counter.className = "count";
    counter.append(step(-1, "One less"), count, step(1, "Add"));
    li.append(img, text, counter);
    return li;
  }

  function drawCart() {
    const sum = total();
    $("order").disabled = !(table && sum);
    $("order").textContent = sum ? `Order and pay ${yuan(sum)}` : "Order and pay";
  }

  function draw(s) {
    table = s.table;
    $("table").textContent = s.table || "none";
    if (s.name) $("hello").textContent = `Hello, ${s.name}.`;
    const last = s.orders[0];
    $("order-line").hidden = !last;
    if (last) {
      $("order-total").textContent = yuan(last.total);
      $("order-state").textContent = STATES[last.state] || last.state;
    }
    clearTimeout(polling);
    if (last && last.state === "paid") polling = setTimeout(() => post("/api/state").then(draw), 1500);
    drawCart();
  }

  $("sign-in").addEventListener("click", async () => {
    const agreed = await SaomaBridge.login(["profile.masked_name"]);
    if (!agreed.ok) { say(`Not signed in (${agreed.error}).`); return; }
    try {
      draw(await post("/api/login", { code: agreed.code }));
      $("sign-in").hidden = true;
    } catch (err) { say(`Not signed in (${err.message}).`); }
  });

  $("scan").addEventListener("click", async () => {
    const scanned = await SaomaBridge.scanCode();
    if (!scanned.ok) { say(`No code read (${scanned.error}).`); return; }
    try {
      draw(await post("/api/table", { code: scanned.text }));
      say(`Welcome to table ${table}: choose your dishes.`);
    } catch (err) { say(`That is not a table's code (${err.message}).`); }
  });

  $("order").addEventListener("click", async () => {
    const lines = [...cart].map(([dish, quantity]) => ({ dish, quantity }));
    try {
      const asked = await post("/api/order", { lines, total: total() });
      draw(asked);
      const paid = await SaomaBridge.requestPayment(asked.order_id);
      if (!paid.ok) { say(`Not paid (${paid.error}).`); return; }
      draw(await post("/api/paid", { order_id: asked.order_id }));
      cart.clear();
      menu.forEach((d) => { $(`n-${d.id}`).textContent = "0"; });
      drawCart();
      say("Paid: the kitchen is cooking.");
    } catch (err) { say(`Not ordered (${err.message}).`); }
  });

  post("/api/session").then((opened) => {
    session = opened.session;
    menu = opened.menu;
    $("menu").replaceChildren(...menu.map(dishItem));
    drawCart();
  }).catch((err) => say(`The menu did not load (${err.message}).`));

  $("sign-in").disabled = false; // ready: the page's buttons answer from now on
})();
