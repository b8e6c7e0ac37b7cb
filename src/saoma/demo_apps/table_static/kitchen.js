/* The kitchen's screen: the orders Saoma says are paid, and a button to mark each served. Its
   key comes in the address's fragment (#key=…), which is never sent to any server. */
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const key = new URLSearchParams(location.hash.slice(1)).get("key") || "";
  const yuan = (fen) => "¥" + Math.floor(fen / 100) + "." + String(fen % 100).padStart(2, "0");

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify(Object.assign({ key }, body || {})),
    });
    const answer = await response.json();
    if (!response.ok) throw new Error(answer.error || "refused");
    return answer;
  }

  function ticket(t) {
    const li = document.createElement("li");
    li.className = `ticket ${t.state}`;
    li.dataset.order = t.order_id;
    const head = document.createElement("strong");
    head.textContent = `Table ${t.table}` + (t.diner ? ` · ${t.diner}` : "") + ` · ${t.paid_at} · ${yuan(t.total)}`;
    const dishes = document.createElement("ul");
    for (const l of t.lines) {
      const item = document.createElement("li");
      item.textContent = `${l.quantity} × ${l.name} ${l.name_zh}`;
      dishes.append(item);
    }
    li.append(head, dishes);
    if (t.state === "served") {
      const done = document.createElement("p");
      done.textContent = "Served";
      li.append(done);
    } else {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = `Mark table ${t.table} served`;
      b.addEventListener("click", () => post("/api/served", { order_id: t.order_id }).then(draw)
        .catch((err) => { $("out").textContent = `Not marked (${err.message}).`; }));
      li.append(b);
    }
    return li;
  }

  let shown = "";

  function draw(k) {
    const now = JSON.stringify(k.orders);
    if (now === shown) return; // redrawn only when something changed: no button moves under a finger
    shown = now;
    $("tickets").replaceChildren(...k.orders.map(ticket));
    $("out").textContent = k.orders.length ? "" : "No order yet.";
  }

  async function poll() {
    try { draw(await post("/api/kitchen")); }
    catch (err) { $("out").textContent = `The orders did not load (${err.message}).`; }
    setTimeout(poll, 2000);
  }
  poll();
})();
