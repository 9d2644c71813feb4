// The counter app's guest: a WASI 0.2 component (C, wrapped by
// scripts/build-examples.sh). It tells weft it is ready through
// weft:app/notify, then answers its UI's messages through weft:app/ipc:
//   increment | decrement | reset | get   ->   {"count":N}
// Anything else is answered {"error":"unknown command"}.
#define WEFT_APP_IMPLEMENTATION
#include "weft_app.h"
#include <stdio.h>
#include <unistd.h>

static long count = 0;

static void reply(const char *json) {
  weft_str_result r = weft_ipc_send(json);
  if (!r.ok) {
    fprintf(stderr, "counter: ipc.send failed: %s\n", r.text ? r.text : "?");
    free(r.text);
  }
}

int main(void) {
  weft_notify_ready();
  for (;;) {
    weft_str_result m = weft_ipc_recv();
    if (!m.ok) {
      usleep(10000); // ipc.recv does not block: poll every 10 ms, idle in between
      continue;
    }
    char out[160];
    if (!strcmp(m.text, "increment")) count++;
    else if (!strcmp(m.text, "decrement")) count--;
    else if (!strcmp(m.text, "reset")) count = 0;
    if (!strcmp(m.text, "increment") || !strcmp(m.text, "decrement") || !strcmp(m.text, "reset") || !strcmp(m.text, "get"))
      snprintf(out, sizeof out, "{\"count\":%ld}", count);
    else
      snprintf(out, sizeof out, "{\"error\":\"unknown command\"}");
    reply(out);
    free(m.text);
  }
}
