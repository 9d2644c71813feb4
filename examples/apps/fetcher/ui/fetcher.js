// The fetcher page: forms become `fetch:<url>` and `notify:<text>` commands;
// results (or the host's error string, shown as is) come back from the guest.
const statusEl = document.getElementById("status");
const result = document.getElementById("result");
const status = (t, error = false) => {
  statusEl.textContent = t;
  statusEl.classList.toggle("error", error);
};

(function waitForBridge() {
  if (!window.weftIpc) return setTimeout(waitForBridge, 50);
  const ipc = window.weftIpc;
  status("Ready.");
  ipc.onmessage = (payload) => {
    const msg = JSON.parse(payload);
    if (msg.error) {
      status(msg.error, true);
      result.textContent = "";
    } else if (typeof msg.status === "number") {
      status(`HTTP ${msg.status}, ${msg.content_type || "no content type"}, ${msg.length} bytes` + (msg.notify_error ? ` (notification failed: ${msg.notify_error})` : ""), !!msg.notify_error);
      result.textContent = msg.text;
    } else if (msg.notified) status("Notification sent.");
    document.body.dataset.answers = String(Number(document.body.dataset.answers || 0) + 1);
  };
  ipc.onended = (info) => status(`The app has ended (${info.reason}).`, true);
  document.getElementById("fetch-form").onsubmit = (e) => {
    e.preventDefault();
    status("Fetching…");
    ipc.send(`fetch:${document.getElementById("url").value}`);
  };
  document.getElementById("notify-form").onsubmit = (e) => {
    e.preventDefault();
    status("Sending…");
    ipc.send(`notify:${document.getElementById("note").value}`);
  };
})();
