/* html: see html.h. The page is a fixed template (below) around one JSON
 * document: the JSON report of the plan, enriched with each task's
 * expected answer and each cell's prompt, output, transcript, grade reason
 * or error, plus the history. Texts are cut at FIELDCAP bytes each and the
 * whole page's texts at BUDGET bytes, so a suite with huge transcripts
 * still gives a page a browser opens; `evalmake log CELL` has the rest. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "store/history.h"
#include "report/html.h"
#include "report/markup.h"
#include "report/report.h"
#include "core/util.h"

#define FIELDCAP (32u << 10)   /* bytes of one text shown per cell */
#define BUDGET (48u << 20)     /* bytes of cell texts in the whole page */

static const char pagehead[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n"
	"<head>\n"
	"<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; connect-src 'self'\">\n"
	"<title>evalmake report</title>\n"
	"<style>\n"
	":root { --fg: #1d2330; --muted: #687086; --bg: #f6f7f9; --card: #fff; --line: #dde1e8; --accent: #2f6fde; }\n"
	"* { box-sizing: border-box; }\n"
	"body { margin: 0; font: 14px/1.45 system-ui, -apple-system, \"Segoe UI\", sans-serif; color: var(--fg); background: var(--bg); }\n"
	"header { padding: 14px 24px; background: #1d2330; color: #fff; }\n"
	"header h1 { margin: 0; font-size: 18px; }\n"
	"header p { margin: 4px 0 0; color: #b9c0cf; font-size: 12px; }\n"
	"main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(320px, 42%); gap: 16px; padding: 16px 24px; align-items: start; }\n"
	"@media (max-width: 900px) { main { grid-template-columns: 1fr; } }\n"
	".suite { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px; margin-bottom: 16px; overflow-x: auto; }\n"
	".suite h2 { margin: 0 0 8px; font-size: 16px; }\n"
	".stats { display: flex; flex-wrap: wrap; gap: 20px; margin-bottom: 10px; }\n"
	".stat b { display: block; font-size: 19px; }\n"
	".stat span { color: var(--muted); font-size: 12px; }\n"
	".ok { color: #1a7f37; } .bad { color: #c62828; }\n"
	"span.flaky { color: #b26a00; font-size: 10px; font-weight: 700; }\n"
	"svg.plot { width: 100%; max-width: 720px; height: auto; display: block; margin-bottom: 12px; }\n"
	"svg.plot text { font: 10px system-ui, sans-serif; fill: var(--muted); }\n"
	"table.grid { border-collapse: collapse; font-size: 12px; }\n"
	"table.grid th, table.grid td { padding: 2px 4px; text-align: left; white-space: nowrap; }\n"
	"table.grid thead th { color: var(--muted); font-weight: 600; }\n"
	"table.grid tbody th { font-weight: 500; max-width: 240px; overflow: hidden; text-overflow: ellipsis; }\n"
	"button.cell { width: 36px; height: 22px; border: 1px solid rgba(0, 0, 0, .15); border-radius: 4px; font: 11px/1 ui-monospace, monospace; color: #fff; cursor: pointer; padding: 0; }\n"
	"button.cell.pending { background: #eceff3; color: var(--muted); border-style: dashed; }\n"
	"button.cell.error { background: #3a3f4b; color: #ffb4b4; }\n"
	"button.cell.sel { outline: 3px solid var(--accent); outline-offset: 1px; }\n"
	"#detail { position: sticky; top: 16px; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 16px; max-height: calc(100vh - 32px); overflow: auto; }\n"
	"#detail h3 { margin: 0 0 4px; font-size: 15px; word-break: break-all; }\n"
	"#detail h4 { margin: 14px 0 4px; font-size: 11px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); }\n"
	"#detail pre { margin: 0; padding: 8px; background: #f1f3f6; border-radius: 6px; white-space: pre-wrap; word-break: break-word; font: 12px/1.4 ui-monospace, monospace; max-height: 360px; overflow: auto; }\n"
	".muted { color: var(--muted); }\n"
	"#tools { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; padding: 10px 24px 0; }\n"
	"#tools input, #tools select { font: inherit; padding: 3px 6px; border: 1px solid var(--line); border-radius: 4px; }\n"
	"#live { font-size: 12px; color: var(--muted); }\n"
	"</style>\n"
	"</head>\n"
	"<body>\n"
	"<header><h1>evalmake report</h1><p id=\"meta\"></p></header>\n"
	"<div id=\"tools\"><input id=\"filter\" type=\"search\" placeholder=\"filter tasks by id\" aria-label=\"filter tasks by id\">\n"
	"<select id=\"status\" aria-label=\"tasks to show\"><option value=\"\">all tasks</option><option value=\"failing\">failing</option>"
	"<option value=\"passing\">passing</option><option value=\"error\">errored</option><option value=\"pending\">pending</option></select>\n"
	"<select id=\"sort\" aria-label=\"sort tasks\"><option value=\"id\">sort by id</option><option value=\"score\">lowest score first</option>"
	"<option value=\"-score\">highest score first</option></select> <span id=\"live\"></span></div>\n"
	"<main>\n"
	"<div id=\"suites\"><noscript>This report draws its grids with JavaScript: allow scripts for this file.</noscript></div>\n"
	"<aside id=\"detail\"><p class=\"muted\">Click a cell of a grid to see its prompt, output, transcript, expected answer and grade.</p></aside>\n"
	"</main>\n"
	"<script type=\"application/json\" id=\"data\">";

static const char pagetail[] =
	"</script>\n"
	"<script>\n"
	"(function () {\n"
	"'use strict';\n"
	"var D = JSON.parse(document.getElementById('data').textContent);\n"
	"var cells = {};\n"
	"var NS = 'http://www.w3.org/2000/svg';\n"
	"\n"
	"function el(tag, attrs, text) {\n"
	"\tvar e = document.createElement(tag);\n"
	"\tfor (var k in attrs || {}) e.setAttribute(k, attrs[k]);\n"
	"\tif (text != null) e.textContent = text;\n"
	"\treturn e;\n"
	"}\n"
	"function sv(tag, attrs, text) {\n"
	"\tvar e = document.createElementNS(NS, tag);\n"
	"\tfor (var k in attrs || {}) e.setAttribute(k, attrs[k]);\n"
	"\tif (text != null) e.textContent = text;\n"
	"\treturn e;\n"
	"}\n"
	"function fmt(x, d) { return x == null ? '-' : x.toFixed(d == null ? 3 : d); }\n"
	"function short(x) { return x === 1 ? '1' : x === 0 ? '0' : x.toFixed(2).replace(/^0/, ''); }\n"
	"function colour(s) { return 'hsl(' + Math.round(s * 120) + ', 62%, ' + (s >= 1 ? 36 : 44) + '%)'; }\n"
	"function stat(value, label, cls) {\n"
	"\tvar d = el('div', {'class': 'stat'});\n"
	"\td.appendChild(el('b', cls ? {'class': cls} : null, value));\n"
	"\td.appendChild(el('span', null, label));\n"
	"\treturn d;\n"
	"}\n"
	"\n"
	"function plot(s) {\n"
	"\tvar pts = D.history.filter(function (h) { return h.suite === s.name && h.score != null; });\n"
	"\tvar W = 600, H = 130, L = 30, R = 10, T = 8, B = 18;\n"
	"\tvar g = sv('svg', {'class': 'plot', viewBox: '0 0 ' + W + ' ' + H, role: 'img',\n"
	"\t\t'aria-label': 'score of ' + s.name + ' over time'});\n"
	"\tfunction y(v) { return T + (H - T - B) * (1 - v); }\n"
	"\tfunction x(i) { return pts.length < 2 ? (L + W - R) / 2 : L + (W - L - R) * i / (pts.length - 1); }\n"
	"\t[0, 0.5, 1].forEach(function (v) {\n"
	"\t\tg.appendChild(sv('line', {x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#e3e6ec'}));\n"
	"\t\tg.appendChild(sv('text', {x: L - 4, y: y(v) + 3, 'text-anchor': 'end'}, String(v)));\n"
	"\t});\n"
	"\tif (s.threshold != null) {\n"
	"\t\tg.appendChild(sv('line', {x1: L, x2: W - R, y1: y(s.threshold), y2: y(s.threshold), stroke: '#c62828',\n"
	"\t\t\t'stroke-dasharray': '4 3'}));\n"
	"\t}\n"
	"\tif (!pts.length) {\n"
	"\t\tg.appendChild(sv('text', {x: (L + W) / 2, y: H / 2, 'text-anchor': 'middle'},\n"
	"\t\t\t'no history yet: every evalmake and evalmake check run adds a point'));\n"
	"\t\treturn g;\n"
	"\t}\n"
	"\tvar band = '', line = '';\n"
	"\tpts.forEach(function (p, i) {\n"
	"\t\tvar se = p.stderr || 0;\n"
	"\t\tband += (i ? ' L' : 'M') + x(i) + ' ' + y(Math.min(1, p.score + se));\n"
	"\t\tline += (i ? ' L' : 'M') + x(i) + ' ' + y(p.score);\n"
	"\t});\n"
	"\tfor (var i = pts.length - 1; i >= 0; i--)\n"
	"\t\tband += ' L' + x(i) + ' ' + y(Math.max(0, pts[i].score - (pts[i].stderr || 0)));\n"
	"\tg.appendChild(sv('path', {d: band + ' Z', fill: 'rgba(47, 111, 222, .12)', stroke: 'none'}));\n"
	"\tg.appendChild(sv('path', {d: line, fill: 'none', stroke: '#2f6fde', 'stroke-width': 1.5}));\n"
	"\tpts.forEach(function (p, i) {\n"
	"\t\tvar c = sv('circle', {cx: x(i), cy: y(p.score), r: 3.5, 'stroke-width': 1.5, stroke: '#2f6fde',\n"
	"\t\t\tfill: p.partial ? '#fff' : '#2f6fde', 'class': 'point'});\n"
	"\t\tc.appendChild(sv('title', null, p.time + ': ' + fmt(p.score) + ' \\u00b1' + fmt(p.stderr) + ' (' +\n"
	"\t\t\t(p.command || 'evalmake') + ', ' + p.ran + ' ran, ' + p.errors + ' errors' +\n"
	"\t\t\t(p.partial ? ', part of the suite' : '') + ')'));\n"
	"\t\tg.appendChild(c);\n"
	"\t});\n"
	"\tg.appendChild(sv('text', {x: L, y: H - 4}, pts[0].time));\n"
	"\tg.appendChild(sv('text', {x: W - R, y: H - 4, 'text-anchor': 'end'}, pts[pts.length - 1].time));\n"
	"\treturn g;\n"
	"}\n"
	"\n"
	"function grid(s) {\n"
	"\tvar n = s.iterations || 1;\n"
	"\ts.tasks.forEach(function (t) { t.cells.forEach(function (c) { if (c.iteration > n) n = c.iteration; }); });\n"
	"\tvar table = el('table', {'class': 'grid'});\n"
	"\tvar hr = el('tr');\n"
	"\thr.appendChild(el('th', null, 'task'));\n"
	"\thr.appendChild(el('th', null, 'score'));\n"
	"\tfor (var k = 1; k <= n; k++) hr.appendChild(el('th', null, '#' + k));\n"
	"\ttable.appendChild(el('thead')).appendChild(hr);\n"
	"\tvar body = table.appendChild(el('tbody'));\n"
	"\tview(s.tasks).forEach(function (t) {\n"
	"\t\tvar tr = el('tr', {'data-task': t.id});\n"
	"\t\tvar th = tr.appendChild(el('th', {title: t.id + (t.flaky ? ': flaky, its iterations disagree on pass/fail' : '')}, t.id));\n"
	"\t\tif (t.flaky) th.appendChild(el('span', {'class': 'flaky'}, ' FLAKY'));\n"
	"\t\ttr.appendChild(el('td', t.score == null ? null : {'class': t.score >= 1 ? 'ok' : 'bad'}, fmt(t.score, 2)));\n"
	"\t\tvar byk = {};\n"
	"\t\tt.cells.forEach(function (c) { byk[c.iteration] = c; });\n"
	"\t\tfor (var k = 1; k <= n; k++) {\n"
	"\t\t\tvar td = tr.appendChild(el('td'));\n"
	"\t\t\tvar c = byk[k];\n"
	"\t\t\tif (!c) continue;\n"
	"\t\t\tvar id = s.name + '/' + t.id + '#' + k;\n"
	"\t\t\tcells[id] = {suite: s, task: t, cell: c};\n"
	"\t\t\tvar b = el('button', {'class': 'cell ' + (c.score != null ? 'scored' : c.status), 'data-cell': id,\n"
	"\t\t\t\ttitle: id + ': ' + (c.score != null ? fmt(c.score) : c.status)},\n"
	"\t\t\t\tc.score != null ? short(c.score) : c.status === 'error' ? '!' : '\\u00b7');\n"
	"\t\t\tif (c.score != null) b.style.background = colour(c.score);\n"
	"\t\t\tb.addEventListener('click', show.bind(null, id, true));\n"
	"\t\t\ttd.appendChild(b);\n"
	"\t\t}\n"
	"\t\tbody.appendChild(tr);\n"
	"\t});\n"
	"\treturn table;\n"
	"}\n"
	"\n"
	"function section(d, title, text) {\n"
	"\tif (text == null || text === '') return;\n"
	"\td.appendChild(el('h4', null, title));\n"
	"\td.appendChild(el('pre', {'data-part': title.toLowerCase()}, text));\n"
	"}\n"
	"\n"
	"function show(id, push) {\n"
	"\tvar x = cells[id];\n"
	"\tif (!x) return;\n"
	"\tselected = id;\n"
	"\tif (D.live && !x.cell.texts) return fetchcell(id, x, push);\n"
	"\tvar c = x.cell, d = document.getElementById('detail');\n"
	"\td.textContent = '';\n"
	"\td.appendChild(el('h3', null, id));\n"
	"\td.appendChild(el('p', {'class': 'muted'}, c.status + (c.score != null ? ', score ' + fmt(c.score) : '') +\n"
	"\t\t(c.seconds != null ? ', ' + fmt(c.seconds, 2) + ' s' : '') + (c.key ? ', run key ' + c.key : '')));\n"
	"\tsection(d, 'Expected', x.task.expected);\n"
	"\tsection(d, 'Grade', c.score != null ? fmt(c.score) + (c.reason ? '  ' + c.reason : '') : null);\n"
	"\tif (c.scores) section(d, 'Grades', Object.keys(c.scores).map(function (k) {\n"
	"\t\treturn k + ': ' + (c.scores[k] != null ? fmt(c.scores[k]) : '-') +\n"
	"\t\t\t(c.reasons && c.reasons[k] ? '  ' + c.reasons[k] : ''); }).join('\\n'));\n"
	"\tsection(d, 'Error', c.error);\n"
	"\tsection(d, 'Prompt', c.prompt);\n"
	"\tsection(d, 'Output', c.output);\n"
	"\tsection(d, 'Transcript', c.transcript);\n"
	"\tif (c.prompt == null && c.output == null && c.error == null)\n"
	"\t\td.appendChild(el('p', {'class': 'muted'}, 'Not run yet with its current inputs.'));\n"
	"\tvar sel = document.querySelectorAll('button.cell.sel');\n"
	"\tfor (var i = 0; i < sel.length; i++) sel[i].classList.remove('sel');\n"
	"\tvar b = document.querySelector('button.cell[data-cell=\"' + id.replace(/[\"\\\\]/g, '\\\\$&') + '\"]');\n"
	"\tif (b) b.classList.add('sel');\n"
	"\tif (push) try { history.replaceState(null, '', '#cell=' + encodeURIComponent(id)); } catch (e) {}\n"
	"}\n"
	"\n"
	"\n"
	"// filter and sort: the rows a grid shows\n"
	"var selected = null;\n"
	"var want = {filter: '', status: '', sort: 'id'};\n"
	"function has(t, st) { return t.cells.some(function (c) { return c.status === st; }); }\n"
	"function view(tasks) {\n"
	"\tvar f = want.filter.toLowerCase();\n"
	"\tvar v = tasks.filter(function (t) {\n"
	"\t\tif (f && String(t.id).toLowerCase().indexOf(f) < 0) return false;\n"
	"\t\tswitch (want.status) {\n"
	"\t\tcase 'failing': return t.score != null && t.score < 1;\n"
	"\t\tcase 'passing': return t.score != null && t.score >= 1;\n"
	"\t\tcase 'error': return has(t, 'error');\n"
	"\t\tcase 'pending': return has(t, 'pending');\n"
	"\t\t}\n"
	"\t\treturn true;\n"
	"\t});\n"
	"\tvar byid = function (a, b) { return String(a.id).localeCompare(String(b.id), undefined, {numeric: true}); };\n"
	"\tvar dir = want.sort === '-score' ? -1 : 1;\n"
	"\tv.sort(want.sort === 'id' ? byid : function (a, b) {\n"
	"\t\tif (a.score == null || b.score == null) return (a.score == null) - (b.score == null) || byid(a, b);\n"
	"\t\treturn dir * (a.score - b.score) || byid(a, b);\n"
	"\t});\n"
	"\treturn v;\n"
	"}\n"
	"// every cell, shown or filtered out, for show() and #cell= links\n"
	"function index() {\n"
	"\tD.suites.forEach(function (s) { s.tasks.forEach(function (t) { t.cells.forEach(function (c) {\n"
	"\t\tcells[s.name + '/' + t.id + '#' + c.iteration] = {suite: s, task: t, cell: c};\n"
	"\t}); }); });\n"
	"}\n"
	"// the controls; #filter=..&status=..&sort=.. in the address sets them too\n"
	"function tools() {\n"
	"\tvar q = /^#(?!cell=)(.*)$/.exec(location.hash);\n"
	"\t(q ? q[1].split('&') : []).forEach(function (kv) {\n"
	"\t\tvar i = kv.indexOf('=');\n"
	"\t\tvar k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1));\n"
	"\t\tif (i > 0 && k in want) want[k] = v;\n"
	"\t});\n"
	"\t['filter', 'status', 'sort'].forEach(function (k) {\n"
	"\t\tvar e = document.getElementById(k);\n"
	"\t\te.value = want[k];\n"
	"\t\te.addEventListener(k === 'filter' ? 'input' : 'change', function () {\n"
	"\t\t\twant[k] = e.value;\n"
	"\t\t\trender();\n"
	"\t\t\tif (selected) show(selected, false);\n"
	"\t\t});\n"
	"\t});\n"
	"}\n"
	"// the live page (watch --serve): texts fetched on a click, updates pushed\n"
	"function fetchcell(id, x, push) {\n"
	"\tfetch('cell?id=' + encodeURIComponent(id)).then(function (r) { return r.json(); }).then(function (t) {\n"
	"\t\tif (cells[id] !== x) return show(id, push); // an update came first: ask again\n"
	"\t\t['prompt', 'output', 'transcript', 'reason', 'error'].forEach(function (k) { if (t[k] != null) x.cell[k] = t[k]; });\n"
	"\t\tif (t.expected != null) x.task.expected = t.expected;\n"
	"\t\tx.cell.texts = true;\n"
	"\t\tshow(id, push);\n"
	"\t}, function () {});\n"
	"}\n"
	"function merge(u) {\n"
	"\tu.suites.forEach(function (us) {\n"
	"\t\tvar s = D.suites.filter(function (x) { return x.name === us.name; })[0];\n"
	"\t\tif (!s) return;\n"
	"\t\tvar byid = {};\n"
	"\t\ts.tasks.forEach(function (t, i) { byid[t.id] = i; });\n"
	"\t\tus.tasks.forEach(function (t) { if (t.id in byid) s.tasks[byid[t.id]] = t; else s.tasks.push(t); });\n"
	"\t\tfor (var k in us) if (k !== 'tasks') s[k] = us[k];\n"
	"\t});\n"
	"}\n"
	"function live() {\n"
	"\tif (!D.live || !window.EventSource) return;\n"
	"\tvar st = document.getElementById('live');\n"
	"\tvar es = new EventSource('events');\n"
	"\tes.onopen = function () { st.textContent = 'live'; };\n"
	"\tes.onerror = function () { st.textContent = 'disconnected: is evalmake watch still running?'; };\n"
	"\tes.onmessage = function (e) {\n"
	"\t\tvar u = JSON.parse(e.data);\n"
	"\t\tif (u.full) D = u; else merge(u);\n"
	"\t\trender();\n"
	"\t\tif (selected) show(selected, false);\n"
	"\t\tst.textContent = 'live, updated ' + new Date().toLocaleTimeString();\n"
	"\t};\n"
	"}\n"
	"function render() {\n"
	"var total = {tasks: 0, cells: 0};\n"
	"var root = document.getElementById('suites');\n"
	"root.textContent = '';\n"
	"cells = {};\n"
	"index();\n"
	"D.suites.forEach(function (s) {\n"
	"\tvar sec = el('section', {'class': 'suite', id: 'suite-' + s.name});\n"
	"\tsec.appendChild(el('h2', null, s.name));\n"
	"\tvar st = sec.appendChild(el('div', {'class': 'stats'}));\n"
	"\tvar cls = s.threshold != null && s.score != null ? (s.score >= s.threshold - 1e-9 ? 'ok' : 'bad') : null;\n"
	"\tst.appendChild(stat(fmt(s.score) + (s.stderr != null ? ' \\u00b1' + fmt(s.stderr) : s.score != null ? ' (stderr n/a)' : ''),\n"
	"\t\t'score' + (s.reduce ? ' (' + s.reduce + ')' : '') + (s.cluster ? ', stderr clustered by ' + s.cluster + ' (' + s.clusters + ' clusters)' : ''), cls));\n"
	"\tif (s.ci95) st.appendChild(stat('[' + fmt(s.ci95[0]) + ', ' + fmt(s.ci95[1]) + ']', '95% CI (Wilson)'));\n"
	"\tif (s.flaky) st.appendChild(stat(String(s.flaky), 'flaky tasks', 'bad'));\n"
	"\tif (s.threshold != null) st.appendChild(stat(String(s.threshold), 'threshold'));\n"
	"\tst.appendChild(stat(String(s.tasks_total), 'tasks'));\n"
	"\tst.appendChild(stat(String(s.cells_total), 'cells'));\n"
	"\tst.appendChild(stat(String(s.tasks.filter(function (t) { return t.score != null && t.score < 1; }).length), 'failing tasks'));\n"
	"\tst.appendChild(stat(String(s.errors), 'errors', s.errors ? 'bad' : null));\n"
	"\tif (s.pending) st.appendChild(stat(String(s.pending), 'pending'));\n"
	"\tif (s.scores) Object.keys(s.scores).forEach(function (k) { st.appendChild(stat(fmt(s.scores[k]), 'score by ' + k)); });\n"
	"\tif (s.usage) st.appendChild(stat(s.usage.input_tokens + ' / ' + s.usage.output_tokens, 'tokens in / out'));\n"
	"\tif (s.usage && s.usage.cost_usd != null) st.appendChild(stat('$' + s.usage.cost_usd.toFixed(4), 'cost'));\n"
	"\tsec.appendChild(plot(s));\n"
	"\tsec.appendChild(grid(s));\n"
	"\tvar shown = view(s.tasks).length;\n"
	"\tif (shown < s.tasks.length) sec.appendChild(el('p', {'class': 'muted shown'}, shown + ' of ' + s.tasks.length + ' tasks shown'));\n"
	"\troot.appendChild(sec);\n"
	"\ttotal.tasks += s.tasks_total;\n"
	"\ttotal.cells += s.cells_total;\n"
	"});\n"
	"document.getElementById('meta').textContent = D.evalfile + ' \\u00b7 generated ' + D.generated + ' \\u00b7 ' +\n"
	"\tD.suites.length + ' suites, ' + total.tasks + ' tasks, ' + total.cells + ' cells';\n"
	"document.title = 'evalmake report: ' + D.evalfile;\n"
	"}\n"
	"tools();\n"
	"render();\n"
	"var m = /^#cell=(.+)$/.exec(location.hash);\n"
	"if (m) show(decodeURIComponent(m[1]), false);\n"
	"live();\n"
	"})();\n"
	"</script>\n"
	"</body>\n"
	"</html>\n";

struct texts {
	size_t used;   /* bytes of text embedded so far */
	size_t cut;    /* texts left out once the budget was spent */
};

/* a part of a cell's entry (its run's, or when error its last error's)
 * as a JSON string, valid UTF-8, cut at FIELDCAP; NULL when there is no
 * such part */
static cJSON *filetext(struct texts *tx, struct plan *p, const struct cell *c, int error, const char *name)
{
	struct buf b = {0};
	size_t len;
	char *s = error ? errorpart(p->store, c->id, name, &len) : entrypart(p->store, c->runkey, name, &len);

	if (s && tx->used >= BUDGET) { /* the page holds enough */
		free(s);
		tx->cut++;
		return cJSON_CreateString("[evalmake: not embedded, the page holds enough text; evalmake log shows it]");
	}
	if (!s)
		return NULL;
	size_t n = len > FIELDCAP ? FIELDCAP : len;
	char *cut = utf8cut(s, n); /* stops at a NUL too: outputs are text */
	bufaddutf8(&b, cut, strlen(cut));
	if (len > n)
		bufaddf(&b, "\n[evalmake: %zu more bytes; evalmake log shows all]", len - n);
	tx->used += b.len;
	cJSON *j = cJSON_CreateString(b.s ? b.s : "");
	free(cut);
	free(s);
	buffree(&b);
	return j;
}

static void addtext(cJSON *o, const char *key, cJSON *v)
{
	if (v)
		cJSON_AddItemToObject(o, key, v);
}

static char *utf8str(const char *s)
{
	struct buf b = {0};

	bufaddutf8(&b, s, strlen(s));
	return bufdetach(&b);
}

/* the texts of one cell: its stored run, or the last failed attempt with
 * its current inputs */
static void celltexts(struct plan *p, struct cell *c, cJSON *co, struct texts *tx)
{
	int error = c->need == NEED_RUN;

	if (!error) {
		const struct graderec *g = findgrade(p->store, c->gradekey, 1);
		if (g && g->reason && g->reason[0]) {
			char *r = utf8str(g->reason);
			cJSON_AddStringToObject(co, "reason", r);
			free(r);
		}
		cJSON *rs = c->gradekeys ? cJSON_AddObjectToObject(co, "reasons") : NULL;
		for (size_t k = 0; rs && k < c->sp->suite->ngraders; k++) { /* several graders: each one's */
			const struct graderec *gk = findgrade(p->store, c->gradekeys[k], 1);
			if (gk && gk->reason && gk->reason[0]) {
				char *r = utf8str(gk->reason);
				cJSON_AddStringToObject(rs, suitegrader(c->sp->suite, k)->name, r);
				free(r);
			}
		}
	} else {
		char *m = errorpart(p->store, c->id, "meta.json", NULL);
		cJSON *meta = m ? cJSON_Parse(m) : NULL;
		const cJSON *rk = cJSON_GetObjectItemCaseSensitive(meta, "run_key");
		const cJSON *er = cJSON_GetObjectItemCaseSensitive(meta, "error");
		hash k;
		int current = cJSON_IsString(rk) && hashparse(rk->valuestring, &k) == 0 && hasheq(k, c->runkey);
		if (current) {
			/* its last attempt failed with these very inputs */
			char *e = utf8str(cJSON_IsString(er) ? er->valuestring : "the last attempt failed");
			cJSON_ReplaceItemInObject(co, "status", cJSON_CreateString("error"));
			cJSON_AddStringToObject(co, "error", e);
			free(e);
		}
		cJSON_Delete(meta);
		free(m);
		if (!current)
			return;
	}
	addtext(co, "prompt", filetext(tx, p, c, error, "prompt"));
	addtext(co, "output", filetext(tx, p, c, error, "output"));
	addtext(co, "transcript", filetext(tx, p, c, error, "transcript"));
}

static char *expectedtext(struct task *t)
{
	char *err = NULL;
	struct buf b = {0}, u = {0};

	if (loadtask(t, &err) < 0) {
		free(err);
		return NULL;
	}
	if (!t->expected.n)
		return NULL;
	for (size_t i = 0; i < t->expected.n; i++)
		bufaddf(&b, "%s%s", i ? "\n" : "", t->expected.v[i]);
	bufaddutf8(&u, b.s, b.len);
	buffree(&b);
	return bufdetach(&u);
}

/* the page's data: the JSON report with texts, and the history */
static char *pagedata(const char *evalfile, const char *cache, struct plan *p, struct suitesum *sum, struct texts *tx)
{
	char *rep = jsonreport(p, sum, NULL);
	cJSON *r = cJSON_Parse(rep);
	struct htab *tasks = mkhtab(p->ncells + 1);
	char when[32];
	time_t now = time(NULL);
	struct tm tm;

	free(rep);
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	char *ef = utf8str(evalfile);
	cJSON_AddStringToObject(r, "evalfile", ef);
	free(ef);
	cJSON_AddStringToObject(r, "generated", when);
	/* index the report's task objects by suite and task */
	cJSON *suites = cJSON_GetObjectItemCaseSensitive(r, "suites"), *so;
	size_t si = 0;
	cJSON_ArrayForEach(so, suites) {
		struct suiteplan *sp = &p->sp[si];
		cJSON_AddNumberToObject(so, "iterations", sp->iterations);
		cJSON_AddNumberToObject(so, "pending", (double)sum[si].pending);
		cJSON *to;
		cJSON_ArrayForEach(to, cJSON_GetObjectItemCaseSensitive(so, "tasks")) {
			const char *id = cJSON_GetObjectItemCaseSensitive(to, "id")->valuestring;
			char *key = xasprintf("%zu/%s", si, id);
			htabput(tasks, key, strlen(key), to);
			free(key);
		}
		si++;
	}
	for (size_t i = 0; i < p->ncells; i++) {
		struct cell *c = &p->cells[i];
		char *key = xasprintf("%zu/%s", (size_t)(c->sp - p->sp), c->task->id);
		cJSON *to = htabget(tasks, key, strlen(key));
		free(key);
		if (!to || !tx)
			continue; /* the live page asks for a cell's texts on a click */
		if (!cJSON_GetObjectItemCaseSensitive(to, "expected")) {
			char *e = expectedtext(c->task);
			cJSON_AddItemToObject(to, "expected", e ? cJSON_CreateString(e) : cJSON_CreateNull());
			free(e);
		}
		cJSON *co, *cells = cJSON_GetObjectItemCaseSensitive(to, "cells");
		cJSON_ArrayForEach(co, cells) {
			const cJSON *k = cJSON_GetObjectItemCaseSensitive(co, "iteration");
			if (cJSON_IsNumber(k) && (int)k->valuedouble == c->iteration) {
				celltexts(p, c, co, tx);
				break;
			}
		}
	}
	htabfree(tasks, NULL);
	/* the history of the suites on the page */
	if (!tx)
		cJSON_AddTrueToObject(r, "live");
	cJSON *hist = readhistory(cache), *keep = cJSON_CreateArray(), *h;
	cJSON_ArrayForEach(h, hist) {
		const char *name = cJSON_GetObjectItemCaseSensitive(h, "suite")->valuestring;
		for (size_t i = 0; i < p->nsp; i++)
			if (!strcmp(p->sp[i].suite->name, name)) {
				cJSON_AddItemReferenceToArray(keep, h);
				break;
			}
	}
	cJSON_AddItemToObject(r, "history", keep);
	cleanjson(r); /* valid UTF-8 (ids, expected answers, reasons), no key */
	char *s = cJSON_PrintUnformatted(r);
	cJSON_Delete(r);
	cJSON_Delete(hist);
	char *ret = xstrdup(s);
	cJSON_free(s);
	return ret;
}

int cmdreport(struct opts *o)
{
	struct project pr = {0};
	struct texts tx = {0};
	struct buf page = {0};
	int rc = 0;

	if (!o->html)
		die("report: expected --html FILE");
	char *cwd = getcwd(NULL, 0);
	if (!cwd)
		die("getcwd:");
	char *out = absfrom(cwd, o->html);
	free(cwd);
	openproject(o, &pr);
	struct planopts po = {.targets = o->args, .ntargets = o->nargs, .iterations = o->iterations, .sample = o->sample};
	struct plan *p = planor2(&pr, &po);
	struct suitesum *sum = summarize(p);
	char *data = pagedata(pr.ef->path, pr.cache, p, sum, &tx);
	bufadds(&page, pagehead);
	bufaddscriptjson(&page, data);
	bufadds(&page, pagetail);
	free(data);
	if (!strcmp(out, "-") ? fputs(page.s, stdout) < 0 : writefile(out, page.s, page.len) < 0) {
		warn("cannot write %s:", out);
		rc = EXIT_GATE;
	} else if (!o->silent && strcmp(out, "-")) {
		size_t tasks = 0;
		for (size_t i = 0; i < p->nsp; i++)
			tasks += sum[i].tasks;
		printf("wrote %s: %zu suite%s, %zu task%s, %zu cell%s%s\n", o->html, p->nsp, p->nsp == 1 ? "" : "s", tasks,
		       tasks == 1 ? "" : "s", p->ncells, p->ncells == 1 ? "" : "s", tx.cut ? " (some texts left out: the page holds enough)" : "");
	}
	buffree(&page);
	savestate(pr.st);
	freesummary(p, sum);
	freeplan(p);
	closeproject(&pr);
	free(out);
	return rc;
}

/* the live view's parts: the same page and data, with the texts left out */

char *htmldata(struct plan *p, const char *evalfile, const char *cache)
{
	struct suitesum *sum = summarize(p);
	char *data = pagedata(evalfile, cache, p, sum, NULL);

	freesummary(p, sum);
	return data;
}

char *htmlpage(struct plan *p, const char *evalfile, const char *cache)
{
	struct buf page = {0};
	char *data = htmldata(p, evalfile, cache);

	bufadds(&page, pagehead);
	bufaddscriptjson(&page, data);
	bufadds(&page, pagetail);
	free(data);
	return bufdetach(&page);
}

char *htmlcell(struct plan *p, struct cell *c)
{
	struct texts tx = {0};
	cJSON *co = cJSON_CreateObject();

	cJSON_AddStringToObject(co, "status", c->need == NEED_RUN ? "pending" : "scored");
	celltexts(p, c, co, &tx);
	char *e = expectedtext(c->task);
	cJSON_AddItemToObject(co, "expected", e ? cJSON_CreateString(e) : cJSON_CreateNull());
	free(e);
	cleanjson(co);
	char *s = cJSON_PrintUnformatted(co), *ret = xstrdup(s);
	cJSON_free(s);
	cJSON_Delete(co);
	return ret;
}
