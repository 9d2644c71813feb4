// The counter's page: every button is a command to the guest, and the count
// shown is only ever the one the guest answered ({"count":N}).
const countEl = document.getElementById("count");
const statusEl = document.getElementById("status");

function status(text, error = false) {
  statusEl.textContent = text;
  statusEl.classList.toggle("error", error);
}

// The bridge may be installed after the page loads (spec §5): look again until it is there.
(function waitForBridge() {
  if (!window.weftIpc) return setTimeout(waitForBridge, 50);
  const ipc = window.weftIpc;
  ipc.onmessage = (payload) => {
    let msg;
    try {
      msg = JSON.parse(payload);
    } catch {
      return status(`unexpected answer: ${payload}`, true);
    }
    if (typeof msg.count === "number") {
      countEl.textContent = String(msg.count);
      countEl.dataset.count = String(msg.count);
      status("");
    } else if (msg.error) status(msg.error, true);
  };
  ipc.onended = (info) => status(`The app has ended${info && info.reason ? ` (${info.reason})` : ""}.`, true);
  for (const cmd of ["increment", "decrement", "reset"]) document.getElementById(cmd).onclick = () => ipc.send(cmd);
  ipc.send("get");
})();
