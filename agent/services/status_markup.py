"""The installer status page's markup (issue 9): one bytes literal, a single constant of the
compiled module, so a microcontroller keeps one copy and builds nothing per request.

Nothing of the device is written into the HTML: the script fetches the state as JSON and puts
every value in with `textContent`, so a token or description from the board file is shown as
text and never parsed as markup. The Content-Security-Policy allows this script and this style
only (by their SHA-256, checked by tests/test_status_page.py), same-origin fetches, no external
load of any kind, and no framing (the pulse buttons cannot be clickjacked). The script polls
the state once a second; `location.origin`, not a relative URL: a page opened as
http://user:password@host/ would hand its credentials to fetch(), which refuses such URLs.
"""

PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>onvif-agent status</title><link rel="icon" href="data:,">
<style>
body{font:14px sans-serif;margin:1em;max-width:64em}
table{border-collapse:collapse;margin-bottom:1em}
td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left}td:first-child{white-space:nowrap}
.on{background:#fd8}#err{color:#b00}
</style></head><body>
<h1>onvif-agent status</h1><p id="err"></p>
<h2>Device</h2><table id="device"></table>
<h2>Relays</h2><table id="relays"></table>
<h2>Inputs</h2><table id="inputs"></table>
<h2>Serial ports</h2><table id="serial"></table>
<h2>Last events</h2><p id="stored"></p><table id="events"></table>
<script>
"use strict";
var base = location.origin, last = "", buttons = {};  // one button per relay, kept across
// renders, so a click while the tables are rebuilt is never lost
function show(e) { document.getElementById("err").textContent = e ? String(e.message || e) : ""; }
function fill(id, head, rows) {
  var t = document.getElementById(id); t.textContent = "";
  [head].concat(rows).forEach(function (cells, i) {
    var tr = t.insertRow();
    if (cells.on) tr.className = "on";
    cells.forEach(function (c) {
      var td = document.createElement(i ? "td" : "th");
      if (c instanceof Node) td.appendChild(c); else td.textContent = c;
      tr.appendChild(td);
    });
  });
}
function pulse(token) {
  fetch(base + "/status/pulse", {method: "POST", body: JSON.stringify({token: token}),
    headers: {"Content-Type": "application/json", "X-Status-Page": "pulse"}})
  .then(function (r) { if (!r.ok) throw new Error("pulse " + token + ": HTTP " + r.status); })
  .then(refresh).catch(show);
}
function button(token) {
  var b = buttons[token];
  if (!b) {
    b = buttons[token] = document.createElement("button");
    b.textContent = "Pulse"; b.id = "pulse-" + token;
    b.onclick = function () { pulse(token); };
  }
  return b;
}
function items(pairs) {
  return pairs.map(function (p) {
    return p[0] + "=" + (typeof p[1] == "string" ? p[1] : JSON.stringify(p[1]));
  }).join(" ");
}
function row(cells, on) { cells.on = on; return cells; }
function render(s) {
  fill("device", ["Field", "Value"], s.device);
  fill("relays", ["Relay", "Description", "State", "Mode", "Delay (ms)", "Idle state", ""],
    s.relays.map(function (r) { return row([r.token, r.description, r.state, r.mode,
      String(r.delay_ms), r.idle_state, button(r.token)], r.state == "active"); }));
  fill("inputs", ["Input", "Description", "State", "Contact", "Idle state"],
    s.inputs.map(function (i) { return row([i.token, i.description,
      i.active ? "active" : "inactive", i.contact, i.idle_state], i.active); }));
  fill("serial", ["Port", "Description", "Type", "Baud", "Parity", "Bits", "Stop"],
    s.serial_ports.map(function (p) { return [p.token, p.description, p.type,
      String(p.baud_rate), p.parity, String(p.character_length), String(p.stop_bits)]; }));
  fill("events", ["Time (UTC)", "Topic", "Operation", "Source", "Data"],
    s.events.map(function (e) { return [e[0], e[1], e[2] || "", items(e[3]), items(e[4])]; }));
  document.getElementById("stored").textContent = s.events_stored ? "stored across restarts"
    : "since the agent started";
}
function refresh() {
  return fetch(base + "/status/state", {cache: "no-store"})
  .then(function (r) { if (!r.ok) throw new Error("state: HTTP " + r.status); return r.text(); })
  .then(function (text) { if (text != last) { render(JSON.parse(text)); last = text; } show(); });
}
function poll() { refresh().catch(show).then(function () { setTimeout(poll, 1000); }); }
poll();
</script></body></html>
"""

# SHA-256 of the <style> and <script> contents, base64 (CSP Level 3 hash sources); after
# editing either, take the new value from the failing tests/test_status_page.py assertion.
STYLE_HASH = "sha256-Au+0jxtWIZQ6hwqbLXyaI7j9CXTuDcP4YLRIv12GQgo="
SCRIPT_HASH = "sha256-lxTTb3+d+gbd93x5rBiFiS/9Vtdb8uc2+8Al+3JkmQM="
CSP = ("default-src 'none'; script-src '%s'; style-src '%s'; connect-src 'self'; "
       "img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
       % (SCRIPT_HASH, STYLE_HASH))
