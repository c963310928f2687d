/**
 * The demo's one stylesheet, served at `/style.css`. Long values (DIDs,
 * user agents, tokens, hostile input) wrap instead of widening the page.
 *
 * @module
 */

/** The stylesheet, served at `/style.css`. */
export const STYLESHEET: string = `
:root {
  color-scheme: light;
  --bg: #f5f6f8; --card: #fff; --text: #15181d; --muted: #5d6470;
  --border: #e2e5ea; --accent: #1172e8; --accent-hover: #0b5fc6;
  --danger: #c4320a; --ok: #067647;
}
* { box-sizing: border-box; }
body {
  margin: 0; background: var(--bg); color: var(--text);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, Ubuntu, sans-serif;
}
a { color: var(--accent); }
.top { background: var(--card); border-bottom: 1px solid var(--border); }
.top .inner, main, footer { max-width: 960px; margin: 0 auto; padding: 0 24px; }
.top .inner { display: flex; align-items: center; gap: 16px; min-height: 60px; }
.brand { display: flex; align-items: center; gap: 10px; font-weight: 650; color: var(--text); text-decoration: none; white-space: nowrap; }
.logo { width: 24px; height: 24px; border-radius: 7px; background: linear-gradient(135deg, #1185fe, #7b5cff); }
nav { display: flex; gap: 2px; white-space: nowrap; }
nav a { color: var(--muted); text-decoration: none; padding: 6px 10px; border-radius: 8px; }
nav a:hover { color: var(--text); background: #f0f2f5; }
nav a[aria-current="page"] { color: var(--text); background: #eaeef3; font-weight: 550; }
.who { color: var(--muted); font-size: .9rem; margin-left: auto; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
main { margin-top: 32px; margin-bottom: 24px; }
.card {
  background: var(--card); border: 1px solid var(--border); border-radius: 14px;
  padding: 24px 28px; margin-bottom: 20px; box-shadow: 0 1px 2px rgba(16, 24, 40, .04);
}
h1 { font-size: 1.55rem; line-height: 1.25; margin: 0 0 6px; letter-spacing: -.01em; }
h2 { font-size: 1.08rem; margin: 0 0 12px; }
p { margin: 0 0 12px; }
.lead { color: var(--muted); margin-bottom: 18px; }
.muted { color: var(--muted); }
small { font-size: .82rem; }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
code { font-size: .88em; background: #f0f2f5; padding: 1px 6px; border-radius: 5px; overflow-wrap: anywhere; }
pre {
  background: #101828; color: #e4e7ec; padding: 14px 16px; border-radius: 10px; margin: 0 0 14px;
  font-size: .82rem; line-height: 1.5; white-space: pre-wrap; word-break: break-all;
}
dl.facts { display: grid; grid-template-columns: 150px 1fr; gap: 10px 16px; margin: 0 0 4px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
label { display: block; font-weight: 600; margin-bottom: 6px; }
input[type="text"] {
  font: inherit; width: 100%; padding: 10px 12px; border: 1px solid #cfd4dc; border-radius: 9px;
  margin-bottom: 14px; background: #fff;
}
input[type="text"]:focus { outline: 3px solid rgba(17, 114, 232, .2); border-color: var(--accent); }
button {
  font: inherit; font-weight: 600; font-size: .95rem; cursor: pointer; border-radius: 9px;
  padding: 8px 16px; border: 1px solid var(--accent); background: var(--accent); color: #fff;
  white-space: nowrap;
}
button:hover { background: var(--accent-hover); }
button.secondary { background: var(--card); color: var(--text); border-color: #cfd4dc; }
button.secondary:hover { background: #f0f2f5; }
button.danger { background: var(--card); color: var(--danger); border-color: #f4c7b8; }
button.danger:hover { background: #fff4ef; }
button.small { padding: 4px 12px; font-size: .85rem; }
form.inline { display: inline; margin: 0; }
.actions { display: flex; gap: 10px; flex-wrap: wrap; align-items: center; margin-top: 8px; }
.notice { border: 1px solid; border-radius: 10px; padding: 12px 16px; margin-bottom: 20px; }
.notice.error { background: #fef3f2; border-color: #fecdca; color: #912018; }
.notice.info { background: #eff8ff; border-color: #b2ddff; color: #194185; }
.notice.success { background: #ecfdf3; border-color: #abefc6; color: #05603a; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: 12px 8px; border-bottom: 1px solid var(--border); vertical-align: top; }
tr:last-child td { border-bottom: 0; }
th { font-size: .74rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 650; }
td.device strong { display: block; }
td.device small { display: block; color: var(--muted); max-width: 300px; overflow-wrap: anywhere; }
.badge {
  display: inline-block; font-size: .72rem; font-weight: 650; padding: 1px 8px; margin-left: 6px;
  border-radius: 999px; background: #ecfdf3; color: var(--ok); border: 1px solid #abefc6; vertical-align: 1px;
}
ul.steps { margin: 0; padding-left: 20px; }
ul.steps li { margin-bottom: 6px; }
footer { color: var(--muted); font-size: .85rem; margin-bottom: 40px; }
@media (max-width: 760px) {
  .top .inner { flex-wrap: wrap; padding-top: 10px; padding-bottom: 10px; }
  nav { order: 3; flex-basis: 100%; overflow-x: auto; }
  dl.facts { grid-template-columns: 1fr; gap: 2px; }
  dl.facts dd { margin-bottom: 10px; }
  table, thead, tbody, tr, th, td { display: block; }
  thead { display: none; }
  td { border: 0; padding: 4px 0; }
  td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-family: system-ui, sans-serif; }
  tr { border-bottom: 1px solid var(--border); padding: 10px 0; }
}
.kind {
  display: inline-block; font-size: .72rem; font-weight: 650; padding: 1px 8px; margin-right: 6px;
  border-radius: 999px; background: #eef4ff; color: #1849a9; border: 1px solid #c7d7fe; vertical-align: 1px;
}
.kind.token { background: #fdf2fa; color: #9e165f; border-color: #fcceee; }
.creds { display: grid; grid-template-columns: 110px 1fr; gap: 6px 14px; margin: 0 0 12px; }
.creds dt { color: var(--muted); }
.creds dd { margin: 0; font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
.notice, h1, h2, p, li, td, dd { overflow-wrap: anywhere; }
main { min-width: 0; }
a.applink { display: inline-block; margin: 4px 0 14px; font-weight: 600; overflow-wrap: anywhere; }
`;
