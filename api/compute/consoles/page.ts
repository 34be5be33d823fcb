/**
 * The console page (/vnc_lite.html, /vnc.html): noVNC's RFB client from the
 * npm package @novnc/novnc (its core/ and vendor/ are served beside the
 * page), connected to the WebSocket the `path` query names, as Nova's
 * novncproxy_base_url pages take it (`?path=%3Ftoken%3D…`).
 */
export const CONSOLE_PAGE = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Nubo console (noVNC)</title>
<style>
  html, body { margin: 0; height: 100%; background: #1e1e1e; color: #ddd; font: 14px system-ui, sans-serif; }
  #bar { display: flex; gap: 12px; align-items: center; padding: 4px 10px; background: #333; }
  #screen { position: absolute; top: 30px; bottom: 0; left: 0; right: 0; }
  button { font: inherit; }
</style>
</head>
<body>
<div id="bar"><span id="status">Connecting…</span><button id="cad" type="button" disabled>Send Ctrl-Alt-Del</button></div>
<div id="screen"></div>
<script type="module">
import RFB from './core/rfb.js';
const query = new URLSearchParams(location.search);
const path = query.get('path') ?? '?token=' + encodeURIComponent(query.get('token') ?? '');
const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/' + path.replace(/^\\//, '');
const status = document.getElementById('status');
const cad = document.getElementById('cad');
const rfb = new RFB(document.getElementById('screen'), url, { wsProtocols: ['binary'] });
rfb.scaleViewport = true;
rfb.addEventListener('connect', () => { status.textContent = 'Connected'; cad.disabled = false; });
rfb.addEventListener('disconnect', (e) => { status.textContent = e.detail.clean ? 'Disconnected' : 'Connection lost'; cad.disabled = true; });
rfb.addEventListener('credentialsrequired', () => rfb.sendCredentials({ password: window.prompt('VNC password') ?? '' }));
rfb.addEventListener('desktopname', (e) => { document.title = e.detail.name + ' – Nubo console (noVNC)'; });
cad.addEventListener('click', () => rfb.sendCtrlAltDel());
</script>
</body>
</html>
`;
