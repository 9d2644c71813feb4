// The fetcher app's guest: a WASI 0.2 component (C) using weft:app/fetch and
// weft:app/notifications. Commands from its UI over weft:app/ipc:
//   fetch:<url>    -> GET it; {"status":N,"content_type":"…","length":N,"text":"<first 4 KiB>"}
//                     and a notification "Fetched <url>" (its error, if any, as "notify_error")
//   notify:<text>  -> a notification titled "Fetcher" with <text> as body; {"notified":true}
// Any failure is answered {"error":"<the host's message>"} — e.g. a domain
// the app's capabilities do not allow, or a weft without these interfaces.
#define WEFT_APP_IMPLEMENTATION
#include "weft_app.h"
#include <stdio.h>
#include <unistd.h>

#define SHOWN 4096

static void reply(const char *json) {
  weft_str_result r = weft_ipc_send(json);
  if (!r.ok) fprintf(stderr, "fetcher: ipc.send failed: %s\n", r.text ? r.text : "?");
  free(r.text);
}

/** {"<key>":"<text>"} */
static void reply_str(const char *key, const char *text) {
  static char out[SHOWN * 6 + 256];
  int n = snprintf(out, sizeof out, "{\"%s\":", key);
  long len = weft_json_string(out, (size_t)n, sizeof out - 2, text, strlen(text));
  if (len < 0) return reply("{\"error\":\"message too long\"}");
  strcpy(out + len, "}");
  reply(out);
}

static void do_fetch(const char *url) {
  static char out[SHOWN * 6 + 1024];
  weft_fetch_result r = weft_fetch(url, "GET");
  if (!r.ok) {
    reply_str("error", r.error ? r.error : "fetch failed");
    free(r.error);
    return;
  }
  char title[300];
  snprintf(title, sizeof title, "Fetched %.200s", url);
  char body[128];
  snprintf(body, sizeof body, "HTTP %u, %zu bytes", r.status, r.body_len);
  weft_str_result n = weft_notify(title, body, NULL);

  size_t len = (size_t)snprintf(out, sizeof out, "{\"status\":%u,\"length\":%zu,\"content_type\":", r.status, r.body_len);
  long l = weft_json_string(out, len, sizeof out, r.content_type, strlen(r.content_type));
  l = l < 0 ? -1 : (long)(len = (size_t)l + (size_t)snprintf(out + l, sizeof out - (size_t)l, ",\"text\":"));
  if (l >= 0) l = weft_json_string(out, len, sizeof out, (const char *)r.body, r.body_len < SHOWN ? r.body_len : SHOWN);
  if (l >= 0 && !n.ok) {
    len = (size_t)l + (size_t)snprintf(out + l, sizeof out - (size_t)l, ",\"notify_error\":");
    l = weft_json_string(out, len, sizeof out, n.text ? n.text : "?", n.text ? strlen(n.text) : 1);
  }
  if (l < 0 || (size_t)l + 2 > sizeof out) reply("{\"error\":\"response too large to show\"}");
  else {
    strcpy(out + l, "}");
    reply(out);
  }
  free(n.text);
  free(r.content_type);
  free(r.body);
}

static void do_notify(const char *text) {
  weft_str_result n = weft_notify("Fetcher", text, NULL);
  if (n.ok) reply("{\"notified\":true}");
  else reply_str("error", n.text ? n.text : "notify failed");
  free(n.text);
}

int main(void) {
  weft_notify_ready();
  for (;;) {
    weft_str_result m = weft_ipc_recv();
    if (!m.ok) {
      usleep(10000); // ipc.recv does not block: poll every 10 ms
      continue;
    }
    if (!strncmp(m.text, "fetch:", 6)) do_fetch(m.text + 6);
    else if (!strncmp(m.text, "notify:", 7)) do_notify(m.text + 7);
    else reply("{\"error\":\"unknown command (expected fetch:<url> or notify:<text>)\"}");
    free(m.text);
  }
}
